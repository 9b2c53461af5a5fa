//! `Slab`: the pool's page memory, one allocation made when the pool opens and carved into
//! page-sized frames, frame 0 aligned to 4 KiB (so every frame is: page sizes are multiples of
//! 4 KiB). Not one allocation per page: glibc spends 8 KiB on each 4 KiB-aligned one.
//!
//! The memory is requested zeroed with an alignment of 16 (`calloc`, which for a large block
//! maps fresh pages and writes none of them) and the start is aligned up by hand; std's
//! `alloc_zeroed` with a larger alignment would zero, so touch, the whole slab. Untouched pages
//! are not resident: the pool's memory follows the frames it loads, not its budget. A frame's
//! memory can also be handed back ([`Slab::release`], `madvise(MADV_DONTNEED)`), when a write
//! transaction's changed pages take part of the budget: it reads as zeros when next touched, as
//! an untouched frame does.
//!
//! A slab of at least [`HUGE_PAGE_BYTES`] × 16 starts on a 2 MiB boundary and, on Linux, is
//! advised for transparent huge pages (`madvise(MADV_HUGEPAGE)`): a random lookup then costs no
//! page walk, since a few hundred TLB entries cover the whole cache where 4 KiB pages need one
//! per page (LMDB's mmap pays that walk on most reads of a large database). The memory still
//! becomes resident only as frames are touched, 2 MiB at a time, and frames are first handed
//! out in order, so the cost over the pages cached is at most one huge page.
//!
//! This is the crate's only memory-handling `unsafe`: [`Slab::frame`] and [`Slab::frame_mut`]
//! hand out a frame's bytes, and [`Slab::release`] drops them, and all three leave the aliasing
//! rule to their caller, the pin protocol in `pool.rs` (a latched frame has no reader; a pinned
//! one has no writer and is never released).

#![expect(unsafe_code, reason = "the slab is raw memory handed out frame by frame; see SAFETY")]

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;

/// The alignment of every frame.
pub(crate) const FRAME_ALIGN: usize = 4096;

/// The alignment asked of the allocator: `calloc`'s, so the request stays lazy.
const ALLOCATION_ALIGN: usize = 16;

/// How much of a frame `prefetch` asks for.
const PREFETCH_BYTES_MAX: usize = 4096;

/// A transparent huge page on x86-64 and most aarch64 kernels.
pub(crate) const HUGE_PAGE_BYTES: usize = 2 << 20;

/// Slabs from this size on are aligned to huge pages and advised to use them.
const HUGE_SLAB_MIN_BYTES: usize = 16 * HUGE_PAGE_BYTES;

/// `frames` page-sized frames in one zeroed allocation.
pub(crate) struct Slab {
    /// What the allocator returned; freed with `layout`.
    allocation: NonNull<u8>,
    layout: Layout,
    /// `allocation` aligned up to [`FRAME_ALIGN`]: the first byte of frame 0.
    start: NonNull<u8>,
    frame_bytes: usize,
    frames: usize,
    /// The operating system's page size: `release` hands back only whole pages of it.
    os_page_bytes: usize,
}

impl Slab {
    /// Allocates `frames` zeroed frames of `frame_bytes` (a positive multiple of
    /// [`FRAME_ALIGN`]). `None` if the size overflows or the allocator refuses.
    pub(crate) fn new(frames: usize, frame_bytes: usize) -> Option<Self> {
        assert!(
            frame_bytes > 0 && frame_bytes.is_multiple_of(FRAME_ALIGN),
            "frames are whole 4 KiB blocks"
        );
        let frames_bytes = frames.checked_mul(frame_bytes)?;
        let huge = frames_bytes >= HUGE_SLAB_MIN_BYTES;
        let align = if huge { HUGE_PAGE_BYTES } else { FRAME_ALIGN };
        // One alignment's worth of slack, so the aligned start still has every frame after it.
        let bytes = frames_bytes.checked_add(align)?;
        let layout = Layout::from_size_align(bytes, ALLOCATION_ALIGN).ok()?;
        // SAFETY: `layout` has a non-zero size (at least `FRAME_ALIGN` bytes).
        let allocation = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        let address = allocation.as_ptr().addr();
        let offset = address.next_multiple_of(align) - address;
        // SAFETY: `offset < align <= bytes`, so the result stays inside the allocation
        // (and is not null: it is at or after a non-null pointer of the same allocation).
        let start = unsafe { allocation.add(offset) };
        if huge {
            advise_huge_pages(start, frames_bytes);
        }
        Some(Self {
            allocation,
            layout,
            start,
            frame_bytes,
            frames,
            os_page_bytes: os_page_bytes(),
        })
    }

