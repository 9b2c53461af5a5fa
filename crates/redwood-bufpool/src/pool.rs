//! `BufferPool`: the slab of frames, the directory, the frames' state words, and the pager's
//! `PageCache` over them: `get` (the hit path: no lock, no shared write), `load` (the miss
//! path: a CLOCK victim latched, evicted, filled, published), `supersede`, `unpin`, `repin`,
//! and the budget shared with the write transaction, `budget_pages` and `set_reserved` (frames
//! beyond the capacity latched like victims, evicted, and their memory handed back).
//! The protocol is in the crate docs and in `ARCHITECTURE.md` ("Protocol (pins and latches)").

use std::ops::Range;
use std::sync::{Arc, PoisonError};

use redwood_pager::{Lsn, Page, PageCache, PageGuard, PageId, PageSize};

use crate::budget::Budget;
use crate::clock::{ClockPolicy, FrameState};
use crate::counters::{PoolCounters, PoolStats, StripedHits, bump, load};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::limits::{
    FRAMES_MAX, FRAMES_MIN, RELEASE_RUN_FRAMES_MAX, THRASH_RELOADS_MIN_DEFAULT,
    THRASH_WINDOW_MISSES_DEFAULT,
};
use crate::slab::Slab;
use crate::sync::{Mutex, MutexGuard};
use crate::thrash::{ThrashDetector, ThrashReport};

/// How to build a pool.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Bytes of page memory; the pool holds `budget_bytes / page_size` frames (at most
    /// [`FRAMES_MAX`]), reserved at once and made resident as frames are first loaded (and
    /// handed back while a write transaction's changed pages take part of the budget).
    pub budget_bytes: u64,
    /// The page size of every frame.
    pub page_size: PageSize,
    /// Misses that make up the thrash window.
    pub thrash_window_misses: u64,
    /// Quick reloads after which a page is reported as thrashing.
    pub thrash_reloads_min: u32,
    /// Where the pool counts its work (`hits` lags; see [`BufferPool::stats`]).
    pub counters: Arc<PoolCounters>,
}

impl PoolOptions {
    /// Options for a pool of `budget_bytes` with default thrash thresholds.
    pub fn new(budget_bytes: u64, page_size: PageSize) -> Self {
        Self {
            budget_bytes,
            page_size,
            thrash_window_misses: THRASH_WINDOW_MISSES_DEFAULT,
            thrash_reloads_min: THRASH_RELOADS_MIN_DEFAULT,
            counters: Arc::default(),
        }
    }
}

