//! Redwood overflow chains: values too large for a B+Tree leaf, stored in a chain of pages.
//!
//! Chain page (page type 20, `docs/FORMAT.md`): after the page header, the next page of the
//! chain (8 bytes, 0 at the end), the payload length (4 bytes), the payload. A value of `n`
//! bytes takes `ceil(n / payload_per_page)` pages, allocated in one go so they are as contiguous
//! as the free-space map allows, and written in the same transaction: one commit, one fsync,
//! whatever the value's size (P2).
//!
//! Long chains are read in large runs around the cache (R6): a chain's pages are allocated in
//! one go, so they are usually a contiguous run; while the chain has been contiguous so far, a
//! chain of at least 16 pages asks `PageRead::stream_pages` for the next 64 pages it expects
//! (never past the chain's length), which the pager reads with one I/O per run of data-file
//! pages, not into the cache: a 2 MB value read once neither evicts the cached tree nor pays a
//! system call per page. A wrong guess costs a wasted read, never a wrong result: every page is
//! still checked in chain order, the window stops at the first page that is not the chain's
//! next, and a window that fails (a guessed page that is no page) is retried page by page.
//! Shorter chains are read through the cache, page by page.
//!
//! Reads copy each payload once: every chain page is read as a view of the page where the store
//! holds it (`PageRead::read_page`'s guard, a pinned cache frame with a cache), and its payload
//! goes straight into the value (`read`, `read_into`). Writes build each page in a buffer.
//!
//! Bounds: a chain is read from pages whose checksums pass but whose contents may be malformed,
//! so every walk is bounded before it starts and on every step, in time and memory. A length of
//! 0 or above `VALUE_MAX_BYTES` is `Corrupt` before any page is read; every page but the last
//! carries a full payload (`payload_per_page`) and the running total never passes the length,
//! so a walk reads at most `ceil(length / payload_per_page)` pages; and a page id met again (a
//! page naming itself, or any cycle, found with Brent's method: one comparison per step, no
//! memory) is `Corrupt` within about twice the cycle's length plus its start. A read allocates
//! the value's length (at most `VALUE_MAX_BYTES`) once the first page has passed its checks.
//!
//! What it does not do: like the B+Tree, it sees pages only through the pager's `PageRead` /
//! `PageWrite` capabilities; the facade stores the chain's first page and length in the leaf.

use redwood_pager::{
    PAGE_HEADER_BYTES, Page, PageBuf, PageClaims, PageId, PageRead, PageSize, PageWrite,
};

/// The page type of a chain page.
pub const OVERFLOW: u8 = 20;
/// The largest value a chain holds (1 GiB): a bound on reads of damaged lengths. The B+Tree
/// refuses leaf references above the same bound (`redwood_btree::limits::OVERFLOW_VALUE_MAX_BYTES`
/// is this constant).
pub const VALUE_MAX_BYTES: u64 = 1 << 30;
const CHAIN_HEADER_BYTES: usize = 8 + 4;

/// The result type of chain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with a chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value longer than a chain may hold.
    #[error("a value of {bytes} bytes is longer than the limit of {max_bytes}")]
    TooLarge {
        /// The value's length.
        bytes: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// A chain page violates the format, or the chain does not add up to its length.
    #[error("corrupt overflow chain at {page_id}: {reason}")]
    Corrupt {
        /// The page at fault.
        page_id: PageId,
        /// What is wrong.
        reason: String,
    },
    /// The pager failed.
    #[error(transparent)]
    Pager(#[from] redwood_pager::Error),
}

/// Where a stored value is: its chain's first page and its length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChainRef {
    /// The first page of the chain.
    pub first_page: PageId,
    /// The value's length in bytes.
    pub length: u64,
}

/// Payload bytes per chain page.
pub fn payload_per_page(page_size: PageSize) -> usize {
    page_size.bytes() - PAGE_HEADER_BYTES - CHAIN_HEADER_BYTES
}

/// Stores `value` in a new chain (pages allocated up front, then written in order).
pub fn write(store: &mut impl PageWrite, value: &[u8]) -> Result<ChainRef> {
    let length = value.len() as u64;
    if length > VALUE_MAX_BYTES || value.is_empty() {
        return Err(Error::TooLarge { bytes: length, max_bytes: VALUE_MAX_BYTES });
    }
    let chunks: Vec<&[u8]> = value.chunks(payload_per_page(store.page_size())).collect();
    let pages: Vec<PageId> =
        (0..chunks.len()).map(|_| store.allocate()).collect::<redwood_pager::Result<_>>()?;
    for (index, chunk) in chunks.iter().enumerate() {
        let next = pages.get(index + 1).map_or(0, |page| page.get());
        let mut page = PageBuf::zeroed(store.page_size());
        page.header_mut().page_type = OVERFLOW;
        let body = page.body_mut();
        body[..8].copy_from_slice(&next.to_le_bytes());
        body[8..12].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
        body[CHAIN_HEADER_BYTES..CHAIN_HEADER_BYTES + chunk.len()].copy_from_slice(chunk);
        store.write_page(pages[index], page)?;
    }
    Ok(ChainRef { first_page: pages[0], length })
}

