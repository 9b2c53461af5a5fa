//! Helpers shared by the dashboard's tests: a database with a watched table, a writer that
//! makes splits, a raw HTTP GET, and WebSocket clients that read JSON messages.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redwood::Database;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The table the tests watch.
pub const TABLE: &str = "t";

/// The longest any test waits for something that should happen within a second: a bound
/// against hangs, not a timing.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Inserts `count` keys (from `first`) into the watched table in one commit; 100-byte values
/// make a leaf split about every 35 keys.
pub fn fill(db: &Database, first: u32, count: u32) {
    let write = db.begin_write().unwrap();
    let mut table = write.open_table(TABLE).unwrap();
    for i in first..first + count {
        table.insert(i.to_be_bytes(), [i as u8; 100]).unwrap();
    }
    drop(table);
    write.commit().unwrap();
}

/// `GET path` on `addr` with extra header lines; returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
    (status, body)
}

/// A connected WebSocket client.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `/ws{query}` on `addr` with an optional `Origin`; the HTTP status on refusal.
pub async fn connect(addr: SocketAddr, query: &str, origin: Option<&str>) -> Result<Socket, u16> {
    let mut request = format!("ws://{addr}/ws{query}").into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("connecting to the dashboard failed: {other}"),
    }
}

/// The next JSON message of type `kind`, skipping others; panics after [`PATIENCE`].
pub async fn next_of(socket: &mut Socket, kind: &str) -> serde_json::Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, socket.next()).await;
        let frame = frame.unwrap_or_else(|_| panic!("no {kind} message within {PATIENCE:?}"));
        let Some(Ok(Message::Text(text))) = frame else { panic!("the stream ended: {frame:?}") };
        let message: serde_json::Value = serde_json::from_str(&text).unwrap();
        if message["type"] == kind {
            return message;
        }
    }
}
