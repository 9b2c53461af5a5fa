//! Micro-benchmarks of B+Tree lookups and inserts on an in-memory page store (no cache, no
//! log): the tree's own cost per operation. 100,000 entries with 24-byte keys and 150-byte
//! values, as in the side-by-side benchmark; and a bulk load of ascending keys into an empty
//! tree (one write transaction's worth). `cargo bench -p redwood-btree`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use redwood_btree::Tree;
use redwood_pager::testing::MemPageStore;

const ENTRIES: u64 = 100_000;

fn key(index: u64) -> [u8; 24] {
    let mut key = [0; 24];
    key[..8].copy_from_slice(&index.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    key
}

fn tree_ops(c: &mut Criterion) {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).expect("creates");
    let value = [0x5A; 150];
    for index in 0..ENTRIES {
        tree.insert(&mut store, &key(index), &value).expect("inserts");
    }
    let mut index = 0;
    c.bench_function("btree get (100k entries, hit)", |b| {
        b.iter(|| {
            index = (index + 7919) % ENTRIES;
            black_box(tree.get_value(&store, &key(index)).expect("reads").expect("present"))
        });
    });
    c.bench_function("btree get_entry (100k entries, hit, borrowed)", |b| {
        b.iter(|| {
            index = (index + 7919) % ENTRIES;
            black_box(tree.get_entry(&store, &key(index)).expect("reads").expect("present"))
        });
    });
    let mut next = ENTRIES;
    c.bench_function("btree insert (into 100k+ entries)", |b| {
        b.iter(|| {
            next += 1;
            tree.insert(&mut store, &key(next), &value).expect("inserts")
        });
    });
}

/// Keys loaded per bulk-load iteration.
const BULK_ENTRIES: u64 = 20_000;

fn bulk_load(c: &mut Criterion) {
    let value = [0x5A; 150];
    let mut group = c.benchmark_group("btree bulk load");
    group.sample_size(10);
    group.bench_function("20k ascending keys into an empty tree", |b| {
        b.iter(|| {
            let mut store = MemPageStore::default();
            let mut tree = Tree::create(&mut store).expect("creates");
            for index in 0..BULK_ENTRIES {
                tree.insert(&mut store, &index.to_be_bytes(), &value).expect("inserts");
            }
            black_box(store.allocated().len())
        });
    });
    group.finish();
}

criterion_group!(benches, tree_ops, bulk_load);
criterion_main!(benches);
