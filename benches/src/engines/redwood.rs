//! Redwood, through its public facade.

use std::{ops::Bound, path::Path};

use anyhow::Result;
use redwood::{Database, ReadOnlyTable};

use super::{Engine, Entry, Reader};

const TABLE: &str = "bench";

/// Redwood with `Durability::Immediate` and the cache budget as its page cache; a write
/// transaction's dirty pages share that budget (the default: up to three quarters of it).
pub struct RedwoodEngine {
    db: Database,
}

impl RedwoodEngine {
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<RedwoodEngine> {
        let db = Database::builder().cache_bytes(cache_bytes).create(dir.join("bench.redwood"))?;
        let write = db.begin_write()?;
        write.open_table(TABLE)?;
        write.commit()?;
        Ok(RedwoodEngine { db })
    }

    /// Redwood as `Database::create` gives it, with nothing tuned (the `redwood-defaults`
    /// engine): what a new user measures.
    pub fn open_defaults(dir: &Path) -> Result<RedwoodEngine> {
        let db = Database::create(dir.join("bench.redwood"))?;
        let write = db.begin_write()?;
        write.open_table(TABLE)?;
        write.commit()?;
        Ok(RedwoodEngine { db })
    }
}

impl Engine for RedwoodEngine {
    fn write(&mut self, entries: &[Entry<'_>]) -> Result<()> {
        let write = self.db.begin_write()?;
        {
            let mut table = write.open_table(TABLE)?;
            for (key, value) in entries {
                table.insert(key, value)?;
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
                removed += u64::from(table.remove(key)?);
            }
        }
        write.commit()?;
        Ok(Some(removed))
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        let read = self.db.begin_read()?;
        let table = read.open_table(TABLE)?;
        f(&RedwoodReader { table })
    }

    fn len(&self) -> Result<u64> {
        Ok(self.db.begin_read()?.open_table(TABLE)?.len())
    }

    fn compact(&mut self) -> Result<bool> {
        self.db.compact(|_| {})?;
        Ok(true)
    }

    /// A full backup (no parent); `backup_to_file` syncs the archive and its directory.
    fn backup(&self, path: &Path) -> Result<bool> {
        self.db.backup_to_file(path, None, |_, _| {})?;
        Ok(true)
    }
}

struct RedwoodReader<'t, 'db> {
    table: ReadOnlyTable<'t, 'db>,
}

impl Reader for RedwoodReader<'_, '_> {
    fn get(&self, key: &[u8]) -> Result<Option<u64>> {
        Ok(self.table.get(key)?.map(|value| super::digest(value.value())))
    }

    fn range(&self, from: &[u8], count: usize) -> Result<usize> {
        let mut seen = 0;
        for entry in self.table.range((Bound::Included(from), Bound::Unbounded)).take(count) {
            let (key, value) = entry?;
            std::hint::black_box(super::digest(key.value()) ^ super::digest(value.value()));
            seen += 1;
        }
        Ok(seen)
    }
}