/// A bounded cache of immutable committed page versions, one version per page, handed out as
/// pinned frames with no copy. It implements the pager's [`PageCache`].
pub struct BufferPool {
    /// One metadata record (state word, page, interval) per frame.
    frames: Box<[Frame]>,
    /// The frames' bytes.
    slab: Slab,
    /// Which frames are resident, and how many may be.
    budget: Budget,
    directory: Directory,
    clock: ClockPolicy,
    hits: StripedHits,
    thrash: Mutex<ThrashDetector>,
    /// Resident frames whose page a newer version replaced (unmapped, so no new reader finds
    /// them): a loader reuses one of these before it takes memory a frame has not had, so the
    /// pool's memory follows what it holds, not every version it ever held. Hints, checked
    /// under the latch; at most one per frame.
    forgotten: Mutex<Vec<u32>>,
    counters: Arc<PoolCounters>,
    page_size: PageSize,
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl BufferPool {
    /// Reserves the pool's memory: its slab of page memory (untouched, so not resident until
    /// frames are loaded), its frames' metadata and the directory's top level. It never
    /// allocates page memory again; directory chunks come as pages of new ranges are loaded.
    pub fn new(options: PoolOptions) -> Result<Self> {
        let page_bytes = options.page_size.bytes() as u64;
        let frame_count = usize::try_from(options.budget_bytes / page_bytes)
            .unwrap_or(usize::MAX)
            .min(FRAMES_MAX);
        if frame_count < FRAMES_MIN {
            let budget_bytes = options.budget_bytes;
            return Err(Error::BudgetTooSmall { budget_bytes, page_bytes, frames_min: FRAMES_MIN });
        }
        let out_of_memory = |bytes: u64| Error::OutOfMemory { bytes, frames: frame_count };
        let slab_bytes = page_bytes.saturating_mul(frame_count as u64);
        let slab = Slab::new(frame_count, options.page_size.bytes())
            .ok_or_else(|| out_of_memory(slab_bytes))?;
        let mut frames = Vec::new();
        frames
            .try_reserve_exact(frame_count)
            .map_err(|_| out_of_memory((frame_count * size_of::<Frame>()) as u64))?;
        frames.extend((0..frame_count).map(|_| Frame::new()));
        let budget = Budget::new(frame_count)
            .ok_or_else(|| out_of_memory(frame_count.div_ceil(8) as u64))?;
        let thrash = ThrashDetector::new(options.thrash_window_misses, options.thrash_reloads_min);
        Ok(Self {
            frames: frames.into_boxed_slice(),
            slab,
            budget,
            directory: Directory::new(),
            clock: ClockPolicy::new(),
            hits: StripedHits::default(),
            thrash: Mutex::new(thrash),
            forgotten: Mutex::new(Vec::new()),
            counters: options.counters,
            page_size: options.page_size,
        })
    }

    /// Counters and shape. `hits` includes every hit that happened before the call (the
    /// per-thread hit stripes are moved into `PoolCounters::hits` first); `cached` and `pinned`
    /// are a sweep of the frames, exact when nothing runs concurrently. `memory_bytes` is the
    /// memory the pool holds resident: the page memory of every resident frame (loaded, and not
    /// handed back since), the frames' metadata (the resident bitmap included) and the
    /// directory.
    pub fn stats(&self) -> PoolStats {
        let counters = &self.counters;
        self.hits.flush(&counters.hits);
        let (mut cached, mut pinned) = (0, 0);
        for (index, frame) in self.frames.iter().enumerate() {
            if frame.pins() > 0 {
                pinned += 1;
            }
            if self.is_mapped(index) {
                cached += 1;
            }
        }
        let metadata =
            std::mem::size_of_val::<[Frame]>(&self.frames) as u64 + self.budget.memory_bytes();
        let pages = self.budget.resident() as u64 * self.page_size.bytes() as u64;
        PoolStats {
            hits: load(&counters.hits),
            misses: load(&counters.misses),
            evictions: load(&counters.evictions),
            reads: load(&counters.reads),
            failed_reads: load(&counters.failed_reads),
            thrash_reports: load(&counters.thrash_reports),
            frames: self.frames.len() as u64,
            cached,
            pinned,
            memory_bytes: pages + metadata + self.directory.memory_bytes(),
        }
    }

    /// The most frames that may be resident now: every frame, less the pages the open write
    /// transaction reserves ([`PageCache::set_reserved`]), never fewer than [`FRAMES_MIN`].
    pub fn capacity(&self) -> usize {
        self.budget.capacity()
    }

    /// Frames resident now (their memory touched and not handed back), exact when no load is
    /// in flight; at most [`BufferPool::capacity`] once the pins that held frames beyond it
    /// are released and as many loads have run.
    pub fn resident_frames(&self) -> usize {
        self.budget.resident()
    }

    /// The most recent thrash reports, oldest first.
    pub fn thrash_reports(&self) -> Vec<ThrashReport> {
        self.thrash_lock().reports()
    }

    /// Checks the directory against the frames: every entry points at a distinct, unlatched,
    /// resident frame that holds that entry's page; and the resident count matches the
    /// resident frames. Call with no loads in flight.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        let mut owners: Vec<Option<PageId>> = vec![None; self.frames.len()];
        for (page_id, frame) in self.directory.mapped() {
            let Some(owner) = owners.get_mut(frame) else {
                return Err(format!("{page_id} maps to frame {frame}, past the last frame"));
            };
            if let Some(other) = owner.replace(page_id) {
                return Err(format!("frame {frame} is mapped by {other} and by {page_id}"));
            }
            let held = &self.frames[frame];
            if held.page() != Some(page_id) {
                return Err(format!(
                    "{page_id} maps to frame {frame}, which holds {:?}",
                    held.page()
                ));
            }
            if held.is_latched() {
                return Err(format!("frame {frame} ({page_id}) is latched with no load in flight"));
            }
            if !self.budget.is_resident(frame) {
                return Err(format!("frame {frame} ({page_id}) is mapped but not resident"));
            }
        }
        let (counted, resident) = (self.budget.counted(), self.budget.resident());
        if counted != resident {
            return Err(format!("{counted} frames are resident, the count says {resident}"));
        }
        Ok(())
    }

