//! The running dashboard: its one-worker Tokio runtime, the sampler task (one snapshot per
//! interval, published to every client through a `watch` channel; the tree events drained
//! from the observer's channel into a `broadcast` one; and, at most once per shape interval
//! after a change, the visualized table's shape, published through a second `watch` channel),
//! and [`DashboardHandle`], which stops it. Both the snapshot and the shape walk run off the
//! worker thread (`spawn_blocking`): they may wait for the pager's locks or read pages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use redwood::telemetry::DiagnosticsSource;
use redwood::{ShapeLimits, ShapeSource};
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::sync::{broadcast, watch};

use crate::error::{Error, Result};
use crate::events::{EventCounts, TreeEvents, record_json, unix_ms};
use crate::shape::{ShapeSchedule, Walked, shape_body, shape_message};
use crate::snapshot::{Alerts, EventSummary, snapshot_message};
use crate::{Dashboard, TOKEN_MAX_BYTES};

/// Tree events a client may fall behind by, in messages' worth, before the oldest are dropped.
const CLIENT_BACKLOG_MESSAGES: usize = 4;

/// What the routes and the clients share.
pub(crate) struct Shared {
    /// The token every request must present, if one is set.
    pub token: Option<String>,
    pub snapshot_interval: Duration,
    pub clients_max: usize,
    pub events_per_message_max: usize,
    /// The observed table (the tree events'), if any.
    pub table: Option<String>,
    /// The visualized table (the observed one, or the one `Dashboard::table` names), if any
    /// and if there is a shape source to walk it.
    pub shape_table: Option<String>,
    pub shape_interval: Duration,
    pub shape_limits: ShapeLimits,
    /// The newest snapshot message (`None` before the first).
    pub snapshots: watch::Sender<Option<Utf8Bytes>>,
    /// The newest shape message (`None` before the first, and always without a visualized
    /// table or a shape source).
    pub shapes: watch::Sender<Option<Utf8Bytes>>,
    /// Each tree event, as the JSON text of one event.
    pub events: broadcast::Sender<Arc<str>>,
    pub counters: Counters,
}

/// The dashboard's own figures.
#[derive(Default)]
pub(crate) struct Counters {
    pub snapshots: AtomicU64,
    pub shapes: AtomicU64,
    pub messages_sent: AtomicU64,
    pub clients_open: AtomicU64,
    pub clients_refused: AtomicU64,
    pub clients_too_slow: AtomicU64,
    pub events_dropped_by_clients: AtomicU64,
}

/// The dashboard's figures, from [`DashboardHandle::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DashboardStats {
    /// Snapshots taken.
    pub snapshots: u64,
    /// Shape messages published (a walk that saw what the last one saw publishes none).
    pub shapes: u64,
    /// Messages sent to WebSocket clients.
    pub messages_sent: u64,
    /// WebSocket clients connected now.
    pub clients_open: u64,
    /// WebSocket upgrades refused because [`Dashboard::clients_max`] were open.
    pub clients_refused: u64,
    /// Clients disconnected because they did not take a message in time.
    pub clients_too_slow: u64,
    /// The tree observer's counts (zero without one): events dropped there never reached the
    /// dashboard, because the writer does not wait.
    pub events: EventCounts,
    /// Events dropped because a client fell behind (summed over clients).
    pub events_dropped_by_clients: u64,
}

impl DashboardStats {
    /// Every event dropped, by the observer or for a client.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped + self.events_dropped_by_clients
    }
}

/// A running dashboard. Dropping it stops the server (as [`DashboardHandle::shutdown`]).
pub struct DashboardHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    events: Option<Arc<TreeEvents>>,
    runtime: Option<Runtime>,
}

impl std::fmt::Debug for DashboardHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl DashboardHandle {
    /// The address the server listens on (the real port when the option asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The token requests must present, if one is set.
    pub fn token(&self) -> Option<&str> {
        self.shared.token.as_deref()
    }

