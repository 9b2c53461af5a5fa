//! Malformed chains whose pages' checksums pass: impossible lengths, pages that link back, short
//! pages in the middle, payloads past the page. Each read, free and claim is `Corrupt` naming
//! the page, within a handful of page reads (`MemPageStore` counts them), without a large
//! allocation, and run on a thread that fails the test instead of hanging it.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use redwood_overflow::{ChainRef, Error, VALUE_MAX_BYTES, payload_per_page};
use redwood_pager::testing::MemPageStore;
use redwood_pager::{PAGE_HEADER_BYTES, PageClaims, PageId, PageRead, PageSize, PageWrite};

/// Where a chain page's `next` link and `payload_bytes` sit.
const NEXT_OFFSET: usize = PAGE_HEADER_BYTES;
const PAYLOAD_BYTES_OFFSET: usize = PAGE_HEADER_BYTES + 8;

/// Runs `run` on its own thread, failing the test if it does not finish in time.
fn bounded<T: Send + 'static>(what: &str, run: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(run());
    });
    match receiver.recv_timeout(Duration::from_secs(30)) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish: an unbounded walk"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// A chain of `pages` full pages, and its pages in order.
fn full_chain(store: &mut MemPageStore, pages: usize) -> (ChainRef, Vec<PageId>) {
    let value = vec![9u8; pages * payload_per_page(PageSize::DEFAULT)];
    let chain = redwood_overflow::write(store, &value).unwrap();
    let ids: Vec<PageId> = store.allocated().iter().copied().collect();
    assert_eq!(ids.len(), pages);
    (chain, ids)
}

/// Rewrites chain page `page_id` with `edit` applied; `write_page` seals it, so its checksum
/// passes.
fn edit_page(store: &mut MemPageStore, page_id: PageId, edit: impl FnOnce(&mut [u8])) {
    let mut page = store.read_page(page_id).unwrap().to_page_buf();
    edit(page.as_mut_bytes());
    store.write_page(page_id, page).unwrap();
}

fn set_next(store: &mut MemPageStore, page_id: PageId, next: PageId) {
    edit_page(store, page_id, |bytes| {
        bytes[NEXT_OFFSET..NEXT_OFFSET + 8].copy_from_slice(&next.get().to_le_bytes());
    });
}

fn set_payload_bytes(store: &mut MemPageStore, page_id: PageId, payload_bytes: u32) {
    edit_page(store, page_id, |bytes| {
        bytes[PAYLOAD_BYTES_OFFSET..PAYLOAD_BYTES_OFFSET + 4]
            .copy_from_slice(&payload_bytes.to_le_bytes());
    });
}

/// Reads, claims and frees `chain`, expecting each to be `Corrupt` at `page_id` after at most
/// `reads_max` page reads, and nothing freed. Returns the read's reason.
fn every_walk_is_corrupt(
    store: MemPageStore,
    chain: ChainRef,
    page_id: PageId,
    reads_max: u64,
) -> String {
    bounded("chain walks", move || {
        let mut store = store;
        let allocated = store.allocated().len();
        let expect_corrupt =
            |result: Result<(), Error>, store: &MemPageStore, what: &str| match result {
                Err(Error::Corrupt { page_id: at, reason }) => {
                    assert_eq!(at, page_id, "{what}: {reason}");
                    assert!(store.reads() <= reads_max, "{what} read {} pages", store.reads());
                    reason
                }
                other => panic!("{what}: expected Corrupt at {page_id}, got {other:?}"),
            };
        store.reset_reads();
        let reason =
            expect_corrupt(redwood_overflow::read(&store, chain).map(drop), &store, "read");
        store.reset_reads();
        let mut claims = PageClaims::new();
        let claimed = redwood_overflow::claim(&store, chain, &mut claims);
        expect_corrupt(claimed, &store, "claim");
        store.reset_reads();
        let freed = redwood_overflow::free(&mut store, chain);
        expect_corrupt(freed, &store, "free");
        assert_eq!(store.allocated().len(), allocated, "a refused free frees nothing");
        reason
    })
}

