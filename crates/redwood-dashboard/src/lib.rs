//! Redwood's live dashboard: a web page, served from inside the application that owns the
//! database, that charts its `Diagnostics` several times a second (cache hit ratio, hits,
//! misses and evictions, thrashing pages with their ids, log bytes and checkpoint lag, commits
//! per second, RSS and heap, open readers, active alerts) and draws one table's B+Tree: its top
//! levels (root on top, each level a row of nodes in key order with lines to their parents, a
//! bar per node for its page's fill, "…" where a level has more nodes than were read, the
//! tree's height and entry count in a caption), however big the tree, and on top of them the
//! nodes its splits, merges, redistributions and root changes name, lit up for a few seconds
//! as the writer makes them.
//!
//! ```text
//! use std::sync::Arc;
//! use redwood_dashboard::{Dashboard, TreeEvents};
//!
//! let events = TreeEvents::new("users", 4096);
//! let db = redwood::Database::builder().tree_observer("users", events.observer()).in_memory()?;
//! let dashboard = Dashboard::new(&db).tree_events(Arc::clone(&events)).spawn()?;
//! println!("open {}", dashboard.url());
//! // Or, without an observer, only the shape of a table: Dashboard::new(&db).table("users").
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate is the only one of Redwood's with an HTTP stack (axum on Tokio, HTTP/1): the core
//! crates stay without one. It depends on the `redwood` facade only, and reads the database
//! through `Database::diagnostics_source` and `Database::shape_source`, which hold it weakly:
//! the dashboard cannot change the database (no request writes), and does not keep it open.
//!
//! The stream (`GET /ws`) carries JSON text messages, each with a `type`: `hello` (once, first:
//! `table`, the observed table; `shape_table`, the drawn one; `snapshot_interval_ms`,
//! `events_per_message_max`, `shape_interval_ms`, `shape_limits`), `snapshot` (each interval:
//! `seq`, `diagnostics`, `alerts`, `events` counts; `snapshot.rs`), `events` (at most one per
//! interval: `dropped`, `events`, each with `seq`, `at_unix_ms`, `type`, `node`, `page`,
//! `other`; `events.rs`), `shape` (the drawn table's top levels, at most once per
//! [`Dashboard::shape_interval`] and only after a commit or tree events, and the latest to a
//! client as it connects: `seq`, `table`, `status` `ok`, `missing` or `error`, `message`,
//! `error_kind`, `limits`, and `shape` with `root`, `height`, `entries` and `levels`; the full
//! list of fields is in `shape.rs`) and `closed` (the database was closed). `GET
//! /snapshot.json` and `GET /shape.json` return the newest `snapshot` and `shape` message.
//!
//! A table that does not exist is a `shape` message of status `missing` ("does not exist
//! yet"), drawn once a commit creates it; a damaged page (`Corrupt`) or any other failure of
//! the walk is status `error`, its sentence shown as text: neither ends the stream. The walk
//! reads at most about `levels_max × nodes_per_level_max` pages ([`Dashboard::shape_limits`])
//! through the database's cache, off the dashboard's worker thread.
//!
//! Modules: `server.rs` (the runtime, the sampler that takes a snapshot every interval and the
//! tree's shape when it is due, the handle), `http.rs` (routes, the token and origin checks,
//! the connection bound), `ws.rs` (one WebSocket client), `events.rs` (the tree observer's
//! bounded channel), `snapshot.rs` (the JSON of a snapshot), `shape.rs` (the JSON of a shape,
//! and when to walk it again) and `assets/` (the page: HTML, CSS and JS, embedded at build
//! time; plain SVG, no library, no CDN).
//!
//! Security: the default address is loopback (`127.0.0.1:7878`); any other address needs a
//! token, and once a token is configured every HTTP request and WebSocket upgrade must present
//! it (`Authorization: Bearer T`, or `?token=T` in the URL), else 401. A WebSocket upgrade whose
//! `Origin` is not the page's own host is refused with 403. Connections, WebSocket clients and
//! incoming message sizes are bounded, and a client too slow to take its messages is
//! disconnected.

mod error;
mod events;
mod http;
mod server;
mod shape;
mod snapshot;
mod ws;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use redwood::ShapeLimits;
use redwood::ShapeSource;
use redwood::telemetry::{DiagnosticsConfig, DiagnosticsSource};

pub use error::{Error, Result};
pub use events::{
    EVENT_CAPACITY_DEFAULT, EVENT_CAPACITY_MAX, EventCounts, EventRecord, TreeEvents,
};
pub use server::{DashboardHandle, DashboardStats};