    /// A pointer to the first byte of frame `index`. Panics if `index` is out of range.
    fn frame_ptr(&self, index: usize) -> NonNull<u8> {
        assert!(index < self.frames, "frame {index} of {}", self.frames);
        // SAFETY: `offset + index * frame_bytes + frame_bytes <= offset + frames * frame_bytes
        // < bytes`: the frame lies inside the allocation, and the product cannot overflow
        // because `frames * frame_bytes` did not.
        unsafe { self.start.add(index * self.frame_bytes) }
    }

    /// Asks the CPU to fetch frame `index` (its first [`PREFETCH_BYTES_MAX`] bytes, a whole
    /// 4 KiB page) into its caches, every line at once. A binary search then waits for one
    /// memory latency instead of one per probe (each probe's cell is on another line, and which
    /// one depends on the probe before). Measured on `random_reads_again` (1M random reads of a
    /// 260 MB table): 2.77 s with the first two lines prefetched, 1.88 s with the whole page,
    /// LMDB 1.9–2.4 s. Reads nothing in Rust's sense: a prefetch of any address is harmless, so
    /// it may run before the frame is pinned. Panics if `index` is out of range.
    #[inline]
    pub(crate) fn prefetch(&self, index: usize) {
        let ptr = self.frame_ptr(index).as_ptr();
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            for line in (0..self.frame_bytes.min(PREFETCH_BYTES_MAX)).step_by(64) {
                // SAFETY: SSE is part of the x86-64 baseline, so the instruction exists; a
                // prefetch never faults and is not a memory access in Rust's model, whatever
                // the address (this one is inside the frame anyway).
                unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(line).cast()) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = ptr;
    }

    /// The bytes of frame `index`, to read. Panics if `index` is out of range.
    ///
    /// # Safety
    ///
    /// While the returned slice lives, no `&mut` to frame `index` (from [`Slab::frame_mut`])
    /// may exist or be created, and any write to it must happen-before this call: the caller
    /// holds a pin on the frame (its state word without the exclusive latch), taken with
    /// `Acquire` after the loader released the latch with `Release`.
    pub(crate) unsafe fn frame(&self, index: usize) -> &[u8] {
        let ptr = self.frame_ptr(index);
        // SAFETY: the frame is `frame_bytes` bytes inside the live allocation (see `frame_ptr`),
        // initialized (zeroed when allocated, only ever written as bytes, and after a `release`
        // either unchanged or zeros again), and the caller rules out a concurrent or overlapping
        // `&mut` for the slice's lifetime.
        unsafe { std::slice::from_raw_parts(ptr.as_ptr(), self.frame_bytes) }
    }

