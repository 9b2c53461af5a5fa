//! Chains on `MemPageStore`: round trips, freeing, and the read-ahead hints.

use redwood_overflow::{Error, READ_AHEAD_PAGES, payload_per_page};
use redwood_pager::testing::{Access, MemPageStore};
use redwood_pager::{PageId, PageSize};

fn value(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index % 251) as u8).collect()
}

/// Values of one byte up to several pages, on both sides of every page boundary, read back
/// byte for byte; freeing a chain frees exactly its pages.
#[test]
fn values_round_trip_and_free_every_page() {
    let per_page = payload_per_page(PageSize::DEFAULT);
    let lengths = [1, 2, per_page - 1, per_page, per_page + 1, 3 * per_page, 3 * per_page + 7];
    for length in lengths {
        let mut store = MemPageStore::default();
        let original = value(length);
        let chain = redwood_overflow::write(&mut store, &original).unwrap();
        assert_eq!(chain.length, length as u64);
        assert_eq!(store.allocated().len(), length.div_ceil(per_page), "pages for {length} bytes");
        assert_eq!(redwood_overflow::read(&store, chain).unwrap(), original);
        redwood_overflow::free(&mut store, chain).unwrap();
        assert!(store.allocated().is_empty(), "every page of a {length}-byte chain is freed");
    }
}

#[test]
fn an_empty_value_is_not_a_chain() {
    let mut store = MemPageStore::default();
    assert!(matches!(redwood_overflow::write(&mut store, b""), Err(Error::TooLarge { .. })));
}

/// A chain of 100 contiguous pages: each page after the first is hinted before it is read,
/// hints run at most `READ_AHEAD_PAGES` ahead of the read, never past the chain, and each page
/// is hinted once.
#[test]
fn reads_hint_the_pages_ahead() {
    let mut store = MemPageStore::default();
    let per_page = payload_per_page(PageSize::DEFAULT);
    let original = value(100 * per_page - 10);
    let chain = redwood_overflow::write(&mut store, &original).unwrap();
    let chain_pages: Vec<PageId> = store.allocated().iter().copied().collect();
    assert_eq!(chain_pages.len(), 100);

    store.record_accesses(true);
    assert_eq!(redwood_overflow::read(&store, chain).unwrap(), original);
    let accesses = store.accesses();
    let reads: Vec<PageId> = accesses
        .iter()
        .filter_map(|access| if let Access::Read(page) = access { Some(*page) } else { None })
        .collect();
    assert_eq!(reads, chain_pages, "every page read once, in chain order");
    let mut hinted = Vec::new();
    let mut last_read: Option<PageId> = None;
    for access in &accesses {
        match *access {
            Access::Hint(page_id) => {
                let reading = last_read.map_or(chain.first_page.get(), |page| page.get() + 1);
                assert!(page_id.get() <= reading + READ_AHEAD_PAGES, "{page_id} hinted too early");
                assert!(chain_pages.contains(&page_id), "{page_id} is not in the chain");
                hinted.push(page_id);
            }
            Access::Read(page_id) => {
                if page_id != chain.first_page {
                    assert!(hinted.contains(&page_id), "{page_id} read before it was hinted");
                }
                last_read = Some(page_id);
            }
        }
    }
    assert_eq!(hinted, chain_pages[1..], "each page after the first hinted once, in order");
}