/// The default address: loopback, port 7878.
pub const ADDR_DEFAULT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7878);
/// Snapshots per second by default: four.
pub const SNAPSHOT_INTERVAL_DEFAULT: Duration = Duration::from_millis(250);
/// The shortest snapshot interval allowed.
pub const SNAPSHOT_INTERVAL_MIN: Duration = Duration::from_millis(20);
/// The longest snapshot interval allowed.
pub const SNAPSHOT_INTERVAL_MAX: Duration = Duration::from_secs(60);
/// Open TCP connections at most by default (HTTP and WebSocket together).
pub const CONNECTIONS_MAX_DEFAULT: usize = 32;
/// WebSocket clients at most by default.
pub const CLIENTS_MAX_DEFAULT: usize = 8;
/// Tree events per message to a client at most by default (one events message per interval).
pub const EVENTS_PER_MESSAGE_MAX_DEFAULT: usize = 256;
/// The longest token accepted, in bytes.
pub const TOKEN_MAX_BYTES: usize = 256;
/// The visualized tree's shape is walked at most once per this interval by default (and only
/// after a change): once a second.
pub const SHAPE_INTERVAL_DEFAULT: Duration = Duration::from_secs(1);
/// The shortest shape interval allowed.
pub const SHAPE_INTERVAL_MIN: Duration = Duration::from_millis(100);
/// The longest shape interval allowed.
pub const SHAPE_INTERVAL_MAX: Duration = Duration::from_secs(60);

/// How to serve a database's dashboard; [`Dashboard::spawn`] starts it. (Examples: the
/// crate's header and `tests/it/server.rs`; none are doc tests, which would each build a
/// binary with the whole HTTP stack.)
#[derive(Clone)]
pub struct Dashboard {
    source: Arc<dyn DiagnosticsSource>,
    shapes: Option<ShapeSource>,
    table: Option<String>,
    shape_limits: ShapeLimits,
    shape_interval: Duration,
    addr: SocketAddr,
    token: Option<String>,
    snapshot_interval: Duration,
    events: Option<Arc<TreeEvents>>,
    alerts: Option<DiagnosticsConfig>,
    connections_max: usize,
    clients_max: usize,
    events_per_message_max: usize,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("snapshot_interval", &self.snapshot_interval)
            .field("table", &self.visualized_table())
            .field("shape_limits", &self.shape_limits)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard of `db`, with the defaults: loopback port 7878, no token, four snapshots
    /// a second, no tree drawn (until [`Dashboard::tree_events`] or [`Dashboard::table`] names
    /// one). It reads the tree's shape through `db.shape_source()`, which, like the diagnostics
    /// source, holds the database weakly.
    pub fn new(db: &redwood::Database) -> Dashboard {
        let mut dashboard = Dashboard::from_source(db.diagnostics_source());
        dashboard.shapes = Some(db.shape_source());
        dashboard
    }

    /// A dashboard over any snapshot source (a database's `diagnostics_source`, or a test's).
    /// It has no shape source (see [`Dashboard::shape_source`]), so it draws no tree shape,
    /// only the tree events.
    pub fn from_source(source: Arc<dyn DiagnosticsSource>) -> Dashboard {
        Dashboard {
            source,
            shapes: None,
            table: None,
            shape_limits: ShapeLimits::default(),
            shape_interval: SHAPE_INTERVAL_DEFAULT,
            addr: ADDR_DEFAULT,
            token: None,
            snapshot_interval: SNAPSHOT_INTERVAL_DEFAULT,
            events: None,
            alerts: None,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            clients_max: CLIENTS_MAX_DEFAULT,
            events_per_message_max: EVENTS_PER_MESSAGE_MAX_DEFAULT,
        }
    }

    /// The address to listen on (port 0: any free port; see [`DashboardHandle::local_addr`]).
    /// Any address but loopback needs a [`Dashboard::token`].
    pub fn addr(mut self, addr: SocketAddr) -> Dashboard {
        self.addr = addr;
        self
    }

    /// The token every request must present once set: letters, digits, `-`, `_`, `.` and `~`
    /// only (so it goes into a URL as it is), at most [`TOKEN_MAX_BYTES`].
    /// [`generate_token`] makes one.
    pub fn token(mut self, token: impl Into<String>) -> Dashboard {
        self.token = Some(token.into());
        self
    }

    /// How often a snapshot is taken and sent to every client (default 250 ms), from
    /// [`SNAPSHOT_INTERVAL_MIN`] to [`SNAPSHOT_INTERVAL_MAX`].
    pub fn snapshot_interval(mut self, interval: Duration) -> Dashboard {
        self.snapshot_interval = interval;
        self
    }

