//! Micro-benchmarks of the page codec: sealing a page (header plus CRC32C) before a write and
//! verifying it after a read, for the default 4 KiB page and the largest, 64 KiB.
//! `cargo bench -p redwood-pager`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redwood_pager::{Lsn, PageBuf, PageId, PageSize, PageType};

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("page codec");
    for page_size in [PageSize::DEFAULT, PageSize::new(65_536).expect("a valid page size")] {
        let bytes = page_size.bytes();
        group.throughput(Throughput::Bytes(bytes as u64));
        let mut page = PageBuf::zeroed(page_size);
        for (index, byte) in page.as_mut_bytes().iter_mut().enumerate() {
            *byte = (index * 31) as u8;
        }
        let page_type = PageType::user(16).expect("a user page type");
        group.bench_function(format!("seal {bytes} B"), |b| {
            b.iter(|| page.seal(black_box(PageId::new(7)), page_type, Lsn::new(9)));
        });
        page.seal(PageId::new(7), page_type, Lsn::new(9));
        group.bench_function(format!("verify {bytes} B"), |b| {
            b.iter(|| black_box(&page).verify(PageId::new(7)).expect("verifies"));
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
