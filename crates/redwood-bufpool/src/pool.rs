//! `BufferPool`: the frame arena, the page table, pins, loading and eviction. The protocol is in
//! `ARCHITECTURE.md` ("Protocol (pins and latches)").

use std::ops::Deref;

use rustc_hash::FxHashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use crate::sync::{AtomicBool, AtomicU32, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use redwood_pager::{CacheKey, PageBuf, PageCache, PageSize};

use crate::clock::{ClockPolicy, FrameState};
use crate::counters::{PoolCounters, PoolStats, bump, load};
use crate::error::{Error, Result};
use crate::limits::{
    FRAMES_MIN, LOAD_RETRIES_MAX, THRASH_RELOADS_MIN_DEFAULT, THRASH_WINDOW_MISSES_DEFAULT,
};
use crate::thrash::{ThrashDetector, ThrashReport};

/// How to build a pool.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Bytes of page memory; the pool holds `budget_bytes / page_size` frames, allocated once.
    pub budget_bytes: u64,
    /// The page size of every frame.
    pub page_size: PageSize,
    /// Misses that make up the thrash window.
    pub thrash_window_misses: u64,
    /// Quick reloads after which a page is reported as thrashing.
    pub thrash_reloads_min: u32,
    /// Where the pool counts its work.
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

/// What a frame holds, behind its lock.
#[derive(Debug)]
struct Slot {
    key: Option<CacheKey>,
    /// The page bytes are those of `key` (false while loading, or after a failed load).
    valid: bool,
    /// Allocated by the frame's first load, so a pool costs memory only as it fills (and
    /// opening a database does not zero the whole budget). `Some` whenever `valid`.
    page: Option<PageBuf>,
}

#[derive(Debug)]
struct Frame {
    slot: RwLock<Slot>,
    pins: AtomicU32,
    referenced: AtomicBool,
    /// Threads holding the slot's read lock. Loom's `RwLock` blocks a `try_write` on a
    /// read-locked slot instead of failing it, so the loom model checks "a claimed frame has no
    /// readers" through this count instead.
    #[cfg(loom)]
    readers: AtomicU32,
}

/// What the table lock guards: the mapping and the eviction hand.
#[derive(Debug, Default)]
struct Table {
    map: FxHashMap<CacheKey, usize>,
    clock: ClockPolicy,
}

/// A bounded cache of immutable page versions.
pub struct BufferPool {
    frames: Box<[Frame]>,
    table: Mutex<Table>,
    thrash: Mutex<ThrashDetector>,
    counters: Arc<PoolCounters>,
    page_size: PageSize,
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// A pinned, readable cached page. While it lives the frame is neither evicted nor reloaded.
pub struct PageRef<'p> {
    pool: &'p BufferPool,
    frame: usize,
    /// Always `Some` until dropped: the read lock must be released *before* the pin, or an
    /// evictor could see no pins while the lock is still held.
    slot: Option<RwLockReadGuard<'p, Slot>>,
}

impl PageRef<'_> {
    fn slot(&self) -> &Slot {
        self.slot.as_ref().expect("held until drop")
    }
}

impl Deref for PageRef<'_> {
    type Target = PageBuf;

    fn deref(&self) -> &PageBuf {
        self.slot().page.as_ref().expect("a readable frame holds a page")
    }
}

impl Drop for PageRef<'_> {
    fn drop(&mut self) {
        #[cfg(loom)]
        self.pool.frames[self.frame].readers.fetch_sub(1, Ordering::AcqRel);
        drop(self.slot.take());
        let previous = self.pool.frames[self.frame].pins.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(previous > 0, "unpinned a frame that was not pinned");
    }
}

impl std::fmt::Debug for PageRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRef")
            .field("frame", &self.frame)
            .field("key", &self.slot().key)
            .finish()
    }
}