    /// Whether the directory maps frame `index`'s page to it.
    fn is_mapped(&self, index: usize) -> bool {
        self.frames[index]
            .page()
            .and_then(|page_id| self.directory.entry(page_id))
            .is_some_and(|entry| entry.frame() == Some(index))
    }

    /// Latches a victim chosen by CLOCK among `victims`; `None` if every such frame stayed
    /// pinned for two sweeps. Frames with no memory are skipped through the resident bitmap (a
    /// hint) when only a resident frame will do, and the claimed frame is checked again under
    /// its latch, where the bit is exact.
    fn claim_victim(&self, victims: Victims) -> Option<usize> {
        let budget = &self.budget;
        let skip = |index| match victims {
            Victims::Resident => budget.absent_run(index),
            Victims::Any => 0,
        };
        self.clock.choose_victim_skipping(self.frames.len(), skip, |index| {
            let frame = &self.frames[index];
            if !frame.is_idle() {
                FrameState::Pinned
            } else if frame.take_reference() {
                FrameState::Referenced
            } else if !frame.try_latch() {
                FrameState::Pinned
            } else if victims == Victims::Resident && !budget.is_resident(index) {
                frame.unlatch();
                FrameState::Pinned
            } else {
                FrameState::Claimed
            }
        })
    }

    /// Latches a resident frame that a newer version replaced and nobody pins, if a few tries
    /// find one: the hints are checked under the latch (still resident, and its page not mapped
    /// to it: CLOCK may have reused the frame since the hint was left).
    fn claim_forgotten(&self) -> Option<usize> {
        for _ in 0..FORGOTTEN_TRIES {
            let index = self.forgotten_lock().pop()? as usize;
            let frame = &self.frames[index];
            if !frame.is_idle() || !frame.try_latch() {
                continue;
            }
            let mapped = frame.page().and_then(|page| self.directory.entry(page)?.frame());
            if self.budget.is_resident(index) && mapped != Some(index) {
                return Some(index);
            }
            frame.unlatch();
        }
        None
    }

    fn forgotten_lock(&self) -> MutexGuard<'_, Vec<u32>> {
        self.forgotten.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Latches a frame with no memory, for a loader below the capacity: the first idle one
    /// from the budget's hint on, wrapping around once (not CLOCK's hand: such a frame holds
    /// nothing to age, and the scan sees every frame once, where a shared hand could keep
    /// showing it the same few). `None` if every one is busy (or there is none).
    fn claim_absent(&self) -> Option<usize> {
        let frames = self.frames.len();
        let start = self.budget.free_hint().min(frames);
        for (from, to) in [(start, frames), (0, start)] {
            let mut at = from;
            while let Some(index) = self.budget.next_absent(at, to) {
                let frame = &self.frames[index];
                if frame.is_idle() && frame.try_latch() {
                    if !self.budget.is_resident(index) {
                        self.budget.taken(index);
                        return Some(index);
                    }
                    frame.unlatch();
                }
                at = index + 1;
            }
        }
        None
    }

