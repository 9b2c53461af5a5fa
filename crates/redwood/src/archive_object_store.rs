//! The log archive in an object store (feature `object-store`): any
//! [`object_store::ObjectStore`] (S3, Google Cloud Storage, Azure, local files, memory), each
//! archived object under a prefix. A put is one `PUT` of the whole object, which object stores
//! make atomic; its durability is the store's.
//!
//! The archive is driven from the checkpointing thread, which is not async: each call runs on a
//! small runtime of this adapter's own, so a checkpoint must not be called from inside another
//! async runtime's worker thread (the background checkpointer never is).

use std::io;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use redwood_pager::io::Storage;
use redwood_wal::archive::{ArchiveStore, BytesStorage};

use crate::archive::ArchiveTarget;

/// An [`ArchiveStore`] over an object store, under `prefix`.
pub struct ObjectStoreArchive {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for ObjectStoreArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreArchive").field("location", &self.location()).finish()
    }
}

impl ObjectStoreArchive {
    /// The archive in `store` under `prefix` (`""` for the store's root).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Self { store, prefix: ObjectPath::from(prefix), runtime })
    }

    fn path(&self, name: &str) -> ObjectPath {
        self.prefix.clone().join(name)
    }
}

fn io_error(error: object_store::Error) -> io::Error {
    match error {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, error),
        other => io::Error::other(other),
    }
}

impl ArchiveStore for ObjectStoreArchive {
    fn put(&self, name: &str, source: &dyn Storage, len: u64) -> io::Result<()> {
        let mut bytes = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
        source.read_at(0, &mut bytes)?;
        let path = self.path(name);
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(io_error)
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn Storage>> {
        let path = self.path(name);
        let bytes = self.runtime.block_on(async {
            let got = self.store.get(&path).await?;
            got.bytes().await
        });
        Ok(Box::new(BytesStorage(bytes.map_err(io_error)?.to_vec())))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let listed: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(Some(&self.prefix)).try_collect())
            .map_err(io_error)?;
        let mut names: Vec<String> = listed
            .into_iter()
            .filter(|meta| {
                meta.location
                    .prefix_match(&self.prefix)
                    .is_some_and(|mut rest| rest.nth(1).is_none())
            })
            .filter_map(|meta| meta.location.filename().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        match self.runtime.block_on(self.store.delete(&self.path(name))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(io_error(error)),
        }
    }

    fn location(&self) -> String {
        format!("{}/{}", self.store, self.prefix)
    }
}

impl ArchiveTarget {
    /// The log archive in an object store, under `prefix` (feature `object-store`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use redwood::{ArchiveTarget, CheckpointMode, Database, RestoreTarget};
    ///
    /// let bucket = Arc::new(object_store::memory::InMemory::new());
    /// let target = ArchiveTarget::object_store(bucket, "app/log")?;
    /// let db = Database::builder().archive(target.clone()).in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.restore_point("v1")?;
    /// write.commit()?;
    /// db.checkpoint(CheckpointMode::Truncate)?;
    /// assert_eq!(db.restore_points()[0].name, "v1");
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let copy = dir.path().join("copy.redwood");
    /// let none: Vec<std::fs::File> = Vec::new();
    /// redwood::restore(none, Some(&target), &RestoreTarget::Point("v1".into()), &copy, |_, _| {})?;
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn object_store(store: Arc<dyn ObjectStore>, prefix: &str) -> crate::Result<Self> {
        let archive =
            ObjectStoreArchive::new(store, prefix).map_err(|source| redwood_pager::Error::Io {
                operation: "start the object store's runtime",
                path: prefix.into(),
                source,
            })?;
        Ok(Self::store(Arc::new(archive)))
    }
}
