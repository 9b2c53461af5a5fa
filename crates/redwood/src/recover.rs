//! `recover`: copies every table entry that can still be read out of a damaged database (one
//! that may not open normally at all) into a new database, and reports per table what it
//! recovered and what it could not: the pages at fault and the key ranges they held. The
//! damaged files are opened with `Builder::salvage` and never changed. sqlite3's `.recover`
//! is the model.

use std::path::{Path, PathBuf};

use redwood_btree::{LostRange, Tree};
use redwood_pager::PageId;

use crate::catalog::{self, CATALOG_SLOT};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::read::bytes_of;
use crate::write::{Open, Table};
use crate::{Builder, Durability, WriteTransaction};

/// Entries copied per write transaction of the new database.
const BATCH_ENTRIES: u64 = 10_000;

/// A part of the damaged database that could not be read: the page at fault and the keys it
/// held (for a value whose overflow chain is damaged, that one key).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LostPart {
    /// The page that could not be read.
    pub page_id: Option<PageId>,
    /// The keys lost lie at or above this one (`None`: from the start) ...
    pub from_key: Option<Vec<u8>>,
    /// ... and below this one (`None`: to the end); for a single key, equal to `from_key`.
    pub to_key: Option<Vec<u8>>,
    /// Why, as a sentence.
    pub reason: String,
}

impl LostPart {
    fn from_range(range: LostRange) -> Self {
        let page_id = Some(range.page_id);
        let reason = Error::from(range.error).to_string();
        LostPart { page_id, from_key: range.from_key, to_key: range.to_key, reason }
    }

    /// Whether `key` may have been among the entries lost here.
    pub fn covers(&self, key: &[u8]) -> bool {
        match (&self.from_key, &self.to_key) {
            (Some(from), Some(to)) if from == to => key == from.as_slice(),
            (from, to) => {
                from.as_deref().is_none_or(|from| key >= from)
                    && to.as_deref().is_none_or(|to| key < to)
            }
        }
    }
}

/// What `recover` did for one table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableRecovery {
    /// The table's name.
    pub name: String,
    /// Entries copied into the new database.
    pub entries_recovered: u64,
    /// The entry count the damaged catalog records for the table.
    pub entries_recorded: u64,
    /// What could not be read, in key order.
    pub lost: Vec<LostPart>,
}

/// What `recover` did.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RecoverReport {
    /// The new database.
    pub destination: PathBuf,
    /// Every table the catalog could still name, in name order.
    pub tables: Vec<TableRecovery>,
    /// Parts of the catalog that could not be read (the tables named there are lost: their
    /// names lie in these key ranges).
    pub catalog_lost: Vec<LostPart>,
    /// Damage the salvage open went past: the data files, and damaged log frames.
    pub notes: Vec<String>,
}

impl RecoverReport {
    /// Entries copied, in all tables.
    pub fn entries_recovered(&self) -> u64 {
        self.tables.iter().map(|table| table.entries_recovered).sum()
    }

    /// Whether everything was recovered: no part of any table or of the catalog was lost.
    pub fn is_complete(&self) -> bool {
        self.catalog_lost.is_empty() && self.tables.iter().all(|table| table.lost.is_empty())
    }
}

/// Copies every readable entry of the database at `source` (opened with `Builder::salvage`,
/// so it may be too damaged to open normally, and is never changed) into a new database at
/// `destination` (which must not exist), and reports what was recovered and what was not.
/// `progress` hears the entries copied so far and the entries the damaged catalog records in
/// all (an estimate: damage may make either more or fewer). An `Err` means the copy itself
/// failed (the source's meta data is unreadable, the destination exists, a write failed); a
/// destination it had begun is then left as it is, for the caller to remove.
pub fn recover(
    source: impl AsRef<Path>,
    destination: impl AsRef<Path>,
    mut progress: impl FnMut(u64, u64),
) -> Result<RecoverReport> {
    let destination = destination.as_ref();
    if destination.exists() {
        let path = destination.to_path_buf();
        return Err(redwood_pager::Error::AlreadyExists { path }.into());
    }
    let damaged = Builder::default().salvage(true).open(source)?;
    let mut report = RecoverReport { destination: destination.to_path_buf(), ..Default::default() };
    let found = damaged.recovery_report();
    report.notes.extend(found.salvage_notes.iter().cloned());
    if let Some(reason) = &found.discarded_log {
        report.notes.push(format!(
            "the log is missing ({reason}): only the commits checkpointed into the data files \
             could be read"
        ));
    }
    for frame in &found.lost_frames {
        let page = frame.page_id.map(|page| format!(", which held {page}")).unwrap_or_default();
        report.notes.push(format!(
            "the log frame at byte {} ({}) is damaged{page}; later commits were still read",
            frame.offset, frame.lsn
        ));
    }
    let copy = Builder::default().durability(Durability::None).create(destination)?;
    let read = damaged.begin_read()?;
    let tables = salvage_catalog(&read.txn, &mut report)?;
    let expected = tables.iter().map(|(_, entry)| entry.len).fold(0, u64::saturating_add);
    let mut copied = 0u64;
    let mut progress = |copied: u64| progress(copied, expected);
    for (name, entry) in tables {
        let table = copy_table(&read.txn, &copy, &name, entry, &mut copied, &mut progress)?;
        report.tables.push(table);
    }
    drop(read);
    copy.close()?;
    Ok(report)
}

