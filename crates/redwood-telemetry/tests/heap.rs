//! `CountingAllocator` installed as this binary's global allocator: allocation, zeroed
//! allocation, growing and shrinking reallocation and freeing each move the counts by exactly
//! the bytes asked for. One test only, so nothing else allocates beside it. Also run under miri
//! (`cargo xtask miri`), which checks the wrapper's unsafe forwarding.

use std::alloc::{GlobalAlloc, Layout, System};

use redwood_telemetry::{CountingAllocator, heap_stats};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::system();

#[test]
fn every_allocator_call_is_counted_exactly() {
    // The harness's main thread allocates while it starts this test's thread; let it settle
    // into waiting first, so that every count below is this thread's own.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = heap_stats().expect("installed: the harness has allocated already");

    let mut block: Vec<u8> = Vec::with_capacity(1000);
    let after_alloc = heap_stats().unwrap();
    assert_eq!(after_alloc.allocated_bytes, before.allocated_bytes + 1000);
    assert_eq!(after_alloc.allocations, before.allocations + 1);

    block.reserve_exact(5000); // realloc to 5000: grows by 4000
    assert_eq!(heap_stats().unwrap().allocated_bytes, before.allocated_bytes + 5000);
    block.extend_from_slice(&[9; 10]);
    block.shrink_to_fit(); // realloc to 10
    assert_eq!(heap_stats().unwrap().allocated_bytes, before.allocated_bytes + 10);
    assert_eq!(block, [9; 10]);
    assert!(heap_stats().unwrap().peak_bytes >= before.allocated_bytes + 5000);

    let zeroed = vec![0u64; 100]; // alloc_zeroed
    assert_eq!(heap_stats().unwrap().allocated_bytes, before.allocated_bytes + 810);
    assert!(zeroed.iter().all(|&word| word == 0));

    drop(block);
    drop(zeroed);
    let after = heap_stats().unwrap();
    assert_eq!(after.allocated_bytes, before.allocated_bytes);
    assert_eq!(after.allocations, before.allocations + 2);
    assert_eq!(after.deallocations, before.deallocations + 2);

    // Through the trait directly, as the runtime calls it; counted like any other allocation.
    let allocator = CountingAllocator::new(System);
    let layout = Layout::from_size_align(64, 16).unwrap();
    // SAFETY: the layout is non-zero-sized; the block is freed below with the same layout.
    #[expect(unsafe_code, reason = "calling the GlobalAlloc methods under test")]
    unsafe {
        let block = allocator.alloc(layout);
        assert!(!block.is_null());
        block.write_bytes(0xAB, 64);
        assert_eq!(*block.add(63), 0xAB);
        assert_eq!(heap_stats().unwrap().allocated_bytes, before.allocated_bytes + 64);
        allocator.dealloc(block, layout);
    }
    assert_eq!(heap_stats().unwrap().allocated_bytes, before.allocated_bytes);
}