    /// Under `frame`'s latch, before it is reused for `replacing` (or released, `None`): unmaps
    /// the page it held if the directory still points at it. Returns the evicted page; a newer
    /// version of a page replacing an older one in place is no eviction.
    fn unmap_victim(&self, frame: usize, replacing: Option<PageId>) -> Option<PageId> {
        let held = self.frames[frame].page()?;
        let unmapped = self.directory.entry(held).is_some_and(|entry| entry.unmap(frame));
        (unmapped && Some(held) != replacing).then_some(held)
    }

    /// Counts a miss on `page_id` (and the eviction it caused) and feeds the thrash detector.
    fn record_miss(&self, page_id: PageId, evicted: Option<PageId>) {
        bump(&self.counters.misses);
        let mut thrash = self.thrash_lock();
        if let Some(evicted) = evicted {
            bump(&self.counters.evictions);
            thrash.on_evict(evicted);
        }
        if thrash.on_miss(page_id).is_some() {
            bump(&self.counters.thrash_reports);
        }
    }

    /// Hands back the memory of resident, unpinned frames, CLOCK's victims, while more frames
    /// are resident than the capacity allows, at most `most`; returns how many. Each victim is
    /// latched as a load latches one, evicted (unmapped and counted as an eviction), emptied
    /// and taken out of the resident count; consecutive victims are handed back together, in
    /// runs of at most [`RELEASE_RUN_FRAMES_MAX`], and unlatched once their memory is gone.
    /// Stops when no victim can be claimed (every resident frame pinned); it takes no lock and
    /// never waits.
    fn shrink(&self, most: usize) -> usize {
        let mut run = 0..0;
        let mut released = 0;
        while released < most && self.budget.excess() > 0 {
            let Some(index) = self.claim_victim(Victims::Resident) else {
                break;
            };
            // Counted, but not fed to the thrash detector: a release of many frames at once
            // would grow its map by every page released, where a load's eviction adds one per
            // miss (the window it forgets by), and it would take the detector's lock.
            if self.unmap_victim(index, None).is_some() {
                bump(&self.counters.evictions);
            }
            let frame = &self.frames[index];
            frame.clear();
            frame.forget();
            self.budget.release(index);
            released += 1;
            if !run.is_empty() && index == run.end && run.len() < RELEASE_RUN_FRAMES_MAX {
                run.end += 1;
            } else {
                self.release_run(run);
                run = index..index + 1;
            }
        }
        self.release_run(run);
        released
    }

    /// Hands the memory of the frames `run` back to the operating system, then unlatches them:
    /// this thread latched each (`claim_victim`) and emptied it.
    #[expect(unsafe_code, reason = "releases slab frames under their latches; see SAFETY")]
    fn release_run(&self, run: Range<usize>) {
        // SAFETY: this thread holds the exclusive latch of every frame in `run`, each taken by
        // `compare_exchange(0, EXCLUSIVE, Acquire)` in `claim_victim`: no pin was held then (so
        // no guard's slice of these frames is alive, and every earlier reader's unpin, a
        // `Release`, happens-before the latch), and no pin can be taken until the latches are
        // released below (`try_pin` backs off without touching the bytes); `fill` and `guard`
        // are not called on them meanwhile. The call returns before any latch is released.
        unsafe { self.slab.release(run.start, run.len()) };
        for index in run {
            self.frames[index].unlatch();
        }
    }