/// The tables the damaged catalog still names, with their entries; unreadable parts of the
/// catalog go to the report.
fn salvage_catalog(
    store: &redwood_pager::ReadTxn<'_, redwood_wal::Wal>,
    report: &mut RecoverReport,
) -> Result<Vec<(String, catalog::TableEntry)>> {
    use redwood_pager::PageRead;
    let Some(root) = store.root(CATALOG_SLOT) else { return Ok(Vec::new()) };
    let mut tables = Vec::new();
    let salvage = Tree::open(root).salvage(store, |name, value| {
        let lost = |reason: &str| LostPart {
            page_id: Some(root),
            from_key: Some(name.clone()),
            to_key: Some(name.clone()),
            reason: reason.to_owned(),
        };
        let bytes = value.into_inline();
        let decoded = bytes.as_deref().map(|bytes| catalog::TableEntry::decode(bytes, root));
        match (String::from_utf8(name.clone()), decoded) {
            (Ok(text), Some(Ok(entry))) => tables.push((text, entry)),
            (Err(_), _) => report.catalog_lost.push(lost("a table name that is not UTF-8")),
            (_, _) => report.catalog_lost.push(lost("a catalog entry that does not decode")),
        }
        Ok::<(), Error>(())
    })?;
    report.catalog_lost.extend(salvage.lost.into_iter().map(LostPart::from_range));
    Ok(tables)
}

/// Copies what can be read of one table into `copy`, `BATCH_ENTRIES` per transaction.
fn copy_table(
    store: &redwood_pager::ReadTxn<'_, redwood_wal::Wal>,
    copy: &Database,
    name: &str,
    entry: catalog::TableEntry,
    copied: &mut u64,
    progress: &mut impl FnMut(u64),
) -> Result<TableRecovery> {
    let mut table = TableRecovery {
        name: name.to_owned(),
        entries_recovered: 0,
        entries_recorded: entry.len,
        lost: Vec::new(),
    };
    let mut write: Option<WriteTransaction<'_>> = Some(copy.begin_write()?);
    // The copy keeps the table's kind: a multimap table's stored pairs are copied as they are.
    write.as_mut().expect("just begun").open(name, Open::OrCreate, entry.kind)?;
    let salvage = Tree::open(entry.root).salvage(store, |key, value| {
        let chain = match &value {
            redwood_btree::node::OwnedValue::Overflow { first_page, .. } => Some(*first_page),
            redwood_btree::node::OwnedValue::Inline(_) => None,
        };
        let bytes = match bytes_of(store, value) {
            Ok(bytes) => bytes,
            Err(error) => {
                let page_id = error.page_id().or(chain);
                let (from_key, to_key) = (Some(key.clone()), Some(key));
                let reason = format!("its value's overflow chain is damaged: {error}");
                table.lost.push(LostPart { page_id, from_key, to_key, reason });
                return Ok(());
            }
        };
        let txn = write.as_mut().expect("a transaction is open");
        Table::<&[u8], &[u8]>::new(txn, name).insert(&key, &bytes)?;
        table.entries_recovered += 1;
        *copied += 1;
        if table.entries_recovered.is_multiple_of(BATCH_ENTRIES) {
            write.take().expect("a transaction is open").commit()?;
            write = Some(copy.begin_write()?);
            progress(*copied);
        }
        Ok::<(), Error>(())
    })?;
    write.take().expect("a transaction is open").commit()?;
    progress(*copied);
    let mut lost: Vec<LostPart> = salvage.lost.into_iter().map(LostPart::from_range).collect();
    lost.append(&mut table.lost);
    lost.sort_by(|a, b| a.from_key.cmp(&b.from_key));
    table.lost = lost;
    Ok(table)
}
