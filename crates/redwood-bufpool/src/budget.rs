//! `Budget`: which frames are resident, how many, and how many may be. A frame is *resident*
//! while its slab memory is touched and not handed back to the operating system: the slab is
//! touched lazily (a frame's first load), and `PageCache::set_reserved` releases frames when the
//! open write transaction's changed pages take part of the budget. The capacity is the most
//! frames that may be resident: all of them, less the reserve, never fewer than [`FRAMES_MIN`].
//!
//! - One bit per frame (a bitmap of `AtomicU64`s, so a sweep skips 64 frames with no memory at
//!   a time, [`Budget::absent_run`]); a frame's bit changes only under its exclusive latch, so
//!   the latch holder reads it exactly (the latch's Acquire follows the last holder's Release)
//!   and anyone else reads a hint.
//! - The count moves with the bits, with one twist: a loader *admits* a frame before it knows
//!   which it gets, taking a place in the count while the count is below the capacity (a
//!   compare-and-swap, so loaders racing each other never take more places than there are);
//!   once it has latched its victim it either sets the bit of a frame with no memory, or gives
//!   the place back ([`Budget::settle`]). An admitted loader looks for a frame with no memory
//!   first ([`Budget::next_absent`], from [`Budget::free_hint`]: after the last one taken, or
//!   the lowest one handed back since), so nothing is evicted while the budget has room, and a
//!   fresh pool's frames are touched in order. A loader that was not admitted takes only a
//!   resident frame, so the count never grows past the capacity. Only a reserve that grows
//!   while frames are pinned leaves more frames resident than the capacity
//!   ([`Budget::excess`]), and loads then release one frame each until it is gone.
//!
//! None of it is on the hit path. It is accounting, not the pin protocol (the latches order the
//! bits), so its atomics are std's and relaxed, even under loom.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::limits::{FRAMES_MIN, RESIDENT_SCAN_FRAMES_MAX};

/// Frames per bitmap word.
const WORD_BITS: usize = u64::BITS as usize;

/// The pool's resident frames and its capacity.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Bit `frame % 64` of word `frame / 64`: frame `frame` is resident.
    bits: Box<[AtomicU64]>,
    /// Frames in the pool.
    frames: usize,
    /// Resident frames, plus places taken by admitted loaders not yet settled.
    resident: AtomicUsize,
    /// The most frames that may be resident.
    capacity: AtomicUsize,
    /// A frame at or after which one with no memory may be found ([`Budget::free_hint`]).
    free_hint: AtomicUsize,
}

impl Budget {
    /// A budget for `frames` frames, none resident, no reserve; `None` if the bitmap's memory
    /// cannot be had.
    pub(crate) fn new(frames: usize) -> Option<Self> {
        let words = frames.div_ceil(WORD_BITS);
        let mut bits = Vec::new();
        bits.try_reserve_exact(words).ok()?;
        bits.extend((0..words).map(|_| AtomicU64::new(0)));
        Some(Self {
            bits: bits.into_boxed_slice(),
            frames,
            resident: AtomicUsize::new(0),
            capacity: AtomicUsize::new(frames),
            free_hint: AtomicUsize::new(0),
        })
    }

    /// Bytes of the bitmap.
    pub(crate) fn memory_bytes(&self) -> u64 {
        std::mem::size_of_val::<[AtomicU64]>(&self.bits) as u64
    }

    /// The most frames that may be resident now.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Resident frames now (exact when no load is in flight).
    pub(crate) fn resident(&self) -> usize {
        self.resident.load(Ordering::Relaxed)
    }

    /// The write transaction's changed pages take `pages` of the budget: the capacity becomes
    /// `frames - pages`, never below [`FRAMES_MIN`]. Returns it.
    pub(crate) fn reserve(&self, pages: usize) -> usize {
        let capacity = self.frames.saturating_sub(pages).max(FRAMES_MIN);
        self.capacity.store(capacity, Ordering::Relaxed);
        capacity
    }

    /// Frames resident beyond the capacity.
    pub(crate) fn excess(&self) -> usize {
        self.resident().saturating_sub(self.capacity())
    }