impl BufferPool {
    /// Allocates every frame of the pool now; it never allocates page memory again.
    pub fn new(options: PoolOptions) -> Result<Self> {
        let page_bytes = options.page_size.bytes() as u64;
        let frame_count = usize::try_from(options.budget_bytes / page_bytes).unwrap_or(usize::MAX);
        if frame_count < FRAMES_MIN {
            let budget_bytes = options.budget_bytes;
            return Err(Error::BudgetTooSmall { budget_bytes, page_bytes, frames_min: FRAMES_MIN });
        }
        let frames = (0..frame_count)
            .map(|_| Frame {
                slot: RwLock::new(Slot { key: None, valid: false, page: None }),
                pins: AtomicU32::new(0),
                referenced: AtomicBool::new(false),
                #[cfg(loom)]
                readers: AtomicU32::new(0),
            })
            .collect();
        let thrash = ThrashDetector::new(options.thrash_window_misses, options.thrash_reloads_min);
        Ok(Self {
            frames,
            table: Mutex::default(),
            thrash: Mutex::new(thrash),
            counters: options.counters,
            page_size: options.page_size,
        })
    }

    /// The cached page for `key`, pinned, if it is cached.
    pub fn get(&self, key: CacheKey) -> Option<PageRef<'_>> {
        for _ in 0..LOAD_RETRIES_MAX {
            let frame = self.pin_mapped(key)?;
            if let Some(page) = self.read_pinned(frame, key) {
                bump(&self.counters.hits);
                return Some(page);
            }
        }
        None
    }

    /// The page for `key`, from the cache or loaded by `load` into a free or evicted frame.
    /// `load` fills the buffer and must verify it; its error is returned and nothing is cached.
    pub fn get_or_load(
        &self,
        key: CacheKey,
        load: impl FnOnce(&mut PageBuf) -> redwood_pager::Result<()>,
    ) -> Result<PageRef<'_>> {
        let mut load = Some(load);
        for _ in 0..LOAD_RETRIES_MAX {
            if let Some(page) = self.get(key) {
                return Ok(page);
            }
            let loader = load.take().expect("each attempt either returns or keeps the loader");
            match self.load_into_victim(key, loader)? {
                Ok(page) => return Ok(page),
                // Another thread mapped the key first: use its frame.
                Err(unused) => load = Some(unused),
            }
        }
        Err(Error::Exhausted { frames: self.frames.len() })
    }

    /// Drops `key` from the cache (a pinned frame stays readable until unpinned).
    pub fn invalidate(&self, key: CacheKey) {
        let mut table = self.table_lock();
        if let Some(frame) = table.map.remove(&key) {
            self.frames[frame].referenced.store(false, Ordering::Relaxed);
        }
    }

    /// Counters and shape.
    pub fn stats(&self) -> PoolStats {
        let counters = &self.counters;
        let cached = self.table_lock().map.len() as u64;
        let pinned =
            self.frames.iter().filter(|frame| frame.pins.load(Ordering::Relaxed) > 0).count();
        PoolStats {
            hits: load(&counters.hits),
            misses: load(&counters.misses),
            evictions: load(&counters.evictions),
            reads: load(&counters.reads),
            failed_reads: load(&counters.failed_reads),
            thrash_reports: load(&counters.thrash_reports),
            frames: self.frames.len() as u64,
            cached,
            pinned: pinned as u64,
            memory_bytes: load(&counters.frames_allocated) * self.page_size.bytes() as u64,
        }
    }

    /// The most recent thrash reports, oldest first.
    pub fn thrash_reports(&self) -> Vec<ThrashReport> {
        self.thrash.lock().unwrap_or_else(PoisonError::into_inner).reports()
    }

    /// Checks the page table against the frames: every mapping points at a distinct frame that
    /// holds that key. Call with no loads in flight.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        let table = self.table_lock();
        let mut seen = vec![false; self.frames.len()];
        for (key, &frame) in &table.map {
            if std::mem::replace(&mut seen[frame], true) {
                return Err(format!("frame {frame} is mapped twice"));
            }
            let slot = self.frames[frame].slot.read().unwrap_or_else(PoisonError::into_inner);
            if slot.key != Some(*key) || !slot.valid {
                return Err(format!("frame {frame} does not hold {key:?}"));
            }
        }
        Ok(())
    }

    /// Pins the frame mapped to `key`, under the table lock.
    fn pin_mapped(&self, key: CacheKey) -> Option<usize> {
        let table = self.table_lock();
        let &frame = table.map.get(&key)?;
        self.frames[frame].pins.fetch_add(1, Ordering::AcqRel);
        self.frames[frame].referenced.store(true, Ordering::Relaxed);
        Some(frame)
    }

    /// Read-locks a pinned frame (waiting out its load) and checks it holds `key`.
    fn read_pinned(&self, frame: usize, key: CacheKey) -> Option<PageRef<'_>> {
        let slot = self.frames[frame].slot.read().unwrap_or_else(PoisonError::into_inner);
        #[cfg(loom)]
        self.frames[frame].readers.fetch_add(1, Ordering::AcqRel);
        let page = PageRef { pool: self, frame, slot: Some(slot) };
        // Dropping a mismatched page unpins it.
        (page.slot().valid && page.slot().key == Some(key)).then_some(page)
    }

    /// Claims a victim frame for `key`, maps it, and loads it outside the table lock. Returns
    /// the loader back if another thread mapped `key` first.
    fn load_into_victim<F>(
        &self,
        key: CacheKey,
        load: F,
    ) -> Result<std::result::Result<PageRef<'_>, F>>
    where
        F: FnOnce(&mut PageBuf) -> redwood_pager::Result<()>,
    {
        let mut table = self.table_lock();
        if table.map.contains_key(&key) {
            return Ok(Err(load));
        }
        let frame = self.choose_victim(&mut table)?;
        #[cfg(loom)]
        assert_eq!(
            self.frames[frame].readers.load(Ordering::Acquire),
            0,
            "claimed a frame with readers"
        );
        let mut slot = self.frames[frame]
            .slot
            .try_write()
            .expect("an unpinned, unmapped frame has no readers");
        // An invalidated frame keeps its old key but no mapping, and the key may since have
        // been loaded into another frame: only a mapping to this frame is this frame's to drop.
        if let Some(old) = slot.key.take()
            && table.map.get(&old) == Some(&frame)
        {
            table.map.remove(&old);
            bump(&self.counters.evictions);
            self.thrash_lock().on_evict(old.page_id);
        }
        slot.key = Some(key);
        slot.valid = false;
        table.map.insert(key, frame);
        self.frames[frame].pins.fetch_add(1, Ordering::AcqRel);
        self.frames[frame].referenced.store(true, Ordering::Relaxed);
        drop(table);
        bump(&self.counters.misses);
        if self.thrash_lock().on_miss(key.page_id).is_some() {
            bump(&self.counters.thrash_reports);
        }
        let page_size = self.page_size;
        let buffer = slot.page.get_or_insert_with(|| {
            bump(&self.counters.frames_allocated);
            PageBuf::zeroed(page_size)
        });
        match load(buffer) {
            Ok(()) => {
                slot.valid = true;
                bump(&self.counters.reads);
                drop(slot);
                let page = self.read_pinned(frame, key).expect("just loaded and pinned");
                Ok(Ok(page))
            }
            Err(error) => {
                bump(&self.counters.failed_reads);
                slot.key = None;
                drop(slot);
                let mut table = self.table_lock();
                if table.map.get(&key) == Some(&frame) {
                    table.map.remove(&key);
                }
                drop(table);
                self.frames[frame].pins.fetch_sub(1, Ordering::AcqRel);
                Err(Error::Load(error))
            }
        }
    }

    /// Picks a frame to (re)use with the CLOCK policy, under the table lock.
    fn choose_victim(&self, table: &mut Table) -> Result<usize> {
        let frames = &self.frames;
        let map_len = table.map.len();
        let victim = table.clock.choose_victim(frames.len(), |index| {
            let frame = &frames[index];
            if frame.pins.load(Ordering::Acquire) > 0 {
                FrameState::Pinned
            } else if frame.referenced.swap(false, Ordering::Relaxed) {
                FrameState::Referenced
            } else if map_len < frames.len()
                && frame.slot.try_read().is_ok_and(|slot| slot.key.is_none())
            {
                FrameState::Empty
            } else {
                FrameState::Idle
            }
        });
        victim.ok_or(Error::Exhausted { frames: frames.len() })
    }

    fn table_lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn thrash_lock(&self) -> MutexGuard<'_, ThrashDetector> {
        self.thrash.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pager's read path through the pool: a hit copies the cached version out; a miss loads it
