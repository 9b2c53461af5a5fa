//! One WebSocket client: a `hello`, the latest `shape` message if there is one, then, each
//! time the sampler publishes, the snapshot and at most one `events` message (up to
//! `events_per_message_max` tree events; a backlog past the broadcast channel's bound is
//! dropped and counted), and each new `shape` message as the sampler publishes it (at most one
//! per shape interval). What the client sends is read and ignored (the dashboard is
//! read-only); a client that does not take a message within the send timeout is disconnected,
//! so a stuck one holds no slot for long.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::http::{limited, origin_allowed, refuse};
use crate::server::Shared;

/// The shortest time a client is given to take one message.
const SEND_TIMEOUT_MIN: Duration = Duration::from_secs(5);

/// `GET /ws`: checks the origin (403) and the number of clients (503), then upgrades.
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers) {
        return refuse(StatusCode::FORBIDDEN, "cross-origin WebSocket upgrades are refused\n");
    }
    let Some(slot) = ClientSlot::take(&shared) else {
        shared.counters.clients_refused.fetch_add(1, Ordering::Relaxed);
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many dashboard clients\n");
    };
    limited(upgrade).on_upgrade(move |socket| Client::new(shared, slot).run(socket))
}

/// A place among the `clients_max` clients, given back on drop.
struct ClientSlot(Arc<Shared>);

impl ClientSlot {
    fn take(shared: &Arc<Shared>) -> Option<ClientSlot> {
        let open = &shared.counters.clients_open;
        let max = shared.clients_max as u64;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| ClientSlot(Arc::clone(shared)))
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.counters.clients_open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a client's loop ended.
enum End {
    /// The client closed, or the connection failed.
    Gone,
    /// A message was not taken within the send timeout.
    TooSlow,
}

struct Client {
    shared: Arc<Shared>,
    _slot: ClientSlot,
    events: broadcast::Receiver<Arc<str>>,
    /// Events this client missed because it fell behind.
    dropped: u64,
    send_timeout: Duration,
}

impl Client {
    fn new(shared: Arc<Shared>, slot: ClientSlot) -> Client {
        let events = shared.events.subscribe();
        let send_timeout = SEND_TIMEOUT_MIN.max(shared.snapshot_interval * 8);
        Client { shared, _slot: slot, events, dropped: 0, send_timeout }
    }

    async fn run(mut self, mut socket: WebSocket) {
        if let Err(End::TooSlow) = self.serve(&mut socket).await {
            self.shared.counters.clients_too_slow.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn serve(&mut self, socket: &mut WebSocket) -> Result<(), End> {
        let hello = serde_json::json!({
            "type": "hello",
            "table": self.shared.table,
            "snapshot_interval_ms": self.shared.snapshot_interval.as_millis() as u64,
            "events_per_message_max": self.shared.events_per_message_max,
            "shape_table": self.shared.shape_table,
            "shape_interval_ms": self.shared.shape_interval.as_millis() as u64,
            "shape_limits": {
                "levels_max": self.shared.shape_limits.levels_max,
                "nodes_per_level_max": self.shared.shape_limits.nodes_per_level_max,
            },
        });
        self.send(socket, hello.to_string().into()).await?;
        let mut snapshots = self.shared.snapshots.subscribe();
        // A new client gets the latest shape at once, not at the next change.
        let mut shapes = self.shared.shapes.subscribe();
        let latest = shapes.borrow_and_update().clone();
        if let Some(text) = latest {
            self.send(socket, text).await?;
        }
        loop {
            tokio::select! {
                changed = shapes.changed() => {
                    changed.map_err(|_| End::Gone)?;
                    let newest = shapes.borrow_and_update().clone();
                    if let Some(text) = newest {
                        self.send(socket, text).await?;
                    }
                }
                changed = snapshots.changed() => {
                    changed.map_err(|_| End::Gone)?;
                    let newest = snapshots.borrow_and_update().clone();
                    if let Some(text) = newest {
                        self.send(socket, text).await?;
                    }
                    if let Some(text) = self.events_message() {
                        self.send(socket, text.into()).await?;
                    }
                }
                incoming = socket.recv() => match incoming {
                    // Read-only: whatever a client says changes nothing.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(End::Gone),
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    async fn send(&self, socket: &mut WebSocket, text: Utf8Bytes) -> Result<(), End> {
        match tokio::time::timeout(self.send_timeout, socket.send(Message::Text(text))).await {
            Ok(Ok(())) => {
                self.shared.counters.messages_sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::TooSlow),
        }
    }

    /// The events waiting for this client, up to the bound, as one message (`None` if none
    /// wait and none were dropped since the last one).
    fn events_message(&mut self) -> Option<String> {
        let mut texts: Vec<Arc<str>> = Vec::new();
        let dropped_before = self.dropped;
        while texts.len() < self.shared.events_per_message_max {
            match self.events.try_recv() {
                Ok(text) => texts.push(text),
                Err(TryRecvError::Lagged(missed)) => {
                    self.dropped += missed;
                    self.shared
                        .counters
                        .events_dropped_by_clients
                        .fetch_add(missed, Ordering::Relaxed);
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if texts.is_empty() && self.dropped == dropped_before {
            return None;
        }
        let mut message =
            String::with_capacity(64 + texts.iter().map(|t| t.len() + 1).sum::<usize>());
        message.push_str(r#"{"type":"events","dropped":"#);
        message.push_str(&self.dropped.to_string());
        message.push_str(r#","events":["#);
        for (index, text) in texts.iter().enumerate() {
            if index > 0 {
                message.push(',');
            }
            message.push_str(text);
        }
        message.push_str("]}");
        Some(message)
    }
}