    /// Hands the memory of frames `first..first + count` back to the operating system
    /// (`madvise(MADV_DONTNEED)` on Linux): it stops being resident, and reads as zeros when next
    /// touched (the slab is private anonymous memory, as any heap block). Only whole pages of
    /// the operating system's inside the range are handed back, so where its pages are larger
    /// than a frame, a lone frame may keep its memory; where the kernel refuses, or off Linux,
    /// the bytes stay as they were. Either way the frames stay initialized. Under miri the bytes
    /// are zeroed instead, so that miri checks the caller's exclusivity as for a write. Panics if
    /// the range is out of bounds.
    ///
    /// # Safety
    ///
    /// While the call runs, no reference to any byte of those frames may exist or be created,
    /// and every earlier access to them must happen-before it: the caller holds each frame's
    /// exclusive latch, as for [`Slab::frame_mut`].
    pub(crate) unsafe fn release(&self, first: usize, count: usize) {
        if count == 0 {
            return;
        }
        let end = first.checked_add(count).expect("a frame range that fits");
        let _ = self.frame_ptr(end - 1);
        let start = self.frame_ptr(first);
        let bytes = count * self.frame_bytes;
        // The whole pages inside the range: addresses `low..high` (none if `low >= high`).
        let address = start.as_ptr().addr();
        let low = address.next_multiple_of(self.os_page_bytes);
        let high = (address + bytes) / self.os_page_bytes * self.os_page_bytes;
        if low < high {
            // SAFETY: `address <= low < high <= address + bytes`, so the pointer stays inside
            // frames `first..end`, which lie inside the allocation (both ends checked above).
            let pages = unsafe { start.add(low - address) };
            // SAFETY: `pages..pages + (high - low)` is whole pages inside frames `first..end`,
            // and the caller guarantees no reference to those frames exists while this runs,
            // with every earlier access to them ordered before it.
            unsafe { release_pages(pages, high - low) };
        }
    }

    /// The bytes of frame `index`, to write. Panics if `index` is out of range.
    ///
    /// # Safety
    ///
    /// While the returned slice lives, no other reference to frame `index` may exist or be
    /// created, and every earlier access to it must happen-before this call: the caller holds
    /// the frame's exclusive latch, taken by a `compare_exchange(0, EXCLUSIVE)` with `Acquire`
    /// (so no pin was held, and every unpin's `Release` is ordered before it).
    #[expect(clippy::mut_from_ref, reason = "exclusivity comes from the frame latch, see Safety")]
    pub(crate) unsafe fn frame_mut(&self, index: usize) -> &mut [u8] {
        let ptr = self.frame_ptr(index);
        // SAFETY: in bounds and initialized as in `frame`; the caller guarantees this is the
        // only reference to the frame while it lives. The allocation is only reached through
        // raw pointers, never through a Rust reference to the whole, so handing out disjoint
        // frames from `&self` aliases nothing.
        unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), self.frame_bytes) }
    }
}

/// Asks the kernel to back `bytes` from `start` (inside one live allocation) with transparent
/// huge pages. Advice only: a refusal (THP off, an old kernel) leaves 4 KiB pages.
#[cfg(target_os = "linux")]
fn advise_huge_pages(start: NonNull<u8>, bytes: usize) {
    // SAFETY: `start..start + bytes` lies inside the slab's allocation, which this process owns;
    // MADV_HUGEPAGE changes how the kernel backs the range, never its contents or validity.
    let refused = unsafe { libc::madvise(start.as_ptr().cast(), bytes, libc::MADV_HUGEPAGE) };
    if refused != 0 {
        // Nothing to do: 4 KiB pages serve the same bytes, a little slower.
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: NonNull<u8>, _bytes: usize) {}

/// The operating system's page size (a frame's, where it cannot be asked).
fn os_page_bytes() -> usize {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // SAFETY: `sysconf` reads a system constant; it has no preconditions.
        let bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if let Ok(bytes) = usize::try_from(bytes)
            && bytes.is_power_of_two()
        {
            return bytes;
        }
    }
    FRAME_ALIGN
}

/// Hands `bytes` from `start` back to the kernel (`madvise(MADV_DONTNEED)`). Advice only: a
/// refusal leaves the memory, and its bytes, as they were.
///
/// # Safety
///
/// `start..start + bytes` is whole pages of the operating system's inside the slab's live
/// allocation, and no reference to any of those bytes exists or is created while this runs,
/// every earlier access to them ordered before it.
#[cfg(all(target_os = "linux", not(miri)))]
unsafe fn release_pages(start: NonNull<u8>, bytes: usize) {
    // SAFETY: the range is page-aligned memory of the slab's allocation (private anonymous
    // memory from the allocator, which this process owns), and no reference to it is alive (the
    // caller's contract): MADV_DONTNEED swaps in zero-filled pages on the next touch, as if the
    // bytes were written with zeros now, which no reader can observe mid-way.
    let refused = unsafe { libc::madvise(start.as_ptr().cast(), bytes, libc::MADV_DONTNEED) };
    if refused != 0 {
        // Nothing to do: the frames keep their memory and their bytes.
    }
}