/// into a frame first; with every frame pinned the page is read around the cache.
impl PageCache for BufferPool {
    fn read_through(
        &self,
        key: CacheKey,
        page: &mut PageBuf,
        load: &mut dyn FnMut(&mut PageBuf) -> redwood_pager::Result<()>,
    ) -> redwood_pager::Result<()> {
        match self.get_or_load(key, |buffer| load(buffer)) {
            Ok(cached) => {
                page.as_mut_bytes().copy_from_slice(cached.as_bytes());
                Ok(())
            }
            Err(Error::Load(error)) => Err(error),
            Err(_) => load(page),
        }
    }

    fn invalidate(&self, key: CacheKey) {
        BufferPool::invalidate(self, key);
    }
}

#[cfg(loom)]
mod loom_model {
    //! Exhaustive interleavings (bounded preemptions) of threads loading, pinning and evicting in
    //! a two-frame pool: every page a caller gets holds the key it asked for, never another's
    //! bytes or a half-loaded frame, and the table stays consistent. Run with
    //! `RUSTFLAGS="--cfg loom" cargo test -p redwood-bufpool --lib loom` (`cargo xtask ci` does).

    use loom::sync::Arc;
    use redwood_pager::{CacheKey, Lsn, PageBuf, PageId, PageSize, PageType};