    /// The page's URL, with the token if there is one (loopback when the server listens on an
    /// unspecified address such as `0.0.0.0`).
    pub fn url(&self) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        match &self.shared.token {
            Some(token) => format!("http://{addr}/?token={token}"),
            None => format!("http://{addr}/"),
        }
    }

    /// The dashboard's figures now.
    pub fn stats(&self) -> DashboardStats {
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        DashboardStats {
            snapshots: load(&counters.snapshots),
            shapes: load(&counters.shapes),
            messages_sent: load(&counters.messages_sent),
            clients_open: load(&counters.clients_open),
            clients_refused: load(&counters.clients_refused),
            clients_too_slow: load(&counters.clients_too_slow),
            events: self.events.as_ref().map(|events| events.counts()).unwrap_or_default(),
            events_dropped_by_clients: load(&counters.events_dropped_by_clients),
        }
    }

    /// Stops the server: closes the listener and every client, and ends its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside another runtime, waiting would block one of its threads.
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for DashboardHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds the address and starts the runtime, the sampler and the server.
pub(crate) fn spawn(options: Dashboard) -> Result<DashboardHandle> {
    debug_assert!(options.token.as_ref().is_none_or(|token| token.len() <= TOKEN_MAX_BYTES));
    let listener = std::net::TcpListener::bind(options.addr)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|source| Error::Bind { addr: options.addr, source })?;
    let local_addr =
        listener.local_addr().map_err(|source| Error::Bind { addr: options.addr, source })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("redwood-dashboard")
        .enable_io()
        .enable_time()
        .build()
        .map_err(Error::Runtime)?;
    let backlog = options.events_per_message_max * CLIENT_BACKLOG_MESSAGES;
    let shared = Arc::new(Shared {
        token: options.token.clone(),
        snapshot_interval: options.snapshot_interval,
        clients_max: options.clients_max,
        events_per_message_max: options.events_per_message_max,
        table: options.events.as_ref().map(|events| events.table().to_owned()),
        shape_table: options.shapes.as_ref().and(options.visualized_table()).map(str::to_owned),
        shape_interval: options.shape_interval,
        shape_limits: options.shape_limits,
        snapshots: watch::Sender::new(None),
        shapes: watch::Sender::new(None),
        events: broadcast::Sender::new(backlog),
        counters: Counters::default(),
    });
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)
            .map_err(|source| Error::Bind { addr: options.addr, source })?
    };
    let shape = match (&options.shapes, options.visualized_table()) {
        (Some(source), Some(table)) => Some(ShapeSampler {
            source: source.clone(),
            table: table.to_owned(),
            limits: options.shape_limits,
            schedule: ShapeSchedule::new(options.shape_interval),
            last_body: None,
        }),
        _ => None,
    };
    let sampler = Sampler {
        source: Arc::clone(&options.source),
        events: options.events.clone(),
        alerts: Alerts::new(options.alerts.clone()),
        shape,
        shared: Arc::clone(&shared),
    };
    runtime.spawn(sampler.run());
    runtime.spawn(crate::http::serve(listener, options.connections_max, Arc::clone(&shared)));
    tracing::info!(target: "redwood::dashboard", %local_addr, "dashboard listening");
    Ok(DashboardHandle { local_addr, shared, events: options.events, runtime: Some(runtime) })
}

/// Takes a snapshot every interval and publishes it with the tree events since the last one,
/// and the visualized table's shape when it is due.
struct Sampler {
    source: Arc<dyn DiagnosticsSource>,
    events: Option<Arc<TreeEvents>>,
    alerts: Alerts,
    /// The shape's side, with a visualized table and a shape source.
    shape: Option<ShapeSampler>,
    shared: Arc<Shared>,
}

/// The shape's side of the sampler.
struct ShapeSampler {
    source: ShapeSource,
    table: String,
    limits: ShapeLimits,
    schedule: ShapeSchedule,
    /// The body of the last shape message published.
    last_body: Option<Value>,
}

