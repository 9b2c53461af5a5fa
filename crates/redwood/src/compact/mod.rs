//! `Database::compact` (issue 18): rewrites the tables into the lowest free pages, then lets a
//! truncating checkpoint cut the files back to the highest page still in use.
//!
//! The mover is a rewrite, not a relocation of pages in place (ADR-23): each table is copied in
//! key order into a new tree (and new overflow chains) in one write transaction, the old tree
//! and chains are freed in the same transaction, and the catalog then gets the same treatment.
//! The allocator hands out the lowest free page, so the copy fills the holes at the start of the
//! files, and the pages past it end up free. Files without holes whose leaves are sparse (every
//! other key removed) take two copies of those tables: the first past the end of the file
//! (`WriteTxn::set_allocation_floor`), the second back into the space the first freed. Crash safety is the write path's (each table is one
//! ordinary commit: before it the old tree, after it the new one), and the shrink is the
//! checkpoint's (`docs/RECOVERY.md`, "Giving file space back"). Readers keep their snapshots: a
//! reader older than the rewrite holds the checkpoint back, and the files shrink at the first
//! compaction or truncating checkpoint after it ends ([`CompactReport::held_back`]).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use redwood_btree::{Tree, TreeBuilder, Value as Stored};
use redwood_pager::{CheckpointMode, PageId, PageRead, PageWrite};

use crate::catalog::{self, CATALOG_SLOT, TableEntry};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::read::TableInfo;
use crate::write::TableState;
use copy::{Batch, Copied, Copier, CopyBy, Sink, Source};

mod copy;
mod policy;

/// Where a compaction is, for a progress display. Each rewrite (see [`CompactReport::passes`])
/// raises the totals as it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactProgress {
    /// The table being rewritten (`None` for the catalog and the final checkpoint).
    pub table: Option<String>,
    /// Tables rewritten so far, over every pass.
    pub tables_done: u64,
    /// Tables to rewrite in all: those each pass so far chose (a table a pass rewrites counts
    /// once per pass).
    pub tables: u64,
    /// Entries copied so far, over every table and pass.
    pub entries_done: u64,
    /// Entries to copy in all: the recorded lengths of the tables each pass so far chose.
    pub entries: u64,
}

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactReport {
    /// Tables the last rewrite copied (0 when there was nothing to gain).
    pub tables: u64,
    /// Entries the last rewrite copied.
    pub entries: u64,
    /// Rewrites that ran: 0 (nothing to gain), 1 (every table, into the holes of files whose
    /// pages lie spread out), or 2 (the tables with sparse leaves in files without holes:
    /// first past the end of the file, then into the space that freed).
    pub passes: u32,
    /// Bytes of the data files and the log before.
    pub bytes_before: u64,
    /// Bytes of the data files and the log after.
    pub bytes_after: u64,
    /// The final checkpoint could not restart the log, so the files did not shrink: a reader
    /// older than the rewrite held it back, or (with a log archive) the log could not be
    /// shipped. They shrink at the next compaction or truncating checkpoint that can.
    pub held_back: bool,
    /// The progress callback of [`Database::compact_stoppable`] asked to stop: the table being
    /// copied then was left as it was, the later ones too, and the files were not cut. What
    /// was copied stays; the next compaction goes on from the files as they are.
    pub interrupted: bool,
}

