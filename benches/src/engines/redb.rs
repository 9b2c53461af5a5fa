//! redb, with its default `Durability::Immediate`.

use std::path::Path;

use anyhow::Result;
use redb::{Database, ReadOnlyTable, ReadableDatabase, ReadableTableMetadata, TableDefinition};

use super::{Engine, Entry, Reader};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

/// redb with the cache budget as its cache.
pub struct RedbEngine {
    db: Database,
}

impl RedbEngine {
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<RedbEngine> {
        let db = Database::builder()
            .set_cache_size(cache_bytes as usize)
            .create(dir.join("bench.redb"))?;
        let write = db.begin_write()?;
        write.open_table(TABLE)?;
        write.commit()?;
        Ok(RedbEngine { db })
    }
}

impl Engine for RedbEngine {
    fn write(&mut self, entries: &[Entry<'_>]) -> Result<()> {
        let write = self.db.begin_write()?;
        {
            let mut table = write.open_table(TABLE)?;
            for (key, value) in entries {
                table.insert(*key, *value)?;
            }
        }
        write.commit()?;
        Ok(())
    }

    fn remove(&mut self, keys: &[&[u8]]) -> Result<Option<u64>> {
        let write = self.db.begin_write()?;
        let mut removed = 0;
        {
            let mut table = write.open_table(TABLE)?;
            for key in keys {
                removed += u64::from(table.remove(*key)?.is_some());
            }
        }
        write.commit()?;
        Ok(Some(removed))
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        let read = self.db.begin_read()?;
        let table = read.open_table(TABLE)?;
        f(&RedbReader { table })
    }

    fn len(&self) -> Result<u64> {
        Ok(self.db.begin_read()?.open_table(TABLE)?.len()?)
    }

    fn compact(&mut self) -> Result<bool> {
        while self.db.compact()? {}
        Ok(true)
    }

    /// redb has no backup API (its savepoints live in the database file).
    fn backup(&self, _path: &Path) -> Result<bool> {
        Ok(false)
    }
}

struct RedbReader {
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Reader for RedbReader {
    fn get(&self, key: &[u8]) -> Result<Option<u64>> {
        Ok(self.table.get(key)?.map(|value| super::digest(value.value())))
    }

    fn range(&self, from: &[u8], count: usize) -> Result<usize> {
        let mut seen = 0;
        for entry in self.table.range(from..)?.take(count) {
            let (key, value) = entry?;
            std::hint::black_box(super::digest(key.value()) ^ super::digest(value.value()));
            seen += 1;
        }
        Ok(seen)
    }
}
