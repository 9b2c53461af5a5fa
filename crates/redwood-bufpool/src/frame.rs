//! `Frame`: one frame's metadata and its state word, the heart of the pin protocol.
//!
//! The state word is one `AtomicU32`: bit 31 is the exclusive latch a loader holds while it
//! (re)fills the frame, the low bits count pins. A reader pins with one `fetch_add(1,
//! Acquire)` and backs off (`fetch_sub`) if the latch was set; a loader latches only an idle
//! frame, `compare_exchange(0, EXCLUSIVE, Acquire)`, so never one a reader holds or is
//! transiently probing; it releases with a `fetch_sub`, never a plain store, because readers
//! may be transiently counted in the word meanwhile. What the frame holds (`page_id`, and the
//! snapshots `from..until` that see it) is written only under the latch, so a reader reads it
//! after its pin and checks it before it trusts the bytes. `until` alone also changes outside
//! the latch, lowered by a supersede (`fetch_min`), which the pager never runs during a load.

use std::sync::atomic::Ordering;

use redwood_pager::{Lsn, PageId};

use crate::sync::{AtomicBool, AtomicU32, AtomicU64};

/// The exclusive latch bit of the state word.
pub(crate) const EXCLUSIVE: u32 = 1 << 31;
/// The pin count bits of the state word.
const PINS: u32 = EXCLUSIVE - 1;
/// `page_id` of a frame that holds no page.
const EMPTY: u64 = u64::MAX;

/// The metadata of one frame, on a cache line of its own: frames pinned by different threads
/// share no line.
#[repr(align(64))]
#[derive(Debug)]
pub(crate) struct Frame {
    /// Exclusive latch (bit 31) and pin count (the low bits).
    state: AtomicU32,
    /// The page the frame holds, or [`EMPTY`].
    page_id: AtomicU64,
    /// The first snapshot that sees the held version (its commit).
    from: AtomicU64,
    /// The first snapshot that no longer sees it (the commit that superseded it), or `u64::MAX`.
    until: AtomicU64,
    /// Used since the CLOCK hand last passed (the second chance).
    referenced: AtomicBool,
}

