//! Writes a seed for the `wal_recovery` fuzz target: a log of database 7 (salt 0xfeed, the
//! target's options) with three committed transactions and a restore point. Usage:
//! `wal_fuzz_seed OUTPUT`.

use std::path::Path;

use redwood_pager::io::MemVfs;
use redwood_pager::{
    Durability, LogIdentity, Lsn, PageBuf, PageId, PageSize, PageType, RestorePoint,
    TransactionChanges,
};
use redwood_wal::{Result, Wal, WalOptions};

fn main() -> Result<()> {
    let output = std::env::args().nth(1).expect("usage: wal_fuzz_seed OUTPUT");
    std::fs::write(&output, seed()?).expect("write the seed");
    println!("wrote {output}");
    Ok(())
}

/// The seed's bytes (the test suite checks they match `fuzz/seeds/wal_recovery/`).
pub fn seed() -> Result<Vec<u8>> {
    let vfs = MemVfs::new();
    let options = WalOptions {
        page_size: PageSize::DEFAULT,
        database_id: 7,
        start_lsn: Lsn::new(1),
        identity: LogIdentity { generation: 1, salt: 0xfeed },
        ..WalOptions::default()
    };
    let (mut wal, _) = Wal::open(&vfs, Path::new("db.wal"), &options)?;
    for number in 1..=3u64 {
        let mut page = PageBuf::zeroed(PageSize::DEFAULT);
        page.body_mut()[0] = number as u8;
        page.seal(PageId::new(10 + number), PageType::user(16).expect("user type"), Lsn::ZERO);
        wal.append_page(&page)?;
        if number == 2 {
            wal.append_restore_point(&RestorePoint { name: "seed".into(), timestamp_ms: 1 })?;
        }
        let changes = TransactionChanges {
            page_count: 20,
            allocated: vec![PageId::new(10 + number)],
            ..Default::default()
        };
        wal.commit(changes, Durability::Immediate)?;
    }
    // The frames only: the zeros the log writes ahead of them would make the seed a megabyte,
    // and recovery cuts them off anyway.
    let frames_end = wal.size_bytes() as usize;
    drop(wal);
    let mut image = vfs.image()[Path::new("db.wal")].clone();
    image.truncate(frames_end);
    Ok(image)
}
