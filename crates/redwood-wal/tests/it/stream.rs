//! `PageRead::stream_pages` on a write transaction (what a compaction's copy reads the old
//! tree with): the pages it changed come as it holds them (in memory, spilled, written home),
//! every other page as the last commit has it, streamed around the cache; the visitor stops it.

use std::sync::Arc;

use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::io::sim::SimVfs;
use redwood_pager::{CheckpointMode, Durability, PageCache, PageId, PageRead, PageSize};

use crate::pager::{Model, check_view, mutate, open_store_options};
use crate::support::{page, seed};

#[test]
fn a_write_transaction_streams_its_own_changes_and_the_last_commit() {
    let vfs = SimVfs::new(seed("a_write_transaction_streams_its_own_changes"));
    let pool = Arc::new(BufferPool::new(PoolOptions::new(256 * 4096, PageSize::DEFAULT)).unwrap());
    let cache = Arc::clone(&pool) as Arc<dyn PageCache>;
    // Room for 8 dirty pages: the transaction below spills some of its changes.
    let pager = open_store_options(&vfs, Some(cache), None, 8).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 60, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    pager.checkpoint(CheckpointMode::Truncate).unwrap();
    let mut txn = pager.begin_write().unwrap();
    // Every third page changed (some spilled to the log, the last ones still in memory), and
    // ten new ones (written home when spilled).
    mutate(&mut txn, &mut model, 2, 10, 3).unwrap();
    check_view(&txn, &model, "read_page");
    assert!(txn.spilled_page_count() > 0 && txn.dirty_page_count() > 0, "{txn:?}");
    let pages: Vec<PageId> = model.keys().copied().collect();
    let mut streamed = Vec::new();
    let loads = pool.stats().reads;
    txn.stream_pages(&pages, &mut |page| {
        streamed.push((page.page_id(), page.body().to_vec()));
        true
    })
    .unwrap();
    let expected: Vec<(PageId, Vec<u8>)> =
        model.iter().map(|(&id, &fill)| (id, page(id.get(), fill).body().to_vec())).collect();
    assert_eq!(streamed.len(), expected.len());
    for ((id, body), (want_id, want)) in streamed.iter().zip(&expected) {
        assert_eq!(id, want_id, "in the order asked");
        assert_eq!(body, want, "{id}: the transaction's view");
    }
    assert_eq!(pool.stats().reads, loads, "the unchanged pages were read around the cache");
    let mut seen = 0;
    txn.stream_pages(&pages, &mut |_| {
        seen += 1;
        seen < 5
    })
    .unwrap();
    assert_eq!(seen, 5, "the visitor stops the stream");
    txn.commit(Durability::Immediate).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "after the commit");
}