impl Frame {
    /// An empty, unpinned frame.
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
            page_id: AtomicU64::new(EMPTY),
            from: AtomicU64::new(0),
            until: AtomicU64::new(0),
            referenced: AtomicBool::new(false),
        }
    }

    /// Takes a pin unless the frame is latched; `false` (and no pin) if it is.
    pub(crate) fn try_pin(&self) -> bool {
        let previous = self.state.fetch_add(1, Ordering::Acquire);
        debug_assert_ne!(previous & PINS, PINS, "pin count overflow");
        if previous & EXCLUSIVE != 0 {
            self.state.fetch_sub(1, Ordering::Release);
            return false;
        }
        true
    }

    /// Takes one more pin; the caller holds one, so the frame is not latched.
    pub(crate) fn repin(&self) {
        let previous = self.state.fetch_add(1, Ordering::Relaxed);
        debug_assert!(
            previous & PINS > 0 && previous & EXCLUSIVE == 0,
            "repin of an unpinned frame"
        );
    }

    /// Releases a pin. `Release`: the holder's reads of the bytes happen-before the latch of
    /// the next loader (whose `Acquire` reads this write or a later one). An unpin with no pin
    /// held is a caller's bug that would let a loader latch a frame someone still reads: it
    /// panics, in release builds too (one comparison).
    pub(crate) fn unpin(&self) {
        let previous = self.state.fetch_sub(1, Ordering::Release);
        assert!(previous & PINS > 0, "unpinned a frame that was not pinned");
    }

    /// Pins held now (transient probes included).
    pub(crate) fn pins(&self) -> u32 {
        self.state.load(Ordering::Relaxed) & PINS
    }

    /// Whether a loader holds the latch.
    pub(crate) fn is_latched(&self) -> bool {
        self.state.load(Ordering::Relaxed) & EXCLUSIVE != 0
    }

    /// Whether the frame is neither pinned nor latched (a cheap look before a latch attempt).
    pub(crate) fn is_idle(&self) -> bool {
        self.state.load(Ordering::Relaxed) == 0
    }

    /// Latches an idle frame exclusively; `false` if anyone pins or latches it.
    pub(crate) fn try_latch(&self) -> bool {
        self.state.compare_exchange(0, EXCLUSIVE, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Releases the latch, keeping one pin for the loader's caller. `Release`: the load's
    /// writes happen-before every later pin's `Acquire`.
    pub(crate) fn unlatch_pinned(&self) {
        let previous = self.state.fetch_sub(EXCLUSIVE - 1, Ordering::Release);
        debug_assert!(previous & EXCLUSIVE != 0, "unlatched a frame that was not latched");
    }

    /// Releases the latch with no pin (after a failed load).
    pub(crate) fn unlatch(&self) {
        let previous = self.state.fetch_sub(EXCLUSIVE, Ordering::Release);
        debug_assert!(previous & EXCLUSIVE != 0, "unlatched a frame that was not latched");
    }

    /// The page the frame holds, if any. Stable while the frame is pinned or latched.
    pub(crate) fn page(&self) -> Option<PageId> {
        let raw = self.page_id.load(Ordering::Relaxed);
        (raw != EMPTY).then(|| PageId::new(raw))
    }

    /// Whether the frame holds `page_id` in a version that a snapshot at `snapshot` sees. The
    /// caller holds a pin (so the fields were written before the pin's `Acquire`).
    pub(crate) fn holds(&self, page_id: PageId, snapshot: Lsn) -> bool {
        self.page_id.load(Ordering::Relaxed) == page_id.get()
            && self.from.load(Ordering::Relaxed) <= snapshot.get()
            && snapshot.get() < self.until.load(Ordering::Relaxed)
    }

    /// Under the latch: the frame now holds the newest version of `page_id`, committed at `from`.
    pub(crate) fn assign(&self, page_id: PageId, from: Lsn) {
        debug_assert!(self.is_latched());
        debug_assert_ne!(page_id.get(), EMPTY, "u64::MAX is not a cacheable page id");
        self.page_id.store(page_id.get(), Ordering::Relaxed);
        self.from.store(from.get(), Ordering::Relaxed);
        self.until.store(Lsn::MAX.get(), Ordering::Relaxed);
    }

    /// Under the latch: the frame holds nothing (its load failed, or its memory is released).
    pub(crate) fn clear(&self) {
        debug_assert!(self.is_latched());
        self.page_id.store(EMPTY, Ordering::Relaxed);
    }

    /// A commit at `at` superseded `page_id`: if the frame holds it, its version is seen only
    /// before `at` (never later than an earlier supersede said).
    pub(crate) fn supersede(&self, page_id: PageId, at: Lsn) {
        if self.page_id.load(Ordering::Relaxed) == page_id.get() {
            self.until.fetch_min(at.get(), Ordering::Relaxed);
        }
    }

    /// Marks the frame used. Written only when not yet set, so a hot frame's line is not
    /// written again by every reader.
    pub(crate) fn touch(&self) {
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// Drops the frame's second chance (a replaced, unmapped frame is reused first; a released
    /// one comes back with none).
    pub(crate) fn forget(&self) {
        self.referenced.store(false, Ordering::Relaxed);
    }

    /// The CLOCK hand passes: `true` if the frame was referenced (its reference is now cleared).
    pub(crate) fn take_reference(&self) -> bool {
        self.referenced.load(Ordering::Relaxed) && self.referenced.swap(false, Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_frame_cannot_be_latched_and_a_latched_one_cannot_be_pinned() {
        let frame = Frame::new();
        assert!(frame.try_pin());
        assert!(!frame.try_latch(), "pinned");
        frame.repin();
        assert_eq!(frame.pins(), 2);
        frame.unpin();
        frame.unpin();
        assert!(frame.is_idle());
        assert!(frame.try_latch());
        assert!(!frame.try_pin(), "latched");
        assert!(frame.is_latched() && frame.pins() == 0, "a failed pin leaves no count behind");
        frame.unlatch_pinned();
        assert!(!frame.is_latched());
        assert_eq!(frame.pins(), 1, "the loader's caller keeps one pin");
        frame.unpin();
        assert!(frame.is_idle());
    }

    #[test]
    #[should_panic(expected = "not pinned")]
    fn an_unpin_without_a_pin_panics() {
        Frame::new().unpin();
    }

    #[test]
    fn releasing_the_latch_keeps_transient_pins_counted() {
        let frame = Frame::new();
        assert!(frame.try_latch());
        // A reader in the middle of `try_pin`: counted, not yet backed off.
        frame.state.fetch_add(1, Ordering::Relaxed);
        frame.unlatch();
        assert_eq!(frame.pins(), 1, "the transient pin survives the release");
        assert!(!frame.try_latch(), "not idle while the reader is counted");
        frame.state.fetch_sub(1, Ordering::Relaxed);
        assert!(frame.try_latch());
    }

    #[test]
    fn a_version_is_seen_by_the_snapshots_of_its_interval_only() {
        let frame = Frame::new();
        let page = PageId::new(7);
        assert!(!frame.holds(page, Lsn::new(5)), "an empty frame holds nothing");
        assert!(frame.try_latch());
        frame.assign(page, Lsn::new(5));
        frame.unlatch_pinned();
        assert!(!frame.holds(page, Lsn::new(4)));
        assert!(frame.holds(page, Lsn::new(5)) && frame.holds(page, Lsn::new(u64::MAX - 1)));
        assert!(!frame.holds(PageId::new(8), Lsn::new(5)), "another page");
        frame.supersede(page, Lsn::new(9));
        frame.supersede(page, Lsn::new(12));
        frame.supersede(PageId::new(8), Lsn::new(6));
        assert!(frame.holds(page, Lsn::new(8)));
        assert!(!frame.holds(page, Lsn::new(9)), "the earliest supersede wins");
        assert_eq!(frame.page(), Some(page));
    }

    #[test]
    fn a_reference_is_a_single_second_chance() {
        let frame = Frame::new();
        assert!(!frame.take_reference());
        frame.touch();
        frame.touch();
        assert!(frame.take_reference());
        assert!(!frame.take_reference());
        frame.touch();
        frame.forget();
        assert!(!frame.take_reference());
    }
}
