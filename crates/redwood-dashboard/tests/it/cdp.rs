//! A minimal Chrome DevTools Protocol client for the browser test: launches headless Chromium
//! with `--remote-debugging-port=0`, reads the browser's WebSocket address from its standard
//! error ("DevTools listening on ws://..."), opens a page target and attaches to it (a flat
//! session), and sends `Runtime.evaluate` and `Page.captureScreenshot` over that one socket.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{PATIENCE, Socket};

/// Where the Debian `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium and one attached page. Killed when dropped.
pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium, or `None` if it is not installed and this is not CI (where a missing
    /// browser fails the test: `.ci/run` installs it).
    pub async fn launch() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() {
            let in_ci =
                std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false");
            assert!(!in_ci, "{CHROMIUM} is missing in CI: .ci/run installs the chromium package");
            eprintln!(
                "\n*** SKIPPED: {CHROMIUM} not found; install it with \
                 `apt-get install -y --no-install-recommends chromium` to run the browser test ***\n"
            );
            return None;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,1100",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start chromium");
        let url = devtools_url(&mut child);
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        Some(Browser { child, socket, next_id: 0, session: None, _profile: profile })
    }

    /// Sends one command (to the attached page, once there is one) and returns its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            command["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(command.to_string())).await.unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.socket.next()).await;
            let frame = frame.unwrap_or_else(|_| panic!("no answer to {method}"));
            let Some(Ok(Message::Text(text))) = frame else { panic!("DevTools closed: {frame:?}") };
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
        }
    }

    /// Opens `url` in a new page and attaches to it.
    pub async fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({ "url": url })).await;
        let target_id = target["targetId"].clone();
        let attached = self
            .call("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }))
            .await;
        self.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
        self.call("Runtime.enable", json!({})).await;
    }

    /// The value of a JavaScript expression in the page.
    pub async fn evaluate(&mut self, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true });
        let result = self.call("Runtime.evaluate", params).await;
        assert!(result.get("exceptionDetails").is_none(), "{expression} threw: {result}");
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` every 50 ms until it is true (an exception, as while the page
    /// is still loading, counts as false); panics with `what` after [`PATIENCE`] (a bound
    /// against hangs: the page updates several times a second).
    pub async fn wait_for(&mut self, expression: &str, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        let guarded = format!(
            "(() => {{ try {{ return ({expression}); }} catch (_) {{ return false; }} }})()"
        );
        while self.evaluate(&guarded).await != json!(true) {
            assert!(Instant::now() < deadline, "the page never showed {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the page at `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" })).await;
        let png = decode_base64(shot["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }
}

/// Reads Chromium's standard error until it names its DevTools WebSocket, then keeps draining
/// it on a thread (a full pipe would stall the browser).
fn devtools_url(child: &mut Child) -> String {
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("ws://") {
                let _ = sender.send(line[at..].trim().to_owned());
            }
        }
    });
    receiver.recv_timeout(PATIENCE).expect("chromium never printed its DevTools address")
}

/// Standard base64 (what `Page.captureScreenshot` returns), decoded.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let bits = chunk.iter().fold(0u32, |bits, &c| (bits << 6) | u32::from(value(c)));
        let bits = bits << (6 * (4 - chunk.len()));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(decode_base64("aGVsbG8="), b"hello");
    assert_eq!(decode_base64("aGk="), b"hi");
    assert_eq!(decode_base64("YWJj"), b"abc");
}