/// Under miri: zeroes the bytes, what the kernel's release would leave, so that miri checks
/// the caller's exclusivity as it does for a write.
///
/// # Safety
///
/// As for the Linux version: the range is inside the live allocation, and no reference to it
/// exists while this runs, every earlier access ordered before it.
#[cfg(miri)]
unsafe fn release_pages(start: NonNull<u8>, bytes: usize) {
    // SAFETY: in bounds and exclusive, by the caller's contract.
    unsafe { start.as_ptr().write_bytes(0, bytes) };
}

/// Off Linux: the memory is kept (there is no portable way to hand it back).
///
/// # Safety
///
/// None needed (it does nothing); the signature matches the Linux version's.
#[cfg(all(not(target_os = "linux"), not(miri)))]
unsafe fn release_pages(_start: NonNull<u8>, _bytes: usize) {}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: `allocation` came from `alloc_zeroed(self.layout)` and is freed once, here;
        // `&mut self` means no frame slice (each borrows `&self`) is still alive.
        unsafe { dealloc(self.allocation.as_ptr(), self.layout) };
    }
}

// SAFETY: a `Slab` owns its allocation outright (the raw pointers are what make it `!Send`);
// the bytes have no thread affinity, so the owner may move to another thread.
unsafe impl Send for Slab {}

// SAFETY: `&Slab` reaches the bytes only through `frame` and `frame_mut`, whose callers promise
// the aliasing and ordering rules (a frame is written only under its exclusive latch, read only
// under a pin, with the state word's Acquire/Release ordering the two), so sharing a `&Slab`
// between threads adds no data race of its own; the metadata fields are never written after
// `new`.
unsafe impl Sync for Slab {}

impl std::fmt::Debug for Slab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slab")
            .field("frames", &self.frames)
            .field("frame_bytes", &self.frame_bytes)
            .finish_non_exhaustive()
    }
}

/// Asks the C allocator to return the free memory of its heap to the OS (glibc's
/// `malloc_trim`, which also releases free pages inside the heap, not only at its top). Does
/// nothing under miri or with another C library.
pub(crate) fn return_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        // SAFETY: `malloc_trim` takes no pointer and only changes the allocator's own free
        // lists and mappings, under the allocator's locks; any thread may call it at any time.
        let _ = unsafe { libc::malloc_trim(0) };
    }
}

#[cfg(test)]
mod tests {
    //! Small slabs, so that miri runs them (`cargo +nightly miri test -p redwood-bufpool --lib
    //! slab`): bounds, alignment, zeroing, disjoint frames, and frames handed between threads.

    use super::*;

    #[test]
    fn frames_are_aligned_zeroed_and_disjoint() {
        let slab = Slab::new(3, FRAME_ALIGN).unwrap();
        for index in 0..3 {
            // SAFETY: no `frame_mut` slice is alive in this test while frames are read.
            let bytes = unsafe { slab.frame(index) };
            assert_eq!(bytes.len(), FRAME_ALIGN);
            assert_eq!(bytes.as_ptr().addr() % FRAME_ALIGN, 0, "frame {index} is aligned");
            assert!(bytes.iter().all(|&byte| byte == 0), "frame {index} starts zeroed");
        }
        for index in 0..3 {
            // SAFETY: one frame at a time, and no shared slice of it is alive.
            let bytes = unsafe { slab.frame_mut(index) };
            bytes.fill(index as u8 + 1);
        }
        for index in 0..3 {
            // SAFETY: the writes above ended; nothing writes meanwhile.
            let bytes = unsafe { slab.frame(index) };
            assert!(bytes.iter().all(|&byte| byte == index as u8 + 1), "frame {index} kept");
        }
    }

