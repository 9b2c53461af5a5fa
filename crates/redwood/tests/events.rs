//! Structured logs: checkpoints, recovery, alerts, corruption and poisoning each emit a
//! `tracing` event under a `redwood::` target, with the fields an operator needs (the page id of
//! a damaged page, the pages a checkpoint wrote, the alert's kind). Caught by a recording
//! subscriber installed on the test's own thread.
//!
//! A binary of its own with a single test: `tracing` caches per call site, process-wide,
//! whether any subscriber wants its events, so a test elsewhere in the same process that
//! reached these call sites without a subscriber could hide them from this one.

use std::sync::{Arc, Mutex};

use redwood::io::sim::{Fault, FaultConfig, OpKind, Repeat, SimVfs, Trigger, test_seed};
use redwood::{CheckpointMode, Database, DiagnosticsConfig, Error, StorageError};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};

/// One recorded event: its target and its fields (the message under "message").
#[derive(Debug, Clone)]
struct Event {
    target: String,
    fields: Vec<(String, String)>,
}

impl Event {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    /// The events recorded under `target` so far, taken out of the log.
    fn take(&self, target: &str) -> Vec<Event> {
        let mut events = self.0.lock().unwrap();
        let (matching, rest) = events.drain(..).partition(|event| event.target == target);
        *events = rest;
        matching
    }
}

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let target = event.metadata().target().to_owned();
        self.0.lock().unwrap().push(Event { target, fields: fields.0 });
    }
}

fn recording<T>(run: impl FnOnce(&Recorder) -> T) -> T {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, || run(&recorder))
}

fn fill(db: &Database, count: u32) {
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for i in 0..count {
        table.insert(i.to_be_bytes(), [7; 100]).unwrap();
    }
    drop(table);
    write.commit().unwrap();
}

#[test]
fn every_case_is_logged() {
    checkpoints_recovery_and_alerts_are_logged();
    corruption_names_the_page_and_poisoning_is_logged_once();
}

fn checkpoints_recovery_and_alerts_are_logged() {
    recording(|events| {
        let vfs = Arc::new(SimVfs::new(test_seed("events_checkpoints")));
        let config = DiagnosticsConfig::default().wal_bytes_max(16 * 1024);
        let db = Database::builder().diagnostics(config).create_in(vfs.clone(), "db").unwrap();
        fill(&db, 1000);
        db.check_alerts();
        let alert = events.take("redwood::alert");
        assert_eq!(alert.len(), 1);
        assert_eq!(alert[0].field("kind"), Some("\"wal_bytes\""));
        assert_eq!(alert[0].field("message"), Some("alert raised"));

        let outcome = db.checkpoint(CheckpointMode::Full).unwrap();
        let checkpoint = events.take("redwood::checkpoint");
        assert_eq!(checkpoint.len(), 1);
        let written = outcome.pages_written.to_string();
        assert_eq!(checkpoint[0].field("pages_written"), Some(written.as_str()));
        assert_eq!(checkpoint[0].field("log_restarted"), Some("true"));

        fill(&db, 10); // a commit left in the log for the reopen to replay
        drop(db);
        events.take("redwood::recovery");
        let db = Database::builder().create_in(vfs, "db").unwrap();
        let recovery = events.take("redwood::recovery");
        let messages: Vec<_> = recovery.iter().filter_map(|event| event.field("message")).collect();
        assert_eq!(messages, ["log recovered", "pager opened"]);
        assert_eq!(recovery[1].field("commits_replayed"), Some("1"));
        assert_eq!(db.begin_read().unwrap().open_table("t").unwrap().len(), 1000);
    });
}

fn corruption_names_the_page_and_poisoning_is_logged_once() {
    recording(|events| {
        let vfs = Arc::new(SimVfs::new(test_seed("events_corruption")));
        let db = Database::builder().cache_bytes(4 * 4096).create_in(vfs.clone(), "db").unwrap();
        fill(&db, 2000);
        db.checkpoint(CheckpointMode::Truncate).unwrap();
        drop(db);
        let db = Database::builder().cache_bytes(4 * 4096).create_in(vfs.clone(), "db").unwrap();

        // Every read now flips a bit: the first page read from the file is reported damaged.
        vfs.set_faults(FaultConfig::none().with(Fault::bit_rot(Trigger::Nth(1), Repeat::Once)));
        let read = db.begin_read().unwrap();
        let error = read.open_table("t").and_then(|table| table.get(5u32.to_be_bytes()));
        let error = error.expect_err("a flipped bit fails the checksum");
        assert!(error.is_corruption(), "{error:?}");
        let page_id = error.page_id().expect("the error names the page");
        let corruption = events.take("redwood::corruption");
        assert_eq!(corruption.len(), 1, "{corruption:?}");
        assert_eq!(corruption[0].field("page_id"), Some(page_id.get().to_string().as_str()));
        drop(read);
        drop(db);

        // A failed fsync poisons the database: logged once, then every call is `Poisoned`.
        let vfs = Arc::new(SimVfs::new(test_seed("events_poisoning")));
        let db = Database::builder().create_in(vfs.clone(), "db").unwrap();
        vfs.set_faults(FaultConfig::none().with(Fault::eio(
            OpKind::Sync,
            Trigger::Nth(1),
            Repeat::Always,
        )));
        let write = db.begin_write().unwrap();
        write.open_table("u").unwrap().insert(b"k", b"v").unwrap();
        assert!(write.commit().is_err());
        assert!(matches!(db.begin_write(), Err(Error::Storage(StorageError::Poisoned))));
        let poisoned = events.take("redwood::poisoned");
        assert_eq!(poisoned.len(), 1, "{poisoned:?}");
        assert!(poisoned[0].field("error").unwrap().contains("sync"), "{poisoned:?}");
        assert!(db.diagnostics().poisoned);
    });
}
