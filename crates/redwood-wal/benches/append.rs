//! Micro-benchmarks of the log's CPU work on an in-memory file system (no fsync cost): appending
//! a page frame (frame checksum and buffering) and committing a one-page transaction.
//! `cargo bench -p redwood-wal`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use redwood_pager::io::MemVfs;
use redwood_pager::{
    Durability, LogIdentity, Lsn, PageBuf, PageId, PageSize, PageType, TransactionChanges,
};
use redwood_wal::{Wal, WalOptions};

fn options() -> WalOptions {
    WalOptions {
        page_size: PageSize::DEFAULT,
        database_id: 1,
        start_lsn: Lsn::new(1),
        identity: LogIdentity { generation: 1, salt: 1 },
        ..WalOptions::default()
    }
}

fn page() -> PageBuf {
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    page.body_mut().fill(0x5A);
    page.seal(PageId::new(9), PageType::user(16).expect("a user type"), Lsn::ZERO);
    page
}

fn log_work(c: &mut Criterion) {
    let page = page();
    c.bench_function("wal commit of one page (durability none, in memory)", |b| {
        let vfs = MemVfs::new();
        let (mut wal, _) = Wal::open(&vfs, Path::new("bench.wal"), &options()).expect("opens");
        let mut commits = 0u64;
        b.iter(|| {
            wal.append_page(black_box(&page)).expect("appends");
            let changes = TransactionChanges { page_count: 10, ..Default::default() };
            wal.commit(changes, Durability::None).expect("commits");
            commits += 1;
            // Start a new generation now and then, so the in-memory file stays small.
            if commits.is_multiple_of(10_000) {
                wal.restart(true).expect("restarts");
            }
        });
    });
}

criterion_group!(benches, log_work);
criterion_main!(benches);