    #[test]
    fn threads_write_and_read_their_own_frames() {
        let slab = Slab::new(4, 2 * FRAME_ALIGN).unwrap();
        std::thread::scope(|scope| {
            for index in 0..4 {
                let slab = &slab;
                scope.spawn(move || {
                    // SAFETY: each thread touches only its own frame.
                    let bytes = unsafe { slab.frame_mut(index) };
                    bytes.fill(0xA0 + index as u8);
                });
            }
        });
        for index in 0..4 {
            // SAFETY: the scope joined every writer.
            let bytes = unsafe { slab.frame(index) };
            assert!(bytes.iter().all(|&byte| byte == 0xA0 + index as u8));
        }
    }

    #[test]
    fn a_released_frame_reads_as_zeros_and_its_neighbours_keep_their_bytes() {
        let slab = Slab::new(3, FRAME_ALIGN).unwrap();
        for index in 0..3 {
            // SAFETY: one frame at a time, and no other slice of it is alive.
            unsafe { slab.frame_mut(index) }.fill(0x50 + index as u8);
        }
        // SAFETY: no slice of frame 1 is alive.
        unsafe { slab.release(1, 1) };
        // SAFETY: the release returned; nothing writes meanwhile.
        let released = unsafe { slab.frame(1) };
        if cfg!(any(target_os = "linux", miri)) {
            assert!(released.iter().all(|&byte| byte == 0), "handed back, zero when touched");
        }
        for index in [0, 2] {
            // SAFETY: as above.
            let bytes = unsafe { slab.frame(index) };
            assert!(bytes.iter().all(|&byte| byte == 0x50 + index as u8), "frame {index} kept");
        }
        // SAFETY: no slice of frame 1 is alive any more (the one above was last used above).
        unsafe { slab.frame_mut(1) }.fill(7);
        // SAFETY: the write ended.
        assert!(unsafe { slab.frame(1) }.iter().all(|&byte| byte == 7), "usable again");
        // SAFETY: no slice of the slab is used after this; an empty range is nothing.
        unsafe {
            slab.release(0, 3);
            slab.release(2, 0);
        }
    }

    #[test]
    fn with_pages_larger_than_a_frame_a_release_never_reaches_past_its_frames() {
        let mut slab = Slab::new(8, FRAME_ALIGN).unwrap();
        // As on a kernel with 16 KiB pages: a lone 4 KiB frame holds no whole page.
        slab.os_page_bytes = 4 * FRAME_ALIGN;
        for index in 0..8 {
            // SAFETY: one frame at a time, and no other slice of it is alive.
            unsafe { slab.frame_mut(index) }.fill(0x60 + index as u8);
        }
        for (first, count) in [(1, 1), (2, 5)] {
            // SAFETY: no slice of the slab is alive.
            unsafe { slab.release(first, count) };
            for index in (0..8).filter(|index| !(first..first + count).contains(index)) {
                // SAFETY: the release returned; nothing writes meanwhile.
                let bytes = unsafe { slab.frame(index) };
                let tag = 0x60 + index as u8;
                assert!(bytes.iter().all(|&byte| byte == tag), "frame {index}, outside the range");
            }
        }
        // SAFETY: as above.
        let lone = unsafe { slab.frame(1) };
        assert!(lone.iter().all(|&byte| byte == 0x61), "no whole page in it: kept as it was");
    }

    #[test]
    #[should_panic(expected = "frame 3 of 3")]
    fn a_release_past_the_last_frame_panics() {
        let slab = Slab::new(3, FRAME_ALIGN).unwrap();
        // SAFETY: no slice of the slab exists (and the call panics first).
        unsafe { slab.release(2, 2) };
    }

    #[test]
    #[should_panic(expected = "frame 2 of 2")]
    fn an_index_out_of_range_panics() {
        let slab = Slab::new(2, FRAME_ALIGN).unwrap();
        // SAFETY: no other slice of the slab exists (and the call panics first).
        let _ = unsafe { slab.frame(2) };
    }

    #[test]
    fn an_overflowing_size_is_refused() {
        assert!(Slab::new(usize::MAX / FRAME_ALIGN, 2 * FRAME_ALIGN).is_none());
    }
}
