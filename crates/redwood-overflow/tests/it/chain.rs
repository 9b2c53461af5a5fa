//! Chains on `MemPageStore`: round trips, freeing, and streamed reads of long chains.

use redwood_overflow::{Error, payload_per_page};
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

/// A chain of 100 contiguous pages is streamed in windows of 64 pages, never past the chain,
/// each page once, and reads back exactly.
#[test]
fn a_long_contiguous_chain_is_streamed_in_windows() {
    let mut store = MemPageStore::default();
    let per_page = payload_per_page(PageSize::DEFAULT);
    let original = value(100 * per_page - 10);
    let chain = redwood_overflow::write(&mut store, &original).unwrap();
    let chain_pages: Vec<PageId> = store.allocated().iter().copied().collect();
    assert_eq!(chain_pages.len(), 100);

    store.record_accesses(true);
    store.reset_reads();
    assert_eq!(redwood_overflow::read(&store, chain).unwrap(), original);
    let first = chain.first_page;
    let after = PageId::new(first.get() + 64);
    assert_eq!(store.accesses(), vec![Access::Stream(first, 64), Access::Stream(after, 36)]);
    assert_eq!(store.reads(), 100, "each page read once");
}

/// A short chain (under 16 pages) is read page by page, through the store's cache.
#[test]
fn a_short_chain_is_read_page_by_page() {
    let mut store = MemPageStore::default();
    let original = value(10 * payload_per_page(PageSize::DEFAULT));
    let chain = redwood_overflow::write(&mut store, &original).unwrap();
    store.record_accesses(true);
    assert_eq!(redwood_overflow::read(&store, chain).unwrap(), original);
    let accesses = store.accesses();
    assert_eq!(accesses.len(), 10);
    assert!(accesses.iter().all(|access| matches!(access, Access::Read(_))), "{accesses:?}");
}

/// A chain built by hand that runs over pages 0..20 of 60 allocated, then jumps to 40..60
/// (pages 20..40 hold nothing): the first window asks for pages that are not there and fails,
/// so the walk goes on page by page with smaller windows, and after the jump (no longer
/// contiguous) page by page; the value reads back exactly, and so does the integrity claim.
#[test]
fn a_window_over_missing_pages_falls_back_and_reads_exactly() {
    use redwood_pager::{PageBuf, PageWrite};
    let mut store = MemPageStore::default();
    let per_page = payload_per_page(PageSize::DEFAULT);
    let pages: Vec<PageId> = (0..60).map(|_| store.allocate().unwrap()).collect();
    let chain_pages: Vec<PageId> = pages[..20].iter().chain(&pages[40..]).copied().collect();
    let original = value(40 * per_page - 3);
    for (index, chunk) in original.chunks(per_page).enumerate() {
        let next = chain_pages.get(index + 1).map_or(0, |page| page.get());
        let mut page = PageBuf::zeroed(PageSize::DEFAULT);
        page.header_mut().page_type = redwood_overflow::OVERFLOW;
        let body = page.body_mut();
        body[..8].copy_from_slice(&next.to_le_bytes());
        body[8..12].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
        body[12..12 + chunk.len()].copy_from_slice(chunk);
        store.write_page(chain_pages[index], page).unwrap();
    }
    let chain = redwood_overflow::ChainRef { first_page: pages[0], length: original.len() as u64 };
    store.record_accesses(true);
    assert_eq!(redwood_overflow::read(&store, chain).unwrap(), original);
    let accesses = store.accesses();
    let read_pages: Vec<PageId> = accesses
        .iter()
        .filter_map(|access| if let Access::Read(page) = access { Some(*page) } else { None })
        .collect();
    assert!(read_pages.contains(&pages[40]), "after the jump, page by page: {accesses:?}");
    assert!(accesses.iter().filter(|access| matches!(access, Access::Stream(..))).count() <= 20);
    let mut claims = redwood_pager::PageClaims::default();
    redwood_overflow::claim(&store, chain, &mut claims).unwrap();
}
