//! [`TreeEvents`]: the visualizer's tree observer. The writer's thread hands each structural
//! event to a bounded channel with `try_send`, so it never waits: when the channel is full (the
//! dashboard is not draining it fast enough) the event is dropped and counted. The dashboard's
//! sampler drains it once per snapshot interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use redwood::{NodeKind, TreeEvent, TreeObserver};
use serde_json::{Value, json};

/// Events the channel holds by default between two drains.
pub const EVENT_CAPACITY_DEFAULT: usize = 4096;
/// The most events the channel may be asked to hold.
pub const EVENT_CAPACITY_MAX: usize = 1 << 20;

/// One event as the dashboard keeps it: numbered in the order the writer made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// 1 for the first event the observer saw, counting dropped ones too (a gap in the numbers
    /// is a drop).
    pub seq: u64,
    /// When the observer saw it, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// The event.
    pub event: TreeEvent,
}

/// The counts of a [`TreeEvents`], since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Events the tree reported.
    pub observed: u64,
    /// Events dropped because the channel was full.
    pub dropped: u64,
}

/// The observer of one table's tree: give [`TreeEvents::observer`] to
/// `redwood::Builder::tree_observer` and the `TreeEvents` to `Dashboard::tree_events`:
///
/// ```text
/// let events = TreeEvents::new("users", EVENT_CAPACITY_DEFAULT);
/// let db = redwood::Database::builder().tree_observer("users", events.observer()).in_memory()?;
/// let dashboard = Dashboard::new(&db).tree_events(events).spawn()?;
/// ```
pub struct TreeEvents {
    table: String,
    sender: SyncSender<EventRecord>,
    receiver: Mutex<Receiver<EventRecord>>,
    observed: AtomicU64,
    dropped: AtomicU64,
}

impl std::fmt::Debug for TreeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeEvents")
            .field("table", &self.table)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl TreeEvents {
    /// An observer for table `table` whose channel holds up to `capacity` events (clamped to
    /// 1..=[`EVENT_CAPACITY_MAX`]).
    pub fn new(table: &str, capacity: usize) -> Arc<TreeEvents> {
        let (sender, receiver) = mpsc::sync_channel(capacity.clamp(1, EVENT_CAPACITY_MAX));
        Arc::new(TreeEvents {
            table: table.to_owned(),
            sender,
            receiver: Mutex::new(receiver),
            observed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// The table whose events this observer receives.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// This observer as the facade's builder takes it.
    pub fn observer(self: &Arc<Self>) -> Arc<dyn TreeObserver> {
        Arc::clone(self) as Arc<dyn TreeObserver>
    }

    /// Observed and dropped events so far.
    pub fn counts(&self) -> EventCounts {
        EventCounts {
            observed: self.observed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Takes up to `max` events out of the channel, oldest first, without waiting.
    pub fn drain(&self, max: usize) -> Vec<EventRecord> {
        let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner);
        receiver.try_iter().take(max).collect()
    }
}

impl TreeObserver for TreeEvents {
    fn on_event(&self, event: TreeEvent) {
        let seq = self.observed.fetch_add(1, Ordering::Relaxed) + 1;
        let record = EventRecord { seq, at_unix_ms: unix_ms(), event };
        match self.sender.try_send(record) {
            Ok(()) => {}
            // Full: the writer never waits for the dashboard. Disconnected cannot happen (the
            // receiver lives in `self`), and would be a drop too.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

fn node_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Leaf => "leaf",
        NodeKind::Interior => "interior",
    }
}

/// The JSON form the page reads: `type`, `node` (leaf, interior or root), `page` (the node the
/// event names first) and `other` (the second node: the new sibling, the freed one, the new
/// root).
pub(crate) fn record_json(record: &EventRecord) -> Value {
    let (kind, node, page, other) = match record.event {
        TreeEvent::Split { kind, page_id, new_page_id } => {
            ("split", node_name(kind), page_id, new_page_id)
        }
        TreeEvent::Merge { kind, page_id, freed_page_id } => {
            ("merge", node_name(kind), page_id, freed_page_id)
        }
        TreeEvent::Redistribute { kind, left_page_id, right_page_id } => {
            ("redistribute", node_name(kind), left_page_id, right_page_id)
        }
        TreeEvent::RootGrow { old_root, new_root } => ("root_grow", "root", old_root, new_root),
        TreeEvent::RootShrink { old_root, new_root } => ("root_shrink", "root", old_root, new_root),
    };
    json!({
        "seq": record.seq,
        "at_unix_ms": record.at_unix_ms,
        "type": kind,
        "node": node,
        "page": page.get(),
        "other": other.get(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use redwood::PageId;

    fn split(page: u64) -> TreeEvent {
        TreeEvent::Split {
            kind: NodeKind::Leaf,
            page_id: PageId::new(page),
            new_page_id: PageId::new(page + 1),
        }
    }

    #[test]
    fn a_full_channel_drops_and_counts_without_waiting() {
        let events = TreeEvents::new("t", 2);
        for page in 10..15 {
            events.on_event(split(page));
        }
        assert_eq!(events.counts(), EventCounts { observed: 5, dropped: 3 });
        let drained = events.drain(10);
        assert_eq!(drained.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
        events.on_event(split(20));
        assert_eq!(events.drain(10)[0].seq, 6); // the gap 3..=5 shows the drops
    }

    #[test]
    fn the_json_names_both_nodes() {
        let record = EventRecord { seq: 7, at_unix_ms: 1, event: split(4) };
        let value = record_json(&record);
        assert_eq!(value["type"], "split");
        assert_eq!(value["node"], "leaf");
        assert_eq!((value["page"].as_u64(), value["other"].as_u64()), (Some(4), Some(5)));
        let grow = EventRecord {
            seq: 8,
            at_unix_ms: 1,
            event: TreeEvent::RootGrow { old_root: PageId::new(4), new_root: PageId::new(9) },
        };
        assert_eq!(record_json(&grow)["type"], "root_grow");
    }
}