    /// The guard over `frame`, which the caller pinned for it.
    #[expect(unsafe_code, reason = "reads a slab frame under a pin; see SAFETY")]
    fn guard(&self, frame: usize) -> PageGuard<'_> {
        // SAFETY: the caller holds a pin on `frame` (taken by `Frame::try_pin` with `Acquire`,
        // or kept by `Frame::unlatch_pinned` after this thread's own writes), and the pin lives
        // as long as the guard: it is released by the guard's drop (`PageCache::unpin`). A
        // pinned frame is never latched (`try_latch` needs a state of 0), and only the latch
        // holder calls `frame_mut` or `release`, so no `&mut` to the frame exists and its
        // memory is not handed back while the slice lives; the loader's writes (and a release
        // before them) happen-before the pin (Release on unlatch, Acquire on pin).
        let bytes = unsafe { self.slab.frame(frame) };
        let page = Page::from_bytes(bytes).expect("a frame is one page");
        let index = u32::try_from(frame).expect("FRAMES_MAX keeps frame indexes in range");
        // SAFETY: (as above) the caller's pin on `frame` goes to the guard, which releases it
        // once, and the frame's bytes do not change while it is pinned.
        unsafe { PageGuard::pinned(page, self, index) }
    }

    /// Runs `load` on the bytes of `frame`, which this thread has latched.
    #[expect(unsafe_code, reason = "writes a slab frame under its latch; see SAFETY")]
    fn fill(
        &self,
        frame: usize,
        load: &mut dyn FnMut(&mut Page) -> redwood_pager::Result<()>,
    ) -> redwood_pager::Result<()> {
        // SAFETY: this thread holds `frame`'s exclusive latch, taken by `compare_exchange(0,
        // EXCLUSIVE, Acquire)`: no pin was held then (so no guard's slice of the frame is
        // alive, and every earlier reader's unpin, a `Release`, happens-before the latch), and
        // no pin can be taken until the latch is released (`try_pin` backs off without
        // touching the bytes). The slice does not outlive this call, which ends before the
        // latch is released.
        let bytes = unsafe { self.slab.frame_mut(frame) };
        load(Page::from_bytes_mut(bytes).expect("a frame is one page"))
    }

    fn thrash_lock(&self) -> MutexGuard<'_, ThrashDetector> {
        self.thrash.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which frames a sweep for a victim may claim.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Victims {
    /// Any frame (a loader below the capacity whose frames with no memory are all busy).
    Any,
    /// Only a resident frame: its memory is reused (a loader at the capacity) or handed back.
    Resident,
}

/// Hints `claim_forgotten` looks at before a load takes another frame.
const FORGOTTEN_TRIES: usize = 4;