impl Database {
    /// Rewrites the tables into the lowest free pages and gives the file space past them
    /// back: the base file is cut and emptied segment files are removed. Every table is
    /// rewritten when the pages in use lie spread through the files; otherwise only the tables
    /// whose leaves a sample finds sparse, twice: past the end of the file, then back into the
    /// space that freed ([`CompactReport::passes`]). Each table is one
    /// transaction (the writer is held for one table at a time), readers keep their
    /// snapshots, and a crash at any point leaves each table either as it was or rewritten,
    /// with no commit lost. `progress` hears each batch of copied entries;
    /// [`Database::compact_stoppable`] lets it stop the compaction.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for n in 0u32..2000 {
    ///     table.insert(n.to_be_bytes(), [7u8; 100])?;
    /// }
    /// drop(table);
    /// write.commit()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.retain(|key, _| key.iter().map(|&b| u32::from(b)).sum::<u32>() % 2 == 0)?;
    /// write.commit()?;
    /// let report = db.compact(|_| {})?;
    /// assert!(report.bytes_after < report.bytes_before);
    /// let read = db.begin_read()?;
    /// assert_eq!(read.open_table("t")?.get(0u32.to_be_bytes())?.as_deref(), Some(&[7u8; 100][..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn compact(&self, mut progress: impl FnMut(&CompactProgress)) -> Result<CompactReport> {
        self.compact_stoppable(|at| {
            progress(at);
            ControlFlow::Continue(())
        })
    }

    /// [`Database::compact`], stopped as soon as `progress` returns `ControlFlow::Break` (it
    /// is asked after every batch of copied entries: 64 leaves, or a thousand entries for a
    /// table with long keys): the
    /// table being copied is left as it was ([`CompactReport::interrupted`]). Tables copied
    /// before stay copied, and a later compaction resumes from the files as they are.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for n in 0u32..5000 {
    ///     table.insert(n.to_be_bytes(), [7u8; 100])?;
    /// }
    /// drop(table);
    /// write.commit()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.retain(|key, _| key[3] % 2 == 0)?;
    /// write.commit()?;
    /// let report = db.compact_stoppable(|_| ControlFlow::Break(()))?;
    /// assert!(report.interrupted);
    /// assert_eq!(db.begin_read()?.open_table("t")?.len(), 2500);
    /// assert!(!db.compact(|_| {})?.interrupted);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn compact_stoppable(
        &self,
        mut progress: impl FnMut(&CompactProgress) -> ControlFlow<()>,
    ) -> Result<CompactReport> {
        let bytes_before = self.files_bytes();
        let tables = self.begin_read()?.tables()?;
        let mut at =
            CompactProgress { table: None, tables_done: 0, tables: 0, entries_done: 0, entries: 0 };
        let mut report = CompactReport {
            tables: 0,
            entries: 0,
            passes: 0,
            bytes_before,
            bytes_after: 0,
            held_back: false,
            interrupted: false,
        };
        if self.has_holes() {
            // The pages in use lie spread through the files: one copy of every table into the
            // lowest free pages packs them.
            let all: Vec<&TableInfo> = tables.iter().collect();
            report.interrupted =
                self.rewrite_pass(&all, None, &mut at, &mut progress, &mut report)?.is_none();
        } else {
            // No holes: only tables whose leaves are sparse gain, and they take two copies.
            // The first goes past the end of the file, whole (copied into the few holes there
            // are, it would be stranded among the second copy's pages as new holes); the
            // second, of the same tables, fills the space the first freed from the start, and
            // the first copy's pages end up past it, free.
            let sparse = self.sparse_tables(&tables)?;
            let chosen: Vec<&TableInfo> =
                tables.iter().zip(&sparse).filter(|&(_, &sparse)| sparse).map(|(t, _)| t).collect();
            if !chosen.is_empty() {
                let floor = PageId::new(self.pager.shrunk_page_count());
                let floored = Some(floor);
                report.interrupted = match self.rewrite_pass(
                    &chosen,
                    floored,
                    &mut at,
                    &mut progress,
                    &mut report,
                )? {
                    Some(moved) => {
                        // A checkpoint that restarts the log (when no reader is older) leaves
                        // the pages the first copy freed untouched in the new generation, so
                        // the second copy writes them home once instead of into the log and
                        // again at the checkpoint (ADR-14, amended).
                        self.checkpoint(CheckpointMode::Full)?;
                        self.rewrite_pass(&moved, None, &mut at, &mut progress, &mut report)?
                            .is_none()
                    }
                    None => true,
                };
            }
        }
        if report.interrupted || progress(&at).is_break() {
            report.interrupted = true;
            report.bytes_after = self.files_bytes();
            return Ok(report);
        }
        let outcome = self.checkpoint(CheckpointMode::Truncate)?;
        report.bytes_after = self.files_bytes();
        report.held_back = !outcome.log_restarted;
        Ok(report)
    }

    /// One copy of each of `chosen` (allocating at or past `floor` if one is given), then of
    /// the catalog; the tables it copied (not those deleted meanwhile), or `None` if
    /// `progress` stopped it. Records the pass and its counts in `report`.
    fn rewrite_pass<'t>(
        &self,
        chosen: &[&'t TableInfo],
        floor: Option<PageId>,
        at: &mut CompactProgress,
        progress: &mut impl FnMut(&CompactProgress) -> ControlFlow<()>,
        report: &mut CompactReport,
    ) -> Result<Option<Vec<&'t TableInfo>>> {
        if chosen.is_empty() {
            return Ok(Some(Vec::new()));
        }
        report.passes += 1;
        at.tables += chosen.len() as u64;
        at.entries += chosen.iter().map(|table| table.entries).sum::<u64>();
        let (tables_before, entries_before) = (at.tables_done, at.entries_done);
        let mut moved = Vec::with_capacity(chosen.len());
        let mut stopped = false;
        for &table in chosen {
            at.table = Some(table.name.clone());
            match self.rewrite_table(&table.name, floor, at, progress)? {
                TableCopy::Copied => {
                    at.tables_done += 1;
                    moved.push(table);
                }
                TableCopy::Gone => {}
                TableCopy::Stopped => {
                    stopped = true;
                    break;
                }
            }
        }
        at.table = None;
        // The catalog too, so that what was copied lies packed with it.
        self.rewrite_catalog()?;
        report.tables = at.tables_done - tables_before;
        report.entries = at.entries_done - entries_before;
        debug_assert!(moved.len() <= chosen.len() && report.passes <= 2);
        Ok((!stopped).then_some(moved))
    }

    /// For each of `tables`, whether a sample finds its leaves sparse ([`policy::sparse`]; a
    /// table gone since the list was taken, or of one leaf, is not).
    fn sparse_tables(&self, tables: &[TableInfo]) -> Result<Vec<bool>> {
        let read = self.begin_read()?;
        let mut sparse = Vec::with_capacity(tables.len());
        for table in tables {
            let fill = match catalog::lookup(&read.txn, &table.name)? {
                Some(entry) => copy::sampled_leaf_fill(&read.txn, entry.root)?,
                None => None,
            };
            sparse.push(policy::sparse(fill));
        }
        debug_assert_eq!(sparse.len(), tables.len());
        Ok(sparse)
    }

    /// Whether the pages in use lie spread far enough past what they need that rewriting the
    /// tables would shrink the files ([`policy::spread_out`]).
    fn has_holes(&self) -> bool {
        let stats = self.stats();
        let in_use = stats.page_count.saturating_sub(stats.free_pages);
        policy::spread_out(in_use, self.pager.shrunk_page_count())
    }

    /// Bytes of the data files and the log now.
    fn files_bytes(&self) -> u64 {
        let stats = self.stats();
        // A file whose length cannot be read counts as empty: the figure is for the report.
        stats.file_bytes.unwrap_or_default() + stats.log_bytes
    }

    /// Copies table `name` into a new tree in key order and frees the old one, in one commit,
    /// allocating at or past `floor` if one is given ([`TableCopy`] says how it ended).
    /// The copy is built bottom up ([`TreeBuilder`]); a table with long keys, which the
    /// builder does not take, is copied again through the insert path.
    fn rewrite_table(
        &self,
        name: &str,
        floor: Option<PageId>,
        at: &mut CompactProgress,
        progress: &mut impl FnMut(&CompactProgress) -> ControlFlow<()>,
    ) -> Result<TableCopy> {
        let entries_done = at.entries_done;
        match self.copy_table(name, floor, CopyBy::Builder, at, progress) {
            Err(Error::Tree(redwood_btree::Error::KeyTooLarge { .. })) => {
                // The attempt's transaction was rolled back: nothing of it stays.
                at.entries_done = entries_done;
                self.copy_table(name, floor, CopyBy::Inserts, at, progress)
            }
            outcome => outcome,
        }
    }

    /// One attempt of [`Database::rewrite_table`], copying the way `how` says.
    fn copy_table(
        &self,
        name: &str,
        floor: Option<PageId>,
        how: CopyBy,
        at: &mut CompactProgress,
        progress: &mut impl FnMut(&CompactProgress) -> ControlFlow<()>,
    ) -> Result<TableCopy> {
        let write = self.begin_write()?;
        let pages_max = self.pager.stats().page_count;
        {
            let mut state = write.state.borrow_mut();
            state.txn.set_allocation_floor(floor);
            let state = &mut *state;
            // A table deleted since the list was taken is not counted as rewritten.
            let Some(entry) = state.live_entry(name)? else { return Ok(TableCopy::Gone) };
            let mut sink = match how {
                CopyBy::Builder => Sink::Built(TreeBuilder::new(&mut state.txn)?),
                CopyBy::Inserts => {
                    let tree = Tree::create(&mut state.txn)?;
                    Sink::Inserted(state.db.tree_observers.tree(name, tree.root()))
                }
            };
            let mut source = match how {
                CopyBy::Builder => {
                    Source::leaves(copy::tree_pages(&state.txn, entry.root, pages_max)?)
                }
                CopyBy::Inserts => Source::range(Tree::open(entry.root)),
            };
            let mut copied = 0u64;
            // Every chain the old tree's values name: freed with it, without a second scan.
            let mut chains = BTreeMap::new();
            while let Some(batch) = source.next_batch(&state.txn)? {
                for item in batch.iter() {
                    let copier = Copier {
                        sink: &mut sink,
                        chains: &mut chains,
                        table: name,
                        root: entry.root,
                    };
                    copier.copy(&mut state.txn, item)?;
                }
                copied += batch.len() as u64;
                at.entries_done += batch.len() as u64;
                if progress(at).is_break() {
                    // The write transaction is dropped, so rolled back: the table stays as
                    // it was, and so do its entries' count in the progress.
                    at.entries_done -= copied;
                    return Ok(TableCopy::Stopped);
                }
            }
            if copied != entry.len {
                return Err(catalog::length_corrupt(&state.txn, name, "differs from its entries"));
            }
            let root = sink.finish(&mut state.txn)?;
            source.free_old(&mut state.txn)?;
            for chain in chains.into_values() {
                redwood_overflow::free(&mut state.txn, chain)?;
            }
            let entry = TableEntry { root, ..entry };
            state.tables.insert(name.to_owned(), TableState { entry: Some(entry), changed: true });
        }
        write.commit()?;
        Ok(TableCopy::Copied)
    }

    fn rewrite_catalog(&self) -> Result<()> {
        let write = self.begin_write()?;
        {
            let mut state = write.state.borrow_mut();
            let txn = &mut state.txn;
            let Some(root) = txn.root(CATALOG_SLOT) else { return Ok(()) };
            let old = Tree::open(root);
            // The catalog is one entry per table: read whole.
            let entries = Batch::read(&*txn, &old, None, usize::MAX)?;
            let mut new = Tree::create(txn)?;
            for item in entries.iter() {
                let Copied::Entry(key, Stored::Inline(bytes)) = item else {
                    let reason = "a catalog entry is not inline".to_owned();
                    return Err(redwood_btree::Error::Corrupt { page_id: root, reason }.into());
                };
                new.insert(txn, key, bytes)?;
            }
            // The slot moves first: the pager refuses to free a page a root slot names.
            txn.set_root(CATALOG_SLOT, Some(new.root()))?;
            old.destroy(txn)?;
        }
        write.commit()
    }
}

/// How one table's copy ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TableCopy {
    /// Copied and committed.
    Copied,
    /// Deleted since the list of tables was taken: nothing to copy.
    Gone,
    /// The progress callback stopped it: rolled back.
    Stopped,
}
