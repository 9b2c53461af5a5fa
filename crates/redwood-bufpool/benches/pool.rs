//! Micro-benchmarks of the buffer pool's two paths: a hit (directory load, pin, check, read a
//! byte, unpin) and a miss (claim a CLOCK victim, evict, load, publish, pin). The loader only
//! copies a prepared image, so the miss figure is the pool's own cost, not storage's.
//! `cargo bench -p redwood-bufpool`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::{Lsn, Page, PageBuf, PageCache, PageId, PageSize, PageType};

fn image() -> PageBuf {
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    page.seal(PageId::new(1), PageType::user(16).unwrap(), Lsn::new(1));
    page
}

fn hit_path(c: &mut Criterion) {
    let pool = BufferPool::new(PoolOptions::new(1024 * 4096, PageSize::DEFAULT)).unwrap();
    let prepared = image();
    let mut copy = |buffer: &mut Page| {
        buffer.as_mut_bytes().copy_from_slice(prepared.as_bytes());
        Ok(())
    };
    for page in 0..512 {
        drop(pool.load(PageId::new(page), Lsn::new(1), &mut copy).expect("loads"));
    }
    let mut page = 0;
    c.bench_function("bufpool hit (get, pin, read a byte, unpin)", |b| {
        b.iter(|| {
            page = (page + 1) % 512;
            let cached = pool.get(PageId::new(page), Lsn::new(1)).expect("cached");
            black_box(cached.body()[0])
        });
    });
}

fn miss_path(c: &mut Criterion) {
    let pool = BufferPool::new(PoolOptions::new(64 * 4096, PageSize::DEFAULT)).unwrap();
    let prepared = image();
    let mut copy = |buffer: &mut Page| {
        buffer.as_mut_bytes().copy_from_slice(prepared.as_bytes());
        Ok(())
    };
    let mut page = 0;
    c.bench_function("bufpool miss (evict, load a 4 KiB copy, pin, unpin)", |b| {
        b.iter(|| {
            page = (page + 1) % (1 << 20);
            let cached = pool
                .load(PageId::new(page), Lsn::new(1), &mut copy)
                .expect("loads")
                .expect("a frame is free");
            black_box(cached.body()[0])
        });
    });
}

criterion_group!(benches, hit_path, miss_path);
criterion_main!(benches);
