//! Heap accounting: [`CountingAllocator`], a global allocator wrapper an application installs
//! to let [`heap_stats`] (and so diagnostics, alerts and the OTLP export) see how many bytes
//! the process has allocated.
//!
//! The counts are process-wide statics: an allocator is global by nature, so this is the one
//! place in Redwood's telemetry that is not a counter struct handed to its owner. Bytes are the
//! sizes the program asked for (the `Layout`s), not what the underlying allocator reserves for
//! them, so fragmentation and allocator overhead show in RSS, not here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);
static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);
static PEAK_BYTES: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static DEALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Heap figures counted by an installed [`CountingAllocator`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct HeapStats {
    /// Bytes allocated and not yet freed.
    pub allocated_bytes: u64,
    /// The most `allocated_bytes` has been since the allocator was installed.
    pub peak_bytes: u64,
    /// Allocations made (a reallocation counts as neither an allocation nor a free).
    pub allocations: u64,
    /// Allocations freed.
    pub deallocations: u64,
}

/// The heap figures, or `None` until a [`CountingAllocator`] (normally the global allocator) has
/// allocated.
///
/// The counts are shared by every `CountingAllocator` value in the process; one used other than
/// as the global allocator (say, through the `GlobalAlloc` trait by hand) adds to them too.
pub fn heap_stats() -> Option<HeapStats> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    Some(HeapStats {
        allocated_bytes: ALLOCATED_BYTES.load(Ordering::Relaxed),
        peak_bytes: PEAK_BYTES.load(Ordering::Relaxed),
        allocations: ALLOCATIONS.load(Ordering::Relaxed),
        deallocations: DEALLOCATIONS.load(Ordering::Relaxed),
    })
}

/// A global allocator that counts what passes through it, then hands every call to `A`
/// (the system allocator by default). Install it in the application's binary:
///
/// ```
/// use redwood_telemetry::{CountingAllocator, heap_stats};
///
/// #[global_allocator]
/// static ALLOCATOR: CountingAllocator = CountingAllocator::system();
///
/// fn main() {
///     let before = heap_stats().expect("installed above");
///     let block = vec![1u8; 1 << 20];
///     let during = heap_stats().unwrap();
///     assert!(during.allocations > before.allocations);
///     assert!(during.peak_bytes >= 1 << 20);
///     drop(block);
/// }
/// ```
///
/// The cost is four relaxed atomic operations per allocation.
#[derive(Debug, Default)]
pub struct CountingAllocator<A = System> {
    inner: A,
}

impl CountingAllocator<System> {
    /// Counting in front of the system allocator.
    pub const fn system() -> Self {
        Self { inner: System }
    }
}

impl<A> CountingAllocator<A> {
    /// Counting in front of `inner`.
    pub const fn new(inner: A) -> Self {
        Self { inner }
    }
}

fn count_allocation(bytes: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    grow(bytes);
}

fn count_deallocation(bytes: usize) {
    DEALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    shrink(bytes);
}

fn grow(bytes: usize) {
    let now = ALLOCATED_BYTES.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
    PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
}

fn shrink(bytes: usize) {
    ALLOCATED_BYTES.fetch_sub(bytes as u64, Ordering::Relaxed);
}

// SAFETY (for the whole impl): every method forwards its arguments unchanged to the inner
// allocator, whose own contract the caller already meets, and returns the inner allocator's
// result unchanged; the wrapper only updates atomics on the side, which neither allocates nor
// touches the memory. A null result (failure) is not counted.
#[expect(unsafe_code, reason = "a global allocator is an unsafe trait; see the SAFETY note")]
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` (a non-zero-sized layout) passes through.
        let block = unsafe { self.inner.alloc(layout) };
        if !block.is_null() {
            count_allocation(layout.size());
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let block = unsafe { self.inner.alloc_zeroed(layout) };
        if !block.is_null() {
            count_allocation(layout.size());
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` was allocated by this allocator, that is by `inner`, with `layout`.
        unsafe { self.inner.dealloc(block, layout) };
        count_deallocation(layout.size());
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `block` came from `inner` with `layout`; `new_size` meets `realloc`'s contract.
        let moved = unsafe { self.inner.realloc(block, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                grow(new_size - layout.size());
            } else {
                shrink(layout.size() - new_size);
            }
        }
        moved
    }
}