    /// The observer whose table the visualizer draws (registered with
    /// `redwood::Builder::tree_observer` for the same table): its structural events are
    /// animated on top of the table's shape.
    pub fn tree_events(mut self, events: Arc<TreeEvents>) -> Dashboard {
        self.events = Some(events);
        self
    }

    /// The table whose tree the visualizer draws, for a dashboard without
    /// [`Dashboard::tree_events`] (which names its table itself; naming another one here is an
    /// `InvalidOption` at [`Dashboard::spawn`]). The page shows its top levels; a table that
    /// does not exist (yet) is said so on the page, and drawn once a commit creates it.
    pub fn table(mut self, name: impl Into<String>) -> Dashboard {
        self.table = Some(name.into());
        self
    }

    /// Where the visualized tree's shape is read: a database's `shape_source` ([`Dashboard::new`]
    /// sets it; a dashboard made [`Dashboard::from_source`] has none until given one).
    pub fn shape_source(mut self, source: ShapeSource) -> Dashboard {
        self.shapes = Some(source);
        self
    }

    /// How much of the visualized tree is walked and drawn (default
    /// `redwood::ShapeLimits::default()`: the top 4 levels, at most 64 nodes each; both are
    /// clamped, as the facade's walk clamps them, to `1..=redwood::SHAPE_LEVELS_MAX` and
    /// `1..=redwood::SHAPE_NODES_PER_LEVEL_MAX`, so the messages name the limits in force).
    /// A walk reads at most about `levels_max × nodes_per_level_max` pages, through the
    /// database's cache.
    pub fn shape_limits(mut self, limits: ShapeLimits) -> Dashboard {
        self.shape_limits = ShapeLimits {
            levels_max: limits.levels_max.clamp(1, redwood::SHAPE_LEVELS_MAX),
            nodes_per_level_max: limits
                .nodes_per_level_max
                .clamp(1, redwood::SHAPE_NODES_PER_LEVEL_MAX),
        };
        self
    }

    /// The visualized tree's shape is walked and sent at most once per `interval` (default
    /// [`SHAPE_INTERVAL_DEFAULT`], one second), and only when something changed since the last
    /// walk (a commit, or tree events); a new client gets the latest shape on connecting. From
    /// [`SHAPE_INTERVAL_MIN`] to [`SHAPE_INTERVAL_MAX`]. The shape is looked at on the snapshot
    /// ticks, so a shape interval shorter than the snapshot interval acts as the latter.
    pub fn shape_interval(mut self, interval: Duration) -> Dashboard {
        self.shape_interval = interval;
        self
    }

    /// The table the visualizer draws: the tree events' table, else the one named by
    /// [`Dashboard::table`].
    fn visualized_table(&self) -> Option<&str> {
        self.events.as_ref().map(|events| events.table()).or(self.table.as_deref())
    }

    /// The thresholds of the alerts the page shows, judged by the dashboard's own monitor
    /// (the database's sampler and `Database::check_alerts` keep theirs). Without it, only the
    /// log past the automatic checkpoints' bound is an alert.
    pub fn alerts(mut self, config: DiagnosticsConfig) -> Dashboard {
        self.alerts = Some(config);
        self
    }

    /// Open TCP connections at most (default [`CONNECTIONS_MAX_DEFAULT`]); a connection past
    /// it waits in the listen queue until one closes.
    pub fn connections_max(mut self, connections: usize) -> Dashboard {
        self.connections_max = connections;
        self
    }

    /// WebSocket clients at most (default [`CLIENTS_MAX_DEFAULT`]); one more is refused with
    /// 503.
    pub fn clients_max(mut self, clients: usize) -> Dashboard {
        self.clients_max = clients;
        self
    }

    /// Tree events per message at most (default [`EVENTS_PER_MESSAGE_MAX_DEFAULT`]): a client
    /// gets one events message per interval, so this bounds the event rate; a backlog past
    /// four messages' worth is dropped and counted.
    pub fn events_per_message_max(mut self, events: usize) -> Dashboard {
        self.events_per_message_max = events;
        self
    }

    /// Checks the options, binds the address, and starts serving on a thread of the
    /// dashboard's own (a one-worker Tokio runtime): the application needs no runtime.
    pub fn spawn(self) -> Result<DashboardHandle> {
        self.validate()?;
        server::spawn(self)
    }