/// Reads the value a chain holds, checking every page and the total length.
pub fn read(store: &impl PageRead, chain: ChainRef) -> Result<Vec<u8>> {
    let mut value = Vec::new();
    read_into(store, chain, &mut value)?;
    Ok(value)
}

/// Appends the value a chain holds to `value`, checking every page and the total length. Each
/// page's payload is copied once, from the page where the store holds it (a pinned cache frame,
/// say) straight into `value`. On an error `value` is left as it was.
pub fn read_into(store: &impl PageRead, chain: ChainRef, value: &mut Vec<u8>) -> Result<()> {
    let start = value.len();
    let mut reserved = false;
    let walked = walk(store, chain, |_, payload| {
        if !reserved {
            // `walk` checked the length (at most `VALUE_MAX_BYTES`) and the first page: the
            // whole value is allocated once, and only for a chain that looks like one.
            value.reserve_exact(usize::try_from(chain.length).unwrap_or(usize::MAX));
            reserved = true;
        }
        value.extend_from_slice(payload);
    });
    if walked.is_err() {
        value.truncate(start);
    }
    walked
}

/// Frees every page of a chain.
pub fn free(store: &mut impl PageWrite, chain: ChainRef) -> Result<()> {
    let mut pages = Vec::new();
    walk(store, chain, |page_id, _| pages.push(page_id))?;
    let first = pages.first().copied();
    for page_id in pages {
        store.free(page_id)?;
    }
    use redwood_pager::engine_faults::{EngineFault, is_on};
    if let Some(first) = first.filter(|_| is_on(EngineFault::DoubleFree)) {
        store.free(first)?;
    }
    Ok(())
}

/// Claims every page of a chain (for the integrity check).
pub fn claim(store: &impl PageRead, chain: ChainRef, claims: &mut PageClaims) -> Result<()> {
    walk(store, chain, |page_id, _| claims.claim(page_id, "overflow chain"))
}

fn corrupt(page_id: PageId, reason: &str) -> Error {
    Error::Corrupt { page_id, reason: reason.to_owned() }
}

/// One chain page's header, checked.
struct Link {
    /// The next page, `None` at the end of the chain.
    next: Option<PageId>,
    /// Payload bytes on this page: at most a page's payload and the value's remaining bytes.
    payload_bytes: usize,
}

/// Checks the chain page `page` (at `page_id`): its type, and a payload that fits in the page
/// and in the `remaining` bytes of the value.
fn parse_page(page: &Page, page_id: PageId, per_page: usize, remaining: u64) -> Result<Link> {
    if page.page_type().get() != OVERFLOW {
        return Err(corrupt(page_id, "not an overflow page"));
    }
    let body = page.body();
    let mut next_bytes = [0u8; 8];
    next_bytes.copy_from_slice(&body[..8]);
    let mut length_bytes = [0u8; 4];
    length_bytes.copy_from_slice(&body[8..CHAIN_HEADER_BYTES]);
    let payload_bytes = u32::from_le_bytes(length_bytes);
    // A u32 always fits a usize on the targets Redwood builds for (64-bit); a larger value
    // than the page holds is refused either way.
    let payload_bytes = usize::try_from(payload_bytes).unwrap_or(usize::MAX);
    if payload_bytes > per_page {
        return Err(corrupt(page_id, "payload longer than the page"));
    }
    if payload_bytes as u64 > remaining {
        return Err(corrupt(page_id, "the chain is longer than its value"));
    }
    let next = match u64::from_le_bytes(next_bytes) {
        0 => None,
        raw => Some(PageId::new(raw)),
    };
    Ok(Link { next, payload_bytes })
}

/// Brent's cycle detection over the page ids of a chain: a saved id, replaced at steps 1, 2, 4,
/// 8, ...; a link to the saved id closes a cycle. A chain that reaches a cycle after `mu` pages
/// meets its saved id within about `mu + 2 * lambda` steps for a cycle of `lambda` pages, and a
/// page naming itself on the first step.
struct CycleCheck {
    saved: PageId,
    steps: u64,
    power: u64,
}

impl CycleCheck {
    fn new(first: PageId) -> Self {
        Self { saved: first, steps: 0, power: 1 }
    }

    /// The link from `from` to `to`: `Corrupt` at `from` if it closes a cycle.
    fn step(&mut self, from: PageId, to: PageId) -> Result<()> {
        if to == from || to == self.saved {
            return Err(corrupt(from, "the chain links back to a page it has already visited"));
        }
        self.steps += 1;
        if self.steps == self.power {
            (self.saved, self.steps, self.power) = (to, 0, self.power.saturating_mul(2));
        }
        Ok(())
    }
}

