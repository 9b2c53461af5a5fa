//! Fuzz target: arbitrary bytes as a write-ahead log file. Recovery must return a valid prefix
//! (every recovered page readable and verified) or a typed error, never a panic; and a log that
//! recovered must accept a new commit and recover again.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{LogIdentity, Durability, Lsn, PageBuf, PageSize, TransactionChanges};
use redwood_wal::{Wal, WalOptions};

fuzz_target!(|data: &[u8]| {
    let vfs = MemVfs::new();
    vfs.create(Path::new("db.wal")).unwrap().write_at(0, data).unwrap();
    let options = WalOptions {
        page_size: PageSize::DEFAULT,
        database_id: 7,
        start_lsn: Lsn::new(1),
        identity: LogIdentity { generation: 1, salt: 0xfeed },
        ..WalOptions::default()
    };
    let Ok((mut wal, recovery)) = Wal::open(&vfs, Path::new("db.wal"), &options) else { return };
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    for transaction in &recovery.transactions {
        for &(page_id, position) in &transaction.pages {
            if wal.read_page(position, &mut page).is_ok() {
                assert_eq!(page.page_id(), page_id);
            }
        }
    }
    let count = recovery.transactions.len();
    if wal.commit(TransactionChanges::default(), Durability::Immediate).is_ok() {
        drop(wal);
        let (_, again) = Wal::open(&vfs, Path::new("db.wal"), &options).expect("reopens");
        assert_eq!(again.transactions.len(), count + 1);
    }
});