    /// Takes a place for one more resident frame if the count is below the capacity; `false`
    /// (nothing taken, and no write) if it is not. A loader admitted may claim a frame with no
    /// memory; it then calls [`Budget::settle`] (or [`Budget::cancel_admission`] if it claimed
    /// none).
    pub(crate) fn try_admit(&self) -> bool {
        let capacity = self.capacity();
        self.resident
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |resident| {
                (resident < capacity).then_some(resident + 1)
            })
            .is_ok()
    }

    /// Gives back an admitted place that no frame used.
    pub(crate) fn cancel_admission(&self) {
        let previous = self.resident.fetch_sub(1, Ordering::Relaxed);
        debug_assert!(previous > 0, "an admission given back twice");
    }

    /// Under `frame`'s latch, before its bytes are written: marks it resident. `admitted` says
    /// whether the loader took a place ([`Budget::try_admit`]): a frame that was resident gives
    /// it back, one that was not uses it. Returns whether the frame was not resident before.
    pub(crate) fn settle(&self, frame: usize, admitted: bool) -> bool {
        let (word, mask) = self.locate(frame);
        // Read first (exact under the latch), so that reusing a resident frame, the common
        // miss, writes no line that other frames' loaders share.
        let newly = self.bits[word].load(Ordering::Relaxed) & mask == 0
            && self.bits[word].fetch_or(mask, Ordering::Relaxed) & mask == 0;
        match (newly, admitted) {
            (false, true) => self.cancel_admission(),
            // A loader not admitted claims only resident frames (`BufferPool::claim_victim`
            // checks under the latch); counted anyway, so the count stays exact.
            (true, false) => {
                self.resident.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        newly
    }

    /// Under `frame`'s latch: its memory is being handed back; it is no longer resident.
    pub(crate) fn release(&self, frame: usize) {
        let (word, mask) = self.locate(frame);
        let previous = self.bits[word].fetch_and(!mask, Ordering::Relaxed);
        debug_assert!(previous & mask != 0, "released frame {frame}, which was not resident");
        let previous = self.resident.fetch_sub(1, Ordering::Relaxed);
        debug_assert!(previous > 0, "more frames released than resident");
        self.free_hint.fetch_min(frame, Ordering::Relaxed);
    }

    /// Whether `frame` is resident: exact under its latch, a hint otherwise.
    pub(crate) fn is_resident(&self, frame: usize) -> bool {
        let (word, mask) = self.locate(frame);
        self.bits[word].load(Ordering::Relaxed) & mask != 0
    }

    /// How many frames from `frame` on (up to the last frame, and looking at most about
    /// [`RESIDENT_SCAN_FRAMES_MAX`] ahead) are not resident: 0 if `frame` is. A hint, for a
    /// sweep after a resident frame to skip frames with no memory.
    pub(crate) fn absent_run(&self, frame: usize) -> usize {
        let (mut word, _) = self.locate(frame);
        let offset = frame % WORD_BITS;
        let mut bits = self.bits[word].load(Ordering::Relaxed) >> offset;
        let mut run = 0;
        let mut width = WORD_BITS - offset;
        loop {
            if bits != 0 {
                return run + bits.trailing_zeros() as usize;
            }
            run += width;
            word += 1;
            if word == self.bits.len() || run >= RESIDENT_SCAN_FRAMES_MAX {
                // The last word's bits past the last frame are never set.
                return run.min(self.frames - frame);
            }
            bits = self.bits[word].load(Ordering::Relaxed);
            width = WORD_BITS;
        }
    }

    /// The first frame in `from..to` that is not resident (a hint), 64 frames a word.
    pub(crate) fn next_absent(&self, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.frames);
        let mut frame = from;
        while frame < to {
            let (word, _) = self.locate(frame);
            let offset = frame % WORD_BITS;
            let absent = !self.bits[word].load(Ordering::Relaxed) >> offset;
            if absent != 0 {
                let found = frame + absent.trailing_zeros() as usize;
                // Past `to` (or, for the last word, past the last frame): none.
                return (found < to).then_some(found);
            }
            frame += WORD_BITS - offset;
        }
        None
    }

    /// Where a search for a frame with no memory starts: after the last one taken, or at the
    /// lowest one handed back since.
    pub(crate) fn free_hint(&self) -> usize {
        self.free_hint.load(Ordering::Relaxed)
    }

    /// A loader took `frame`, which had no memory: the next search starts after it.
    pub(crate) fn taken(&self, frame: usize) {
        self.free_hint.store(frame + 1, Ordering::Relaxed);
    }

    /// Resident frames by the bitmap (for `check_invariants`, with no load in flight).
    pub(crate) fn counted(&self) -> usize {
        self.bits.iter().map(|word| word.load(Ordering::Relaxed).count_ones() as usize).sum()
    }

    fn locate(&self, frame: usize) -> (usize, u64) {
        assert!(frame < self.frames, "frame {frame} of {}", self.frames);
        (frame / WORD_BITS, 1 << (frame % WORD_BITS))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn admission_stops_at_the_capacity_and_settling_keeps_the_count_exact() {
        let budget = Budget::new(4).unwrap();
        assert_eq!(budget.reserve(1), 3);
        for frame in 0..3 {
            assert!(budget.try_admit());
            assert!(budget.settle(frame, true), "frame {frame} had no memory");
        }
        assert!(!budget.try_admit(), "at the capacity");
        assert!(!budget.settle(1, false), "a resident victim reused");
        assert_eq!((budget.resident(), budget.counted(), budget.excess()), (3, 3, 0));
        assert_eq!(budget.reserve(2), 2);
        assert_eq!(budget.excess(), 1);
        budget.release(0);
        assert_eq!((budget.resident(), budget.counted(), budget.excess()), (2, 2, 0));
        assert!(!budget.is_resident(0) && budget.is_resident(1));
        assert_eq!(budget.reserve(0), 4);
        assert!(budget.try_admit());
        assert!(!budget.settle(2, true), "the place is given back");
        assert!(budget.try_admit());
        budget.cancel_admission();
        assert_eq!((budget.resident(), budget.counted()), (2, 2));
    }

    #[test]
    fn a_reserve_never_leaves_fewer_than_the_minimum() {
        let budget = Budget::new(8).unwrap();
        assert_eq!(budget.reserve(6), FRAMES_MIN);
        assert_eq!(budget.reserve(usize::MAX), FRAMES_MIN);
        assert_eq!(budget.reserve(0), 8);
    }

    #[test]
    fn absent_runs_skip_frames_with_no_memory_across_words() {
        let frames = 3 * WORD_BITS + 5;
        let budget = Budget::new(frames).unwrap();
        assert_eq!(budget.absent_run(0), frames, "nothing resident: up to the last frame");
        assert_eq!(budget.absent_run(frames - 1), 1);
        budget.settle(70, false);
        budget.settle(2 * WORD_BITS, false);
        assert_eq!(budget.absent_run(0), 70);
        assert_eq!(budget.absent_run(69), 1);
        assert_eq!(budget.absent_run(70), 0);
        assert_eq!(budget.absent_run(71), 2 * WORD_BITS - 71);
        assert_eq!(budget.absent_run(2 * WORD_BITS + 1), frames - 2 * WORD_BITS - 1);
    }

    #[test]
    fn the_next_frame_with_no_memory_is_found_across_words_and_within_bounds() {
        let frames = 2 * WORD_BITS + 3;
        let budget = Budget::new(frames).unwrap();
        assert_eq!(budget.next_absent(0, frames), Some(0));
        for frame in 0..frames {
            if frame != 5 && frame != WORD_BITS + 9 {
                budget.settle(frame, false);
            }
        }
        assert_eq!(budget.next_absent(0, frames), Some(5));
        assert_eq!(budget.next_absent(6, frames), Some(WORD_BITS + 9));
        assert_eq!(budget.next_absent(6, WORD_BITS + 9), None, "the bound is exclusive");
        assert_eq!(budget.next_absent(WORD_BITS + 10, usize::MAX), None, "none to the end");
        assert_eq!(budget.next_absent(frames, frames), None);
        budget.taken(5);
        assert_eq!(budget.free_hint(), 6);
        budget.settle(5, false);
        budget.release(3);
        assert_eq!(budget.free_hint(), 3, "a frame handed back is the next one looked at");
    }

    #[test]
    fn a_long_absent_run_is_reported_in_bounded_pieces() {
        let frames = 4 * RESIDENT_SCAN_FRAMES_MAX;
        let budget = Budget::new(frames).unwrap();
        budget.settle(frames - 1, false);
        let mut at = 0;
        while budget.absent_run(at) > 0 {
            let run = budget.absent_run(at);
            assert!(run <= RESIDENT_SCAN_FRAMES_MAX + WORD_BITS, "{run} frames in one look");
            at += run;
        }
        assert_eq!(at, frames - 1, "the pieces add up to the whole run");
    }
}
