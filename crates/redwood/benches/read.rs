//! Micro-benchmarks of the facade's per-transaction costs on a real file: a read transaction
//! that opens a table and asks its length (the benchmark's `len` row), and one that gets a key.
//! `cargo bench -p redwood`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use redwood::Database;

fn read_transactions(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::create(dir.path().join("bench.redwood")).expect("creates");
    let write = db.begin_write().expect("begins");
    {
        let mut table = write.open_table("bench").expect("opens");
        for index in 0..10_000u32 {
            table.insert(index.to_be_bytes(), [7u8; 150]).expect("inserts");
        }
    }
    write.commit().expect("commits");
    c.bench_function("begin_read + open_table + len", |b| {
        b.iter(|| {
            let read = db.begin_read().expect("begins");
            black_box(read.open_table("bench").expect("opens").len())
        });
    });
    let mut index = 0u32;
    c.bench_function("begin_read + open_table + get", |b| {
        b.iter(|| {
            index = (index + 7919) % 10_000;
            let read = db.begin_read().expect("begins");
            let table = read.open_table("bench").expect("opens");
            black_box(table.get(index.to_be_bytes()).expect("reads").map(|value| value.len()))
        });
    });
}

criterion_group!(benches, read_transactions);
criterion_main!(benches);