#[test]
fn a_page_pointing_at_itself_with_a_length_of_8_gib_reads_no_page() {
    let mut store = MemPageStore::default();
    let (chain, pages) = full_chain(&mut store, 1);
    set_next(&mut store, pages[0], pages[0]);
    let chain = ChainRef { length: 8 << 30, ..chain };
    let reason = every_walk_is_corrupt(store, chain, pages[0], 0);
    assert!(reason.contains("outside"), "{reason}");
}

#[test]
fn a_page_pointing_at_itself_is_corrupt_on_the_first_read() {
    let mut store = MemPageStore::default();
    let (chain, pages) = full_chain(&mut store, 1);
    set_next(&mut store, pages[0], pages[0]);
    let chain = ChainRef { length: VALUE_MAX_BYTES, ..chain };
    let reason = every_walk_is_corrupt(store, chain, pages[0], 1);
    assert!(reason.contains("already visited"), "{reason}");
}

#[test]
fn a_cycle_of_full_pages_is_corrupt_within_a_handful_of_reads() {
    for cycle in [2, 3, 5] {
        let mut store = MemPageStore::default();
        let (chain, pages) = full_chain(&mut store, cycle + 2);
        // The last page links back to the third: a cycle of `cycle` pages after two.
        let last = *pages.last().unwrap();
        set_next(&mut store, last, pages[2]);
        let chain = ChainRef { length: VALUE_MAX_BYTES, ..chain };
        // Brent's method meets the saved page within twice the cycle plus the lead-in.
        let reads_max = 2 + 2 * cycle as u64 + 2;
        let (store, reason) = bounded("a cycle read", move || {
            store.reset_reads();
            let result = redwood_overflow::read(&store, chain);
            (store, result)
        });
        match reason {
            Err(Error::Corrupt { page_id, reason }) => {
                assert!(pages.contains(&page_id), "{page_id}");
                assert!(reason.contains("already visited"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(store.reads() <= reads_max, "{} reads for a cycle of {cycle}", store.reads());
    }
}

#[test]
fn lengths_near_u64_max_are_corrupt_before_any_read() {
    for length in [u64::MAX, u64::MAX - 1, u64::MAX / 2, VALUE_MAX_BYTES + 1, 0] {
        let mut store = MemPageStore::default();
        let (chain, pages) = full_chain(&mut store, 1);
        let chain = ChainRef { length, ..chain };
        let reason = every_walk_is_corrupt(store, chain, pages[0], 0);
        assert!(reason.contains(&format!("{length} bytes")), "{reason}");
    }
}

#[test]
fn a_short_page_before_the_last_is_corrupt() {
    let mut store = MemPageStore::default();
    let (chain, pages) = full_chain(&mut store, 3);
    let short = payload_per_page(PageSize::DEFAULT) as u32 - 1;
    set_payload_bytes(&mut store, pages[1], short);
    let reason = every_walk_is_corrupt(store, chain, pages[1], 2);
    assert!(reason.contains("not full"), "{reason}");
}

#[test]
fn a_payload_past_the_page_is_corrupt() {
    for payload_bytes in [payload_per_page(PageSize::DEFAULT) as u32 + 1, u32::MAX] {
        let mut store = MemPageStore::default();
        let (chain, pages) = full_chain(&mut store, 2);
        set_payload_bytes(&mut store, pages[0], payload_bytes);
        let reason = every_walk_is_corrupt(store, chain, pages[0], 1);
        assert!(reason.contains("longer than the page"), "{reason}");
    }
}

#[test]
fn pages_holding_more_than_the_length_are_corrupt() {
    let mut store = MemPageStore::default();
    let (chain, pages) = full_chain(&mut store, 3);
    // The second page's full payload passes the value's length.
    let chain = ChainRef { length: payload_per_page(PageSize::DEFAULT) as u64 + 1, ..chain };
    let reason = every_walk_is_corrupt(store, chain, pages[1], 2);
    assert!(reason.contains("longer than its value"), "{reason}");
}

#[test]
fn a_chain_ending_short_of_its_length_is_corrupt() {
    let mut store = MemPageStore::default();
    let (chain, pages) = full_chain(&mut store, 2);
    let chain = ChainRef { length: chain.length + 1, ..chain };
    let reason = every_walk_is_corrupt(store, chain, pages[1], 2);
    assert!(reason.contains("shorter than its value"), "{reason}");
}