    fn validate(&self) -> Result<()> {
        match &self.token {
            Some(token) => check_token(token)?,
            None if !self.addr.ip().is_loopback() => {
                return Err(Error::TokenRequired { addr: self.addr });
            }
            None => {}
        }
        let interval = self.snapshot_interval;
        if !(SNAPSHOT_INTERVAL_MIN..=SNAPSHOT_INTERVAL_MAX).contains(&interval) {
            return Err(Error::InvalidOption(format!(
                "snapshot interval {interval:?} is outside {SNAPSHOT_INTERVAL_MIN:?}..={SNAPSHOT_INTERVAL_MAX:?}"
            )));
        }
        let interval = self.shape_interval;
        if !(SHAPE_INTERVAL_MIN..=SHAPE_INTERVAL_MAX).contains(&interval) {
            return Err(Error::InvalidOption(format!(
                "shape interval {interval:?} is outside {SHAPE_INTERVAL_MIN:?}..={SHAPE_INTERVAL_MAX:?}"
            )));
        }
        if let (Some(events), Some(table)) = (&self.events, &self.table)
            && events.table() != table
        {
            return Err(Error::InvalidOption(format!(
                "the table {table:?} is not the tree events' table {:?}",
                events.table()
            )));
        }
        if self.table.as_deref() == Some("") {
            return Err(Error::InvalidOption("the table's name is empty".to_owned()));
        }
        for (name, value) in [
            ("connections_max", self.connections_max),
            ("clients_max", self.clients_max),
            ("events_per_message_max", self.events_per_message_max),
        ] {
            if value == 0 || value > 1 << 16 {
                return Err(Error::InvalidOption(format!("{name} {value} is outside 1..=65536")));
            }
        }
        Ok(())
    }
}

/// Serves `db`'s dashboard at `addr` with the default options (a shorthand for
/// `Dashboard::new(db).addr(addr).spawn()`).
pub fn serve(db: &redwood::Database, addr: SocketAddr) -> Result<DashboardHandle> {
    Dashboard::new(db).addr(addr).spawn()
}

/// Whether `token` may be used: not empty, at most [`TOKEN_MAX_BYTES`], URL-safe characters.
fn check_token(token: &str) -> Result<()> {
    if token.is_empty() {
        return Err(Error::InvalidToken("it is empty"));
    }
    if token.len() > TOKEN_MAX_BYTES {
        return Err(Error::InvalidToken("it is longer than 256 bytes"));
    }
    let url_safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
    if !token.chars().all(url_safe) {
        return Err(Error::InvalidToken("only letters, digits, '-', '_', '.' and '~' may be used"));
    }
    Ok(())
}

/// A new random token of 32 hex digits (128 bits from the standard library's randomly seeded
/// hasher, which takes its keys from the operating system).
pub fn generate_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(salt);
        hasher.write_u128(std::time::SystemTime::now().elapsed().map_or(0, |d| d.as_nanos()));
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked() {
        assert!(check_token("abc-DEF_1.2~").is_ok());
        assert!(check_token("").is_err());
        assert!(check_token("has space").is_err());
        assert!(check_token("a&b").is_err());
        assert!(check_token(&"x".repeat(TOKEN_MAX_BYTES + 1)).is_err());
        let token = generate_token();
        assert_eq!(token.len(), 32);
        assert!(check_token(&token).is_ok());
        assert_ne!(token, generate_token());
    }

    #[test]
    fn shape_options_are_clamped_or_checked() {
        let db = redwood::Database::in_memory().unwrap();
        let wide = ShapeLimits { levels_max: 100, nodes_per_level_max: 0 };
        let dashboard = Dashboard::new(&db).shape_limits(wide);
        assert_eq!(
            dashboard.shape_limits,
            ShapeLimits { levels_max: redwood::SHAPE_LEVELS_MAX, nodes_per_level_max: 1 }
        );
        assert_eq!(Dashboard::new(&db).shape_limits, ShapeLimits::default());
        let fast = Dashboard::new(&db).shape_interval(Duration::from_millis(10));
        assert!(matches!(fast.validate(), Err(Error::InvalidOption(_))));
        let events = TreeEvents::new("a", 8);
        let other = Dashboard::new(&db).tree_events(Arc::clone(&events)).table("b");
        assert!(matches!(other.validate(), Err(Error::InvalidOption(_))));
        let same = Dashboard::new(&db).tree_events(events).table("a");
        assert!(same.validate().is_ok());
        assert_eq!(same.visualized_table(), Some("a"));
        assert_eq!(Dashboard::new(&db).table("t").visualized_table(), Some("t"));
        assert!(Dashboard::new(&db).table("").validate().is_err());
    }
}
