//! RSS and heap alerts, crossed up and down by this test's own allocations. A binary of its
//! own with a single test, because both figures measure the whole process: no other test may
//! allocate beside it. It installs `CountingAllocator` as the global allocator, as an
//! application would.

use std::sync::{Arc, Mutex};

use redwood::{AlertKind, AlertState, CountingAllocator, Database, DiagnosticsConfig};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::system();

const MIB: u64 = 1 << 20;

#[test]
fn rss_and_heap_alerts_cross_up_and_down_once_each() {
    let probe = Database::in_memory().unwrap().diagnostics().process;
    let rss_before = probe.rss_bytes.expect("Linux has /proc/self/status");
    let heap_before = probe.heap.expect("the counting allocator is installed").allocated_bytes;

    let seen: Arc<Mutex<Vec<(AlertKind, AlertState)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let config = DiagnosticsConfig::default()
        .rss_bytes_max(rss_before + 192 * MIB)
        .heap_bytes_max(heap_before + 192 * MIB)
        .on_alert(move |alert| sink.lock().unwrap().push((alert.kind, alert.state)));
    let db = Database::builder().diagnostics(config).in_memory().unwrap();
    let taken = || std::mem::take(&mut *seen.lock().unwrap());

    db.check_alerts();
    assert_eq!(taken(), []);

    let block = vec![1u8; 256 * MIB as usize]; // written, so resident
    db.check_alerts();
    db.check_alerts();
    let mut raised = taken();
    raised.sort_by_key(|(kind, _)| *kind);
    assert_eq!(
        raised,
        [(AlertKind::Rss, AlertState::Raised), (AlertKind::Heap, AlertState::Raised)]
    );
    let during = db.diagnostics().process;
    assert!(during.heap.unwrap().allocated_bytes >= heap_before + 256 * MIB);
    assert!(during.heap.unwrap().peak_bytes >= during.heap.unwrap().allocated_bytes);
    assert!(during.rss_peak_bytes.unwrap() > rss_before + 192 * MIB);
    assert_eq!(block.iter().map(|&b| u64::from(b)).sum::<u64>(), 256 * MIB);

    drop(block); // a block this large is its own mapping: freeing it returns it to the kernel
    db.check_alerts();
    db.check_alerts();
    let mut cleared = taken();
    cleared.sort_by_key(|(kind, _)| *kind);
    assert_eq!(
        cleared,
        [(AlertKind::Rss, AlertState::Cleared), (AlertKind::Heap, AlertState::Cleared)]
    );
}
