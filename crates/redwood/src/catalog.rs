//! The tables catalog: a B+Tree anchored in root slot 0 mapping each table's name to its root
//! page and entry count (16 bytes, little-endian), so `len()` is O(1).

use redwood_btree::Tree;
use redwood_pager::{PageId, PageRead, PageWrite};

use crate::error::{Error, Result};

/// The root slot holding the catalog's root page.
pub(crate) const CATALOG_SLOT: usize = 0;

/// One table as the catalog records it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TableEntry {
    pub root: PageId,
    pub len: u64,
}

impl TableEntry {
    fn encode(self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.root.get().to_le_bytes());
        bytes[8..].copy_from_slice(&self.len.to_le_bytes());
        bytes
    }

    pub(crate) fn decode(bytes: &[u8], catalog: PageId) -> Result<Self> {
        let corrupt = || redwood_btree::Error::Corrupt {
            page_id: catalog,
            reason: "a catalog entry is not 16 bytes".to_owned(),
        };
        let root: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?;
        let len: [u8; 8] = bytes.get(8..16).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?;
        Ok(Self { root: PageId::new(u64::from_le_bytes(root)), len: u64::from_le_bytes(len) })
    }
}

/// The catalog of the snapshot or transaction `store` sees (empty if there is none yet).
pub(crate) fn lookup(store: &impl PageRead, name: &str) -> Result<Option<TableEntry>> {
    let Some(root) = store.root(CATALOG_SLOT) else { return Ok(None) };
    let Some(bytes) = Tree::open(root).get(store, name.as_bytes())? else { return Ok(None) };
    Ok(Some(TableEntry::decode(&bytes, root)?))
}

/// Every table name in order, with its entry.
pub(crate) fn list(store: &impl PageRead) -> Result<Vec<(String, TableEntry)>> {
    let Some(root) = store.root(CATALOG_SLOT) else { return Ok(Vec::new()) };
    let mut tables = Vec::new();
    for item in Tree::open(root).range(store, ..) {
        let entry = item?;
        let name =
            String::from_utf8(entry.key().to_vec()).map_err(|_| redwood_btree::Error::Corrupt {
                page_id: root,
                reason: "a table name is not UTF-8".to_owned(),
            })?;
        let redwood_btree::Value::Inline(bytes) = entry.value() else {
            let reason = "a catalog entry is not inline".to_owned();
            return Err(redwood_btree::Error::Corrupt { page_id: root, reason }.into());
        };
        tables.push((name, TableEntry::decode(bytes, root)?));
    }
    Ok(tables)
}

/// Records `entry` for `name` (or removes it), creating the catalog if needed.
pub(crate) fn store_entry(
    store: &mut impl PageWrite,
    name: &str,
    entry: Option<TableEntry>,
) -> Result<()> {
    let mut catalog = match store.root(CATALOG_SLOT) {
        Some(root) => Tree::open(root),
        None => Tree::create(store)?,
    };
    match entry {
        Some(entry) => {
            catalog.insert(store, name.as_bytes(), &entry.encode())?;
        }
        None => {
            catalog.remove(store, name.as_bytes())?;
        }
    }
    store.set_root(CATALOG_SLOT, Some(catalog.root()))?;
    Ok(())
}

/// The error for a table whose recorded length cannot be right: the catalog is damaged (its
/// root page is named; the entry lives somewhere in its tree).
pub(crate) fn length_corrupt(store: &impl PageRead, name: &str, what: &str) -> Error {
    let page_id = store.root(CATALOG_SLOT).unwrap_or(PageId::new(0));
    let reason = format!("the recorded length of table {name:?} {what}");
    redwood_btree::Error::Corrupt { page_id, reason }.into()
}

/// Checks a table name: non-empty and short enough to be a catalog key.
pub(crate) fn check_name(name: &str, page_size: redwood_pager::PageSize) -> Result<()> {
    if name.is_empty() || name.len() > redwood_btree::limits::key_max_bytes(page_size) {
        return Err(Error::InvalidTableName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Database;

    /// A catalog entry whose recorded length is wrong (crafted: 0 for a table of one key) is
    /// named by the integrity check, and removing the key is a corruption error, never a
    /// wrapped length (issue 15).
    #[test]
    fn a_wrong_recorded_length_is_corruption() {
        let db = Database::in_memory().unwrap();
        let write = db.begin_write().unwrap();
        write.open_table("t").unwrap().insert(b"k", b"v").unwrap();
        write.commit().unwrap();
        let mut write = db.begin_write().unwrap();
        let state = write.state.get_mut();
        let entry = lookup(&state.txn, "t").unwrap().unwrap();
        store_entry(&mut state.txn, "t", Some(TableEntry { len: 0, ..entry })).unwrap();
        write.commit().unwrap();

        let report = db.check_report(|_, _| {}).unwrap();
        let expected = "the recorded length of table \"t\" is 0, but the tree holds 1 entries";
        assert!(report.problems.iter().any(|p| p.message.contains(expected)), "{report:?}");
        assert!(db.check_integrity().is_err());
        let write = db.begin_write().unwrap();
        let error = write.open_table("t").unwrap().remove(b"k").unwrap_err();
        assert!(error.is_corruption(), "{error}");
        assert!(error.to_string().contains("is 0, yet a key was removed"), "{error}");
    }
}