impl Sampler {
    async fn run(mut self) {
        let mut ticks = tokio::time::interval(self.shared.snapshot_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            let events_arrived = self.publish_events();
            // Off the worker thread: a snapshot may wait a moment for the pager's locks, and the
            // clients must not wait with it.
            let source = Arc::clone(&self.source);
            let diagnostics = tokio::task::spawn_blocking(move || source.diagnostics()).await;
            let diagnostics = diagnostics.ok().flatten();
            let commits =
                diagnostics.as_ref().map(|d| (d.checkpoints.last_commit_lsn, d.pager.commits));
            let message = self.snapshot(diagnostics);
            self.shared.snapshots.send_replace(Some(Utf8Bytes::from(message)));
            // A closed database has no shape: the snapshot said `closed`.
            if let Some(commits) = commits {
                self.publish_shape(commits, events_arrived).await;
            }
        }
    }

    /// Moves the observer's events to the clients' channel (the channel's own bound drops the
    /// oldest for a client that falls behind; the client counts them). Whether any came.
    fn publish_events(&self) -> bool {
        let Some(events) = &self.events else { return false };
        // At most one channel's worth per interval: what the observer could hold.
        let records = events.drain(crate::EVENT_CAPACITY_MAX);
        for record in &records {
            let text: Arc<str> = record_json(record).to_string().into();
            // An error only means no client is connected: the event is not wanted.
            let _ = self.shared.events.send(text);
        }
        !records.is_empty()
    }

    /// Walks the visualized table's tree if a walk is due (a change since the last one, and
    /// the shape interval passed), and publishes its message unless it says what the last one
    /// said. The walk runs off the worker thread: it reads pages.
    async fn publish_shape(&mut self, commits: (u64, u64), events_arrived: bool) {
        let Some(shape) = &mut self.shape else { return };
        shape.schedule.observe(commits, events_arrived);
        if !shape.schedule.take_due(Instant::now()) {
            return;
        }
        let (source, table, limits) = (shape.source.clone(), shape.table.clone(), shape.limits);
        let walked = tokio::task::spawn_blocking(move || source.shape(&table, limits)).await;
        let walked = match walked {
            Ok(None) => return, // closed meanwhile: the next snapshot says so
            Ok(Some(result)) => Walked::from_result(result),
            Err(_) => Walked::Failed {
                message: "the shape walk panicked".to_owned(),
                kind: "Other".to_owned(),
            },
        };
        let body = shape_body(&shape.table, shape.limits, &walked);
        if shape.last_body.as_ref() == Some(&body) {
            return;
        }
        if let Walked::Failed { message, .. } = &walked {
            // Once per new failure: the page shows it as text; the server goes on.
            tracing::warn!(target: "redwood::dashboard", table = %shape.table, %message,
                "the tree's shape could not be read");
        }
        shape.last_body = Some(body.clone());
        let seq = self.shared.counters.shapes.fetch_add(1, Ordering::Relaxed) + 1;
        let message = shape_message(body, seq, unix_ms()).to_string();
        self.shared.shapes.send_replace(Some(Utf8Bytes::from(message)));
    }

    /// The message of the snapshot `diagnostics`, or a `closed` message once the database is
    /// gone (or the snapshot's task failed).
    fn snapshot(&mut self, diagnostics: Option<redwood::Diagnostics>) -> String {
        let seq = self.shared.counters.snapshots.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(diagnostics) = diagnostics else {
            return serde_json::json!({ "type": "closed", "seq": seq }).to_string();
        };
        let alerts = self.alerts.evaluate(&diagnostics);
        let summary = EventSummary {
            table: self.shared.table.clone(),
            counts: self.events.as_ref().map(|events| events.counts()).unwrap_or_default(),
            dropped_by_clients: self
                .shared
                .counters
                .events_dropped_by_clients
                .load(Ordering::Relaxed),
        };
        snapshot_message(seq, &diagnostics, &alerts, &summary).to_string()
    }
}
