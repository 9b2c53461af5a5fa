//! Helpers shared by the log tests: seeds, options, pages and a scripted transaction.

use std::path::Path;

use redwood_pager::TransactionChanges;
use redwood_pager::io::Vfs;
use redwood_pager::io::sim::SimVfs;
use redwood_pager::{Durability, LogIdentity, Lsn, PageBuf, PageId, PageSize, PageType};
use redwood_wal::{Recovery, Result, Wal, WalOptions};

pub use redwood_pager::io::sim::test_seed as seed;

/// Options for a log of database 7 with a fixed salt.
pub fn options() -> WalOptions {
    WalOptions {
        page_size: PageSize::DEFAULT,
        database_id: 7,
        start_lsn: Lsn::new(1),
        identity: LogIdentity { generation: 1, salt: 0xfeed },
        ..WalOptions::default()
    }
}

/// Opens (or creates) `db.wal` in `vfs`.
pub fn open(vfs: &SimVfs) -> Result<(Wal, Recovery)> {
    Wal::open(vfs as &dyn Vfs, Path::new("db.wal"), &options())
}

/// A sealed page whose contents derive from `fill`.
pub fn page(page_id: u64, fill: u64) -> PageBuf {
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    for (index, chunk) in page.body_mut().chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(fill ^ (index as u64) << 20).to_le_bytes());
    }
    page.seal(PageId::new(page_id), PageType::user(16).unwrap(), Lsn::new(fill));
    page
}

/// Transaction `number`: pages `number*10 ..` (1 to 3 of them) and a commit naming it.
pub fn transaction(wal: &mut Wal, number: u64, durability: Durability) -> Result<Lsn> {
    for offset in 0..1 + number % 3 {
        wal.append_page(&page(number * 10 + offset, number))?;
    }
    let changes =
        TransactionChanges { timestamp_ms: number, page_count: number, ..Default::default() };
    wal.commit(changes, durability)
}
