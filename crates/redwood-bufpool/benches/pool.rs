//! Micro-benchmarks of the buffer pool's two paths: a hit (look up, pin, read, unpin) and a
//! miss (claim a victim, evict, load, pin). The loader only copies a prepared image, so the miss
//! figure is the pool's own cost, not storage's. `cargo bench -p redwood-bufpool`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use redwood_bufpool::{BufferPool, CacheKey, PoolOptions};
use redwood_pager::{Lsn, PageBuf, PageId, PageSize, PageType};

fn image() -> PageBuf {
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    page.seal(PageId::new(1), PageType::user(16).unwrap(), Lsn::new(1));
    page
}

fn key(page: u64) -> CacheKey {
    CacheKey { page_id: PageId::new(page), version: 1 }
}

fn hit_path(c: &mut Criterion) {
    let pool = BufferPool::new(PoolOptions::new(1024 * 4096, PageSize::DEFAULT)).unwrap();
    let prepared = image();
    for page in 0..512 {
        drop(pool.get_or_load(key(page), |buffer| {
            buffer.as_mut_bytes().copy_from_slice(prepared.as_bytes());
            Ok(())
        }));
    }
    let mut page = 0;
    c.bench_function("bufpool hit (get, pin, read a byte, unpin)", |b| {
        b.iter(|| {
            page = (page + 1) % 512;
            let cached = pool.get(key(page)).expect("cached");
            black_box(cached.body()[0])
        });
    });
}

fn miss_path(c: &mut Criterion) {
    let pool = BufferPool::new(PoolOptions::new(64 * 4096, PageSize::DEFAULT)).unwrap();
    let prepared = image();
    let mut page = 0;
    c.bench_function("bufpool miss (evict, load a 4 KiB copy, pin, unpin)", |b| {
        b.iter(|| {
            page += 1;
            let cached = pool
                .get_or_load(key(page), |buffer| {
                    buffer.as_mut_bytes().copy_from_slice(prepared.as_bytes());
                    Ok(())
                })
                .expect("loads");
            black_box(cached.body()[0])
        });
    });
}

criterion_group!(benches, hit_path, miss_path);
criterion_main!(benches);
