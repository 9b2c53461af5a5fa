//! Micro-benchmarks of overflow chains on an in-memory page store (no cache, no log): writing
//! and reading back a 2 MB value, the large-value rows' unit of work.
//! `cargo bench -p redwood-overflow`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redwood_pager::testing::MemPageStore;

fn chains(c: &mut Criterion) {
    let value: Vec<u8> = (0..2_000_000u32).map(|index| (index * 7) as u8).collect();
    let mut group = c.benchmark_group("overflow chain");
    group.throughput(Throughput::Bytes(value.len() as u64));
    group.bench_function("write and free 2 MB", |b| {
        let mut store = MemPageStore::default();
        b.iter(|| {
            let chain = redwood_overflow::write(&mut store, &value).expect("writes");
            redwood_overflow::free(&mut store, black_box(chain)).expect("frees");
        });
    });
    let mut store = MemPageStore::default();
    let chain = redwood_overflow::write(&mut store, &value).expect("writes");
    group.bench_function("read 2 MB", |b| {
        b.iter(|| black_box(redwood_overflow::read(&store, chain).expect("reads")));
    });
    group.finish();
}

criterion_group!(benches, chains);
criterion_main!(benches);
