//! The tables catalog: a B+Tree anchored in root slot 0 mapping each table's name to its root
//! page and entry count (16 bytes, little-endian), so `len()` is O(1), and for a multimap table
//! one more byte, its kind (`docs/FORMAT.md`, "The tables catalog").

use redwood_btree::Tree;
use redwood_pager::{PageId, PageRead, PageWrite};

use crate::error::{Error, Result};

/// The root slot holding the catalog's root page.
pub(crate) const CATALOG_SLOT: usize = 0;

/// What a table holds: one value per key, or a sorted set of values per key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TableKind {
    /// A table ([`crate::Table`]): one value per key.
    Table,
    /// A multimap table ([`crate::MultimapTable`]): a sorted set of values per key.
    Multimap,
}

impl TableKind {
    /// The kind's name in messages: "table" or "multimap table".
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Table => "table",
            TableKind::Multimap => "multimap table",
        }
    }
}

/// The kind byte of a multimap table's catalog entry (a table's entry has none).
const MULTIMAP_KIND_BYTE: u8 = 1;

/// One table as the catalog records it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TableEntry {
    pub root: PageId,
    pub len: u64,
    pub kind: TableKind,
}

impl TableEntry {
    fn encode(self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(17);
        bytes.extend_from_slice(&self.root.get().to_le_bytes());
        bytes.extend_from_slice(&self.len.to_le_bytes());
        if self.kind == TableKind::Multimap {
            bytes.push(MULTIMAP_KIND_BYTE);
        }
        bytes
    }

    pub(crate) fn decode(bytes: &[u8], catalog: PageId) -> Result<Self> {
        let corrupt = |reason: &str| redwood_btree::Error::Corrupt {
            page_id: catalog,
            reason: reason.to_owned(),
        };
        let kind = match bytes.len() {
            16 => TableKind::Table,
            17 if bytes[16] == MULTIMAP_KIND_BYTE => TableKind::Multimap,
            17 => return Err(corrupt("a catalog entry has an unknown kind byte").into()),
            _ => return Err(corrupt("a catalog entry is neither 16 nor 17 bytes").into()),
        };
        let root = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        Ok(Self { root: PageId::new(root), len, kind })
    }

    /// This entry, if it is of kind `kind`; else `TableKindMismatch` for table `name`.
    pub(crate) fn expect_kind(self, name: &str, kind: TableKind) -> Result<Self> {
        if self.kind != kind {
            return Err(Error::TableKindMismatch {
                name: name.to_owned(),
                requested: kind.name(),
                found: self.kind.name(),
            });
        }
        Ok(self)
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