/// Visits each page of a chain with its payload, bounded by the chain's length (see the crate
/// docs): every page is checked before it is visited. A long chain is read in windows of the
/// pages it is expected to hold next (`PageRead::stream_pages`, around the cache) while it has
/// been contiguous; a short one, or one that is not contiguous, page by page through the cache.
fn walk(
    store: &impl PageRead,
    chain: ChainRef,
    mut visit: impl FnMut(PageId, &[u8]),
) -> Result<()> {
    if chain.length == 0 || chain.length > VALUE_MAX_BYTES {
        let reason = format!("a value of {} bytes, outside 1..={VALUE_MAX_BYTES}", chain.length);
        return Err(Error::Corrupt { page_id: chain.first_page, reason });
    }
    let per_page = payload_per_page(store.page_size());
    let pages_max = chain.length.div_ceil(per_page as u64);
    let mut walker = Walker {
        chain,
        per_page,
        pages_max,
        visited: 0,
        next: Some(chain.first_page),
        total: 0,
        cycle: CycleCheck::new(chain.first_page),
        contiguous: true,
        last: chain.first_page,
    };
    let streamed = pages_max >= STREAM_PAGES_MIN;
    let mut window_pages = STREAM_WINDOW_PAGES;
    let mut one_page = false;
    while let Some(next) = walker.next {
        if walker.visited == pages_max {
            return Err(corrupt(next, "the chain is longer than its value"));
        }
        let left = pages_max - walker.visited;
        if !streamed || !walker.contiguous || one_page || left == 1 {
            // A view of the page where the store holds it, let go of before the next is read.
            let page = store.read_page(next)?;
            walker.step(next, &page, &mut visit)?;
            one_page = false;
            continue;
        }
        // The pages the chain holds next if it stays contiguous: never more than it has left.
        let window: Vec<PageId> = (0..left.min(window_pages))
            .map_while(|offset| next.get().checked_add(offset).map(PageId::new))
            .collect();
        let (mut failure, visited_before) = (None, walker.visited);
        let streamed_ok = store.stream_pages(&window, &mut |page| {
            let Some(expected) = walker.next.filter(|&expected| page.page_id() == expected) else {
                return false;
            };
            match walker.step(expected, page, &mut visit) {
                Ok(()) => walker.next.is_some() && walker.contiguous,
                Err(error) => {
                    failure = Some(error);
                    false
                }
            }
        });
        if let Some(error) = failure {
            return Err(error);
        }
        if streamed_ok.is_ok() && walker.visited == visited_before {
            // A store that handed back nothing of the window: the next page alone, then on.
            one_page = true;
        } else if streamed_ok.is_err() {
            // A guessed page past the chain's last contiguous one may be no page at all (a
            // segment's map pages, the file's end): the walk reads its known next page alone,
            // where a real fault is reported, and asks for smaller windows from then on.
            window_pages = (window_pages / 2).max(1);
            one_page = true;
        }
    }
    if walker.total == chain.length {
        Ok(())
    } else {
        Err(corrupt(walker.last, "the chain is shorter than its value"))
    }
}

/// Chains at least this long are read around the cache in windows (64 KiB of 4 KiB pages):
/// shorter values are likelier to be read again, and stay in the cache.
const STREAM_PAGES_MIN: u64 = 16;
/// Pages asked for in one window (one read of 256 KiB of 4 KiB pages when they are in the
/// data file).
const STREAM_WINDOW_PAGES: u64 = 64;

/// The state of one walk: where it is, what it has counted, and the checks that bound it.
struct Walker {
    chain: ChainRef,
    per_page: usize,
    pages_max: u64,
    /// Pages visited so far.
    visited: u64,
    /// The next page to visit, `None` after the last.
    next: Option<PageId>,
    /// Payload bytes visited so far.
    total: u64,
    cycle: CycleCheck,
    /// Whether every link so far went to the next page id.
    contiguous: bool,
    /// The page visited last (the first page before any).
    last: PageId,
}

impl Walker {
    /// Checks `page` (at `page_id`, the walk's next page), visits its payload and follows its
    /// link.
    fn step(
        &mut self,
        page_id: PageId,
        page: &Page,
        visit: &mut impl FnMut(PageId, &[u8]),
    ) -> Result<()> {
        debug_assert_eq!(Some(page_id), self.next, "the walk visits its next page");
        debug_assert!(self.visited < self.pages_max, "the walk is bounded by the length");
        let link = parse_page(page, page_id, self.per_page, self.chain.length - self.total)?;
        let payload = &page.body()[CHAIN_HEADER_BYTES..CHAIN_HEADER_BYTES + link.payload_bytes];
        self.total += link.payload_bytes as u64;
        self.visited += 1;
        self.last = page_id;
        visit(page_id, payload);
        self.next = link.next;
        let Some(following) = link.next else { return Ok(()) };
        // Only the last page may be short: a short page in the middle is damage, and full
        // pages are what bound the walk by the length.
        if link.payload_bytes != self.per_page {
            return Err(corrupt(page_id, "a page before the last is not full"));
        }
        self.cycle.step(page_id, following)?;
        self.contiguous &= following.get() == page_id.get().saturating_add(1);
        Ok(())
    }
}
