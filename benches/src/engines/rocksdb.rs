//! RocksDB, every write batch with `sync = true`. Built only with `--cfg redwood_rocksdb`
//! (`cargo xtask bench --rocksdb`): its build takes about 14 minutes here.

use std::path::Path;

use anyhow::Result;
use rocksdb::{
    BlockBasedOptions, Cache, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};

use super::{Engine, Entry, Reader};

/// RocksDB with the cache budget as its block cache.
pub struct RocksEngine {
    db: DB,
    sync: WriteOptions,
    _cache: Cache,
}

impl RocksEngine {
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<RocksEngine> {
        let cache = Cache::new_lru_cache(cache_bytes as usize);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_block_based_table_factory(&table);
        let db = DB::open(&options, dir.join("bench.rocksdb"))?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        Ok(RocksEngine { db, sync, _cache: cache })
    }
}

impl Engine for RocksEngine {
    fn write(&mut self, entries: &[Entry<'_>]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for (key, value) in entries {
            batch.put(key, value);
        }
        self.db.write_opt(batch, &self.sync)?;
        Ok(())
    }

    /// Like fjall: a tombstone does not say whether the key was there; the row checks `len`.
    fn remove(&mut self, keys: &[&[u8]]) -> Result<Option<u64>> {
        let mut batch = WriteBatch::default();
        for key in keys {
            batch.delete(key);
        }
        self.db.write_opt(batch, &self.sync)?;
        Ok(None)
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        f(&RocksReader { snapshot: self.db.snapshot() })
    }

    fn len(&self) -> Result<u64> {
        let mut count = 0;
        for entry in self.db.iterator(IteratorMode::Start) {
            entry?;
            count += 1;
        }
        Ok(count)
    }

    fn compact(&mut self) -> Result<bool> {
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        Ok(true)
    }

    /// RocksDB's `BackupEngine` writes a directory of files, not one; not wired in.
    fn backup(&self, _path: &Path) -> Result<bool> {
        Ok(false)
    }
}

struct RocksReader<'db> {
    snapshot: rocksdb::Snapshot<'db>,
}

impl Reader for RocksReader<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<u64>> {
        Ok(self.snapshot.get_pinned(key)?.map(|value| super::digest(&value)))
    }

    fn range(&self, from: &[u8], count: usize) -> Result<usize> {
        let mut seen = 0;
        for entry in
            self.snapshot.iterator(IteratorMode::From(from, Direction::Forward)).take(count)
        {
            let (key, value) = entry?;
            std::hint::black_box(super::digest(&key) ^ super::digest(&value));
            seen += 1;
        }
        Ok(seen)
    }
}
