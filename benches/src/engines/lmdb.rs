//! LMDB through heed, with its default flags: every commit is synced.

#![allow(unsafe_code, reason = "heed's EnvOpenOptions::open is unsafe; see the SAFETY note")]

use std::{ops::Bound, path::Path};

use anyhow::Result;
use heed::{CompactionOption, Database, Env, EnvOpenOptions, RoTxn, WithoutTls, types::Bytes};

use super::{Engine, Entry, Reader};

/// The map reserves address space, not memory or disk; 64 GiB covers the full run.
const MAP_BYTES: usize = 64 << 30;

/// LMDB. It has no cache of its own: reads go through the OS page cache, which no budget
/// bounds.
pub struct LmdbEngine {
    env: Env<WithoutTls>,
    db: Database<Bytes, Bytes>,
}

impl LmdbEngine {
    pub fn open(dir: &Path) -> Result<LmdbEngine> {
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(MAP_BYTES).max_dbs(1);
        // SAFETY: LMDB's rule for `open` is that the environment is opened once per process
        // and its files are not changed by anything but LMDB. The directory is a fresh
        // temporary one owned by this worker process, which opens it exactly once.
        let env = unsafe { options.open(dir)? };
        let mut write = env.write_txn()?;
        let db = env.create_database(&mut write, Some("bench"))?;
        write.commit()?;
        Ok(LmdbEngine { env, db })
    }
}

impl Engine for LmdbEngine {
    fn write(&mut self, entries: &[Entry<'_>]) -> Result<()> {
        let mut write = self.env.write_txn()?;
        for (key, value) in entries {
            self.db.put(&mut write, key, value)?;
        }
        write.commit()?;
        Ok(())
    }

    fn remove(&mut self, keys: &[&[u8]]) -> Result<Option<u64>> {
        let mut write = self.env.write_txn()?;
        let mut removed = 0;
        for key in keys {
            removed += u64::from(self.db.delete(&mut write, key)?);
        }
        write.commit()?;
        Ok(Some(removed))
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        let read = self.env.read_txn()?;
        f(&LmdbReader { txn: read, db: self.db })
    }

    fn len(&self) -> Result<u64> {
        let read = self.env.read_txn()?;
        Ok(self.db.len(&read)?)
    }

    fn compact(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// `mdb_env_copyfd2` without `MDB_CP_COMPACT`: the meta pages and the map up to the last
    /// used page, written as they are (free pages included). LMDB does not sync the copy, so
    /// the file and its directory are synced here.
    fn backup(&self, path: &Path) -> Result<bool> {
        let mut file = std::fs::File::create_new(path)?;
        self.env.copy_to_file(&mut file, CompactionOption::Disabled)?;
        file.sync_all()?;
        drop(file);
        super::sync_parent_dir(path)?;
        Ok(true)
    }
}

struct LmdbReader<'env> {
    txn: RoTxn<'env, WithoutTls>,
    db: Database<Bytes, Bytes>,
}

impl Reader for LmdbReader<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<u64>> {
        Ok(self.db.get(&self.txn, key)?.map(super::digest))
    }

    fn range(&self, from: &[u8], count: usize) -> Result<usize> {
        let bounds: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Included(from), Bound::Unbounded);
        let mut seen = 0;
        for entry in self.db.range(&self.txn, &bounds)?.take(count) {
            let (key, value) = entry?;
            std::hint::black_box(super::digest(key) ^ super::digest(value));
            seen += 1;
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LMDB's copy is an environment's data file: opened as one, it holds the fifty entries
    /// written before the backup, not the one after.
    #[test]
    fn the_copy_opens_as_an_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("data.mdb");
        assert!(crate::engines::tests::back_up_fifty("lmdb", dir.path(), &path));
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(1 << 30).max_dbs(1);
        // SAFETY: the copy's directory is a fresh temporary one, opened once, by this test only.
        let env = unsafe { options.open(out.path()).unwrap() };
        let read = env.read_txn().unwrap();
        let db: Database<Bytes, Bytes> = env.open_database(&read, Some("bench")).unwrap().unwrap();
        assert_eq!(db.len(&read).unwrap(), 50);
        assert_eq!(db.get(&read, b"after").unwrap(), None);
    }
}
