//! A write transaction's dirty pages count against the cache budget (ADR-14): with the cache
//! full, a transaction that changes more pages than the budget holds keeps the cache's memory
//! plus the heap it allocates (its dirty pages) within the budget. Its own test binary, with a
//! counting allocator, so the heap figure is this process's live heap.

use redwood::{CountingAllocator, Database};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::system();

const BUDGET_BYTES: u64 = 32 << 20;
const ENTRIES: u32 = 160_000;

/// The cache's memory plus the live heap.
fn held(db: &Database) -> (u64, u64) {
    let diagnostics = db.diagnostics();
    let heap = diagnostics.process.heap.expect("the counting allocator is installed");
    (diagnostics.pool.memory_bytes, heap.allocated_bytes)
}

fn key(index: u32) -> [u8; 8] {
    // Spread over the key space, so updates touch every leaf in random order.
    u64::from(index.wrapping_mul(2_654_435_761)).to_be_bytes()
}

#[test]
fn a_transaction_larger_than_the_budget_keeps_memory_at_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.redwood");
    let db = Database::builder().cache_bytes(BUDGET_BYTES).create(&path).unwrap();
    // 64 MiB of entries: twice the budget.
    for chunk in 0..4 {
        let write = db.begin_write().unwrap();
        let mut table = write.open_table("t").unwrap();
        for index in (chunk * ENTRIES / 4)..((chunk + 1) * ENTRIES / 4) {
            table.insert(key(index), [chunk as u8; 400]).unwrap();
        }
        drop(table);
        write.commit().unwrap();
    }
    // Fill the cache: every page read once, the newest ones stay.
    {
        let read = db.begin_read().unwrap();
        let table = read.open_table("t").unwrap();
        assert_eq!(table.range(..).count(), ENTRIES as usize);
    }
    let pool = db.diagnostics().pool;
    assert!(pool.memory_bytes > BUDGET_BYTES * 9 / 10, "the cache is full: {pool:?}");
    let (_, heap_before) = held(&db);
    // One transaction changes every entry: about 16,000 pages, twice what the budget holds.
    let mut largest = 0;
    let mut cache_during = u64::MAX;
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for index in 0..ENTRIES {
        table.insert(key(index), [9; 400]).unwrap();
        if index % 2000 == 1999 {
            let (cache, heap) = held(&db);
            largest = largest.max(cache + heap.saturating_sub(heap_before));
            cache_during = cache_during.min(cache);
        }
    }
    drop(table);
    write.commit().unwrap();
    println!(
        "cache plus the transaction's heap: at most {largest} bytes; cache down to {cache_during}"
    );
    // The dirty pages may take up to three quarters of the budget; the cache gave that back.
    assert!(
        cache_during < BUDGET_BYTES / 2,
        "the cache shrank for the dirty pages: {cache_during}"
    );
    // Without the shared budget the dirty pages came on top of the full cache (+24 MiB). The
    // slack is the dirty set's maps and the pages being read and built.
    assert!(
        largest < BUDGET_BYTES + (6 << 20),
        "cache and dirty pages held {largest} bytes for a budget of {BUDGET_BYTES}"
    );
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    assert_eq!(table.get(key(77)).unwrap().as_deref(), Some(&[9u8; 400][..]));
    assert_eq!(table.len(), u64::from(ENTRIES));
}

/// The heap a large transaction's dirty pages took is handed back to the OS when it ends, so
/// the cache refilling afterwards does not sit beside it: RSS stays near the budget.
#[test]
fn the_heap_of_a_large_transaction_is_returned_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trim.redwood");
    let db = Database::builder().cache_bytes(BUDGET_BYTES).create(&path).unwrap();
    let rss = || redwood::telemetry::process_stats().rss_bytes.expect("RSS is readable");
    let start = rss();
    // 48 MiB of entries in one transaction: up to 24 MiB of dirty pages on the heap.
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for index in 0..ENTRIES * 3 / 4 {
        table.insert(key(index), [5; 400]).unwrap();
    }
    drop(table);
    write.commit().unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    assert_eq!(table.range(..).count(), (ENTRIES * 3 / 4) as usize);
    drop(table);
    drop(read);
    let grown = rss().saturating_sub(start);
    println!("RSS grew by {grown} bytes with a full cache of {BUDGET_BYTES}");
    assert!(grown < BUDGET_BYTES + (12 << 20), "RSS grew by {grown} bytes");
}