/// The pager's read path through the pool. A hit is a directory load, a pin and a check of the
/// frame's interval: no lock, and no write to any line shared with other threads (the hit is
/// counted in this thread's stripe). See [`PageCache`] for the contract with the pager.
impl PageCache for BufferPool {
    fn get(&self, page_id: PageId, snapshot: Lsn) -> Option<PageGuard<'_>> {
        let index = self.directory.entry(page_id)?.frame()?;
        // The page's first lines are fetched while the pin's atomic add waits for the frame's
        // metadata line: the two misses overlap instead of queueing (the add is a full fence).
        self.slab.prefetch(index);
        let frame = &self.frames[index];
        if !frame.try_pin() {
            return None;
        }
        // The entry was only a hint: the frame may have been reloaded since (another page, or
        // a newer version that this snapshot does not see).
        if !frame.holds(page_id, snapshot) {
            frame.unpin();
            return None;
        }
        frame.touch();
        self.hits.bump(&self.counters.hits);
        Some(self.guard(index))
    }

    fn load(
        &self,
        page_id: PageId,
        from: Lsn,
        load: &mut dyn FnMut(&mut Page) -> redwood_pager::Result<()>,
    ) -> redwood_pager::Result<Option<PageGuard<'_>>> {
        let Some(entry) = self.directory.entry_or_insert(page_id) else {
            // Beyond the directory: never cached, the pager reads around.
            self.record_miss(page_id, None);
            return Ok(None);
        };
        // Below the capacity, a frame with no memory (nothing is evicted while the budget has
        // room), or any if those are all busy for a moment; at the capacity, only a resident
        // frame, whose memory is reused.
        // A replaced version's frame first (its memory is resident already); then, below the
        // capacity, a frame with no memory (nothing is evicted while the budget has room), or
        // any if those are all busy for a moment; at the capacity, only a resident frame,
        // whose memory is reused.
        let (claimed, admitted) = match self.claim_forgotten() {
            Some(index) => (Some(index), false),
            None => {
                let admitted = self.budget.try_admit();
                let claimed = if admitted {
                    self.claim_absent().or_else(|| self.claim_victim(Victims::Any))
                } else {
                    self.claim_victim(Victims::Resident)
                };
                (claimed, admitted)
            }
        };
        let Some(index) = claimed else {
            if admitted {
                self.budget.cancel_admission();
            }
            self.record_miss(page_id, None);
            return Ok(None);
        };
        let frame = &self.frames[index];
        let evicted = self.unmap_victim(index, Some(page_id));
        self.record_miss(page_id, evicted);
        frame.assign(page_id, from);
        if self.budget.settle(index, admitted) {
            bump(&self.counters.frames_allocated);
        }
        if let Err(error) = self.fill(index, load) {
            // Nothing is cached: the directory never pointed here for this page.
            frame.clear();
            frame.unlatch();
            bump(&self.counters.failed_reads);
            return Err(error);
        }
        frame.touch();
        frame.unlatch_pinned();
        // Published after the latch is released, so a reader that finds the entry can pin.
        if let Some(replaced) = entry.publish(index)
            && replaced != index
        {
            // An older version's frame, now unmapped: readers that pinned it keep reading it;
            // once they are gone, it is the first to be reused.
            self.frames[replaced].forget();
            let mut forgotten = self.forgotten_lock();
            if forgotten.len() < self.frames.len() {
                forgotten.push(u32::try_from(replaced).expect("FRAMES_MAX keeps indexes in u32"));
            }
        }
        bump(&self.counters.reads);
        // A reserve that grew while frames were pinned left more frames resident than it
        // allows: each load hands one more back until the excess is gone.
        if self.budget.excess() > 0 {
            self.shrink(1);
        }
        Ok(Some(self.guard(index)))
    }

    fn supersede(&self, page_id: PageId, at: Lsn) {
        // No load runs meanwhile (the pager's contract), so the mapped frame holds `page_id`
        // and keeps holding it.
        if let Some(index) = self.directory.entry(page_id).and_then(|entry| entry.frame()) {
            self.frames[index].supersede(page_id, at);
        }
    }

    fn budget_pages(&self) -> usize {
        self.frames.len()
    }

    /// Lowers the capacity to the frames less `pages` (never below [`FRAMES_MIN`]), then hands
    /// back the memory of unpinned frames (CLOCK's victims, evicted) until no more are resident
    /// than that, or none can be claimed: pinned frames stay, and later loads release one each
    /// until the excess is gone. `0` gives the whole budget back. Never blocks.
    fn set_reserved(&self, pages: usize) {
        let before = self.frames.len() - self.budget.capacity();
        self.budget.reserve(pages);
        self.shrink(usize::MAX);
        let given_back = before.saturating_sub(pages) as u64 * self.page_size.bytes() as u64;
        if given_back >= crate::limits::HEAP_TRIM_MIN_BYTES {
            // The transaction's dirty pages were heap buffers, freed by now; the allocator
            // keeps freed heap unless asked, and the budget is for both.
            crate::slab::return_free_heap();
        }
    }

    // SAFETY (of the callers, `PageGuard`): each call releases or copies a pin the caller owns.
    #[expect(unsafe_code, reason = "the trait's pin release; only PageGuard calls it")]
    unsafe fn unpin(&self, frame: u32) {
        self.frames[frame as usize].unpin();
    }

    #[expect(unsafe_code, reason = "the trait's pin copy; only PageGuard calls it")]
    unsafe fn repin(&self, frame: u32) {
        self.frames[frame as usize].repin();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! Small pools driven through the pin protocol on several threads, small enough for miri
    //! (`cargo +nightly miri test -p redwood-bufpool --lib pool`), which checks the slab
    //! accesses the protocol makes for aliasing and data races.

    use redwood_pager::PageSize;

    use super::*;

    /// Fills a page with `tag` (no seal: miri runs this, and checksums are slow there).
    fn fill_with(tag: u8) -> impl FnMut(&mut Page) -> redwood_pager::Result<()> {
        move |page: &mut Page| {
            page.as_mut_bytes().fill(tag);
            Ok(())
        }
    }

    #[test]
    fn readers_and_loaders_on_two_threads_see_only_whole_right_pages() {
        let pool = BufferPool::new(PoolOptions::new(2 * 4096, PageSize::DEFAULT)).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..2u64 {
                let pool = &pool;
                scope.spawn(move || {
                    for round in 0..6u64 {
                        let page = (thread + round) % 3 + 1;
                        let tag = page as u8;
                        let guard = match pool.get(PageId::new(page), Lsn::new(1)) {
                            Some(guard) => Some(guard),
                            None => pool
                                .load(PageId::new(page), Lsn::new(1), &mut fill_with(tag))
                                .unwrap(),
                        };
                        if let Some(guard) = guard {
                            assert!(guard.as_bytes().iter().all(|&byte| byte == tag));
                        }
                    }
                });
            }
        });
        pool.check_invariants().unwrap();
        assert_eq!(pool.stats().pinned, 0);
    }

    #[test]
    fn a_reserve_hands_back_idle_frames_while_a_pinned_one_is_read_on_another_thread() {
        let pool = BufferPool::new(PoolOptions::new(4 * 4096, PageSize::DEFAULT)).unwrap();
        let pinned = pool.load(PageId::new(1), Lsn::new(1), &mut fill_with(1)).unwrap().unwrap();
        for page in 2..5 {
            drop(pool.load(PageId::new(page), Lsn::new(1), &mut fill_with(page as u8)).unwrap());
        }
        assert_eq!(pool.resident_frames(), 4);
        std::thread::scope(|scope| {
            let pool = &pool;
            scope.spawn(move || {
                for _ in 0..3 {
                    let guard = pool.get(PageId::new(1), Lsn::new(1)).expect("pinned, so cached");
                    assert!(guard.as_bytes().iter().all(|&byte| byte == 1));
                }
            });
            // Miri zeroes what is handed back: a release of the pinned frame would be a race.
            pool.set_reserved(2);
        });
        assert!(pinned.as_bytes().iter().all(|&byte| byte == 1), "the pinned frame was kept");
        let stats = pool.stats();
        assert_eq!((pool.capacity(), pool.resident_frames(), stats.cached), (2, 2, 2));
        assert_eq!(stats.evictions, 2);
        pool.check_invariants().unwrap();
        drop(pinned);
        pool.set_reserved(0);
        for page in 5..13 {
            let tag = page as u8;
            let guard = pool.load(PageId::new(page), Lsn::new(1), &mut fill_with(tag)).unwrap();
            assert!(guard.unwrap().as_bytes().iter().all(|&byte| byte == tag));
        }
        assert_eq!(pool.resident_frames(), 4, "the whole budget is back");
        pool.check_invariants().unwrap();
    }

    #[test]
    fn a_guard_clone_holds_its_own_pin() {
        let pool = BufferPool::new(PoolOptions::new(2 * 4096, PageSize::DEFAULT)).unwrap();
        let guard = pool.load(PageId::new(1), Lsn::new(1), &mut fill_with(1)).unwrap().unwrap();
        let clone = guard.clone();
        drop(guard);
        assert_eq!(pool.stats().pinned, 1);
        for page in 2..6 {
            drop(pool.load(PageId::new(page), Lsn::new(1), &mut fill_with(page as u8)).unwrap());
        }
        assert!(clone.as_bytes().iter().all(|&byte| byte == 1), "the pinned frame was kept");
        drop(clone);
        assert_eq!(pool.stats().pinned, 0);
    }
}
