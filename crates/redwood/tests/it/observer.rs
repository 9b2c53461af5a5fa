//! `Builder::tree_observer`: the observer registered for a table hears that table's structural
//! events (splits and a root growth while it fills, merges and a root shrink while it empties),
//! and nothing of another table's, so a visualizer watching one table is not fed another's.

use std::sync::{Arc, Mutex};

use redwood::{Database, TreeEvent, TreeObserver};

/// Records every event it hears.
#[derive(Default)]
struct Recorder(Mutex<Vec<TreeEvent>>);

impl TreeObserver for Recorder {
    fn on_event(&self, event: TreeEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn count(&self, matches: impl Fn(&TreeEvent) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|event| matches(event)).count()
    }
}

fn fill_and_empty(db: &Database, table: &str, keys: u32) {
    let write = db.begin_write().unwrap();
    let mut t = write.open_table(table).unwrap();
    for i in 0..keys {
        t.insert(i.to_be_bytes(), [1; 100]).unwrap();
    }
    drop(t);
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    let mut t = write.open_table(table).unwrap();
    for i in 0..keys {
        assert!(t.remove(i.to_be_bytes()).unwrap());
    }
    drop(t);
    write.commit().unwrap();
}

#[test]
fn the_observer_hears_its_own_tables_splits_and_merges_only() {
    let watched = Arc::new(Recorder::default());
    let db = Database::builder().tree_observer("watched", watched.clone()).in_memory().unwrap();
    fill_and_empty(&db, "other", 2000);
    assert!(watched.0.lock().unwrap().is_empty(), "events of another table were reported");

    fill_and_empty(&db, "watched", 2000);
    assert!(watched.count(|event| matches!(event, TreeEvent::Split { .. })) > 10);
    assert_eq!(watched.count(|event| matches!(event, TreeEvent::RootGrow { .. })), 1);
    assert!(watched.count(|event| matches!(event, TreeEvent::Merge { .. })) > 10);
    assert_eq!(watched.count(|event| matches!(event, TreeEvent::RootShrink { .. })), 1);
    db.check_integrity().unwrap();
}