    use super::{BufferPool, PoolOptions};

    fn key(page: u64) -> CacheKey {
        CacheKey { page_id: PageId::new(page), version: 1 }
    }

    fn load(page: u64) -> impl FnOnce(&mut PageBuf) -> redwood_pager::Result<()> {
        move |buffer: &mut PageBuf| {
            buffer.body_mut()[0] = page as u8;
            buffer.seal(PageId::new(page), PageType::user(16).unwrap(), Lsn::new(1));
            Ok(())
        }
    }

    fn read_and_check(pool: &BufferPool, page: u64) {
        if let Ok(cached) = pool.get_or_load(key(page), load(page)) {
            assert_eq!(cached.page_id(), PageId::new(page), "another page's frame");
            assert_eq!(cached.body()[0], page as u8, "a half-loaded frame");
        }
    }

    #[test]
    fn loom_loads_pins_and_evictions_never_mix_up_frames() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let pool =
                Arc::new(BufferPool::new(PoolOptions::new(2 * 4096, PageSize::DEFAULT)).unwrap());
            read_and_check(&pool, 1);
            let threads: Vec<_> = [2u64, 3]
                .into_iter()
                .map(|page| {
                    let pool = Arc::clone(&pool);
                    loom::thread::spawn(move || {
                        read_and_check(&pool, page);
                        read_and_check(&pool, 1);
                    })
                })
                .collect();
            read_and_check(&pool, 1);
            for thread in threads {
                thread.join().unwrap();
            }
            pool.check_invariants().unwrap();
        });
    }

    /// The hazard the pin protocol exists for: one thread releases a page while another evicts
    /// it. The frame must not be claimed while the releasing thread still holds its lock.
    #[test]
    fn loom_releasing_a_pin_while_another_thread_evicts() {
        loom::model(|| {
            let pool =
                Arc::new(BufferPool::new(PoolOptions::new(2 * 4096, PageSize::DEFAULT)).unwrap());
            read_and_check(&pool, 1);
            read_and_check(&pool, 2);
            let releaser = {
                let pool = Arc::clone(&pool);
                loom::thread::spawn(move || drop(pool.get(key(1))))
            };
            read_and_check(&pool, 3);
            releaser.join().unwrap();
            pool.check_invariants().unwrap();
        });
    }
}
