//! Savepoints inside a write transaction: mark the transaction's state, go on changing tables,
//! and roll back to the mark without giving up the rest of the transaction. The pager restores
//! the pages, allocations and restore points; the transaction restores what it keeps beside
//! them (each open table's root and length, the changed-page counts, the restore points it will
//! report).

use std::collections::BTreeMap;

use crate::error::Result;
use crate::write::{TableState, WriteTransaction};

/// A mark in a write transaction (see [`WriteTransaction::savepoint`]).
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
/// let empty: redwood::Savepoint = write.savepoint();
/// write.open_table("t")?.insert(b"k", b"v")?;
/// write.rollback_to(&empty)?;
/// assert!(write.list_tables()?.is_empty());
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Debug)]
pub struct Savepoint {
    pager: redwood_pager::Savepoint,
    tables: BTreeMap<String, TableState>,
    changed_pages: BTreeMap<String, u64>,
    restore_points: usize,
}

impl WriteTransaction<'_> {
    /// Marks the transaction's current state. Savepoints nest: rolling back to one discards
    /// those taken after it. A savepoint copies the transaction's changed pages, so it costs
    /// memory in proportion to them.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"kept", b"1")?;
    /// let mark = write.savepoint();
    /// write.open_table("t")?.insert(b"undone", b"2")?;
    /// write.delete_table("t")?;
    /// write.rollback_to(&mark)?;
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let table = read.open_table("t")?;
    /// assert_eq!(table.get(b"kept")?.as_deref(), Some(&b"1"[..]));
    /// assert_eq!(table.get(b"undone")?.as_deref(), None);
    /// assert_eq!(table.len(), 1);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn savepoint(&mut self) -> Savepoint {
        let state = self.state.get_mut();
        Savepoint {
            pager: state.txn.savepoint(),
            tables: state.tables.clone(),
            changed_pages: state.changed_pages.clone(),
            restore_points: state.restore_points.len(),
        }
    }

    /// Undoes every change since `savepoint`: table contents, tables created, deleted or
    /// renamed, and restore points. The savepoint stays valid, so it can be rolled back to
    /// again; savepoints taken after it are discarded (rolling back to one is an error).
    pub fn rollback_to(&mut self, savepoint: &Savepoint) -> Result<()> {
        let state = self.state.get_mut();
        state.txn.rollback_to(savepoint.pager)?;
        state.tables.clone_from(&savepoint.tables);
        state.changed_pages.clone_from(&savepoint.changed_pages);
        state.restore_points.truncate(savepoint.restore_points);
        Ok(())
    }
}
