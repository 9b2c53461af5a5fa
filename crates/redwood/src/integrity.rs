//! The full integrity check, as a report: a scrub that reads and verifies every allocated page,
//! then the structural checks (each table's B+Tree, the catalog, overflow chains, and the
//! pager's free-space map against the pages the trees own). Unlike
//! [`Database::check_integrity`], which stops at the first fault, the report names every
//! damaged page it finds.

use redwood_btree::Tree;
use redwood_overflow::ChainRef;
use redwood_pager::{PageClaims, PageId, PageRead};

use crate::catalog;
use crate::database::Database;
use crate::error::{Error, Result};

/// What [`Database::check_report`] found.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let report = db.check_report(|_, _| {})?;
/// assert!(report.is_clean() && report.problems.is_empty());
/// assert_eq!(report.tables_checked, 0);
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct IntegrityReport {
    /// Allocated pages the scrub read and verified.
    pub pages_checked: u64,
    /// Tables whose B+Tree was checked.
    pub tables_checked: u64,
    /// Everything found wrong, each damaged page once; empty for a sound database.
    pub problems: Vec<Problem>,
    /// A damaged tail still in the write-ahead log (found by a read-only open, which leaves it
    /// in place; a writable open has cut it off, see `Database::recovery_report`). Also one of
    /// the `problems`, with place `"log"`.
    pub damaged_log_tail: Option<crate::DamagedLogTail>,
}

impl IntegrityReport {
    /// Whether nothing was found wrong.
    ///
    /// ```
    /// let mut report = redwood::IntegrityReport::default();
    /// assert!(report.is_clean());
    /// report.problems.push(redwood::Problem {
    ///     page_id: None,
    ///     place: "pager".to_owned(),
    ///     message: "page 9 is leaked".to_owned(),
    /// });
    /// assert!(!report.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One fault the check found.
///
/// ```
/// let problem = redwood::Problem {
///     page_id: Some(redwood::PageId::new(12)),
///     place: "table \"users\"".to_owned(),
///     message: "checksum mismatch in page 12".to_owned(),
/// };
/// assert_eq!(problem.page_id.map(|page| page.get()), Some(12));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Problem {
    /// The page at fault, when the fault is about one page.
    pub page_id: Option<PageId>,
    /// Where it was found: `"page"` (the scrub), `"table NAME"`, `"catalog"`, `"pager"` or
    /// `"log"` (a damaged tail of the write-ahead log).
    pub place: String,
    /// What is wrong, as a sentence.
    pub message: String,
}

impl Database {
    /// Runs the full check and reports every fault instead of stopping at the first: every
    /// allocated page is read and verified (its checksum, its id), then every table's B+Tree,
    /// the catalog and the overflow chains are walked, and, if they are sound, the free-space
    /// map is checked against the pages they own (nothing leaked, nothing owned twice).
    /// `progress` hears `(pages done, pages in all)` during the scrub. Run it with no write
    /// transaction in progress; an `Err` means the check itself could not run (an I/O error).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let report = db.check_report(|_done, _total| {})?;
    /// assert!(report.is_clean());
    /// assert_eq!(report.tables_checked, 1);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn check_report(&self, mut progress: impl FnMut(u64, u64)) -> Result<IntegrityReport> {
        let mut report = IntegrityReport::default();
        if let Some(tail) = self.recovery.damaged_tail.filter(|_| self.is_read_only()) {
            report.damaged_log_tail = Some(tail);
            report.push(Problem {
                page_id: None,
                place: "log".to_owned(),
                message: crate::recovery::describe_tail(&tail),
            });
        }
        // The snapshot first: while it is registered, a commit that frees pages holds every
        // truncating checkpoint's shrink back, so no page listed next is cut before it is read.
        let read = self.pager.begin_read()?;
        let pages = self.pager.allocated_pages();
        for (done, &page_id) in pages.iter().enumerate() {
            if let Err(error) = read.read_page(page_id) {
                let error = Error::from(error);
                if !error.is_corruption() {
                    return Err(error);
                }
                report.add("page", &error);
            }
            report.pages_checked += 1;
            progress(done as u64 + 1, pages.len() as u64);
        }
        let mut claims = PageClaims::new();
        let structure_sound = self.walk_structure(&read, &mut claims, &mut |place, error| {
            if !error.is_corruption() {
                return Err(error);
            }
            report.add(place, &error);
            Ok(())
        })?;
        report.tables_checked = structure_sound.tables;
        drop(read);
        if structure_sound.sound {
            match self.pager.check_invariants(&claims) {
                Ok(()) => {}
                Err(redwood_pager::Error::InvariantViolation { violations }) => {
                    for violation in violations {
                        report.push(Problem {
                            page_id: violation.page_id,
                            place: "pager".to_owned(),
                            message: violation.message,
                        });
                    }
                }
                Err(error) => report.add("pager", &Error::from(error)),
            }
        }
        Ok(report)
    }

    /// Walks the catalog and every table's tree and overflow chains, claiming their pages and
    /// handing each fault (with where it was found) to `fault`, which may stop the walk by
    /// returning it. Returns how many tables were walked and whether no fault was seen.
    pub(crate) fn walk_structure(
        &self,
        read: &impl PageRead,
        claims: &mut PageClaims,
        fault: &mut dyn FnMut(&str, Error) -> Result<()>,
    ) -> Result<Walked> {
        let mut walked = Walked { tables: 0, sound: true };
        let mut report = |place: &str, error: Error, walked: &mut Walked| {
            walked.sound = false;
            fault(place, error)
        };
        if let Some(root) = read.root(catalog::CATALOG_SLOT)
            && let Err(error) = Tree::open(root).check_invariants(read, claims)
        {
            report("catalog", error.into(), &mut walked)?;
            return Ok(walked);
        }
        let tables = match catalog::list(read) {
            Ok(tables) => tables,
            Err(error) => {
                report("catalog", error, &mut walked)?;
                return Ok(walked);
            }
        };
        for (name, entry) in tables {
            let place = format!("table {name:?}");
            walked.tables += 1;
            let stats = match Tree::open(entry.root).check_invariants(read, claims) {
                Ok(stats) => stats,
                Err(error) => {
                    report(&place, error.into(), &mut walked)?;
                    continue;
                }
            };
            if stats.entries != entry.len {
                let what =
                    format!("is {}, but the tree holds {} entries", entry.len, stats.entries);
                report(&place, catalog::length_corrupt(read, &name, &what), &mut walked)?;
            }
            for (first_page, length) in stats.overflow_values {
                let chain = ChainRef { first_page, length };
                if let Err(error) = redwood_overflow::claim(read, chain, claims) {
                    report(&place, error.into(), &mut walked)?;
                }
            }
        }
        Ok(walked)
    }
}

/// What a structure walk covered.
pub(crate) struct Walked {
    /// Tables walked.
    pub tables: u64,
    /// Whether no fault was seen.
    pub sound: bool,
}

impl IntegrityReport {
    fn add(&mut self, place: &str, error: &Error) {
        self.push(Problem {
            page_id: error.page_id(),
            place: place.to_owned(),
            message: error.to_string(),
        });
    }

    /// Adds `problem` unless the same page's fault is already reported (the scrub and a tree
    /// walk find the same damaged page).
    fn push(&mut self, problem: Problem) {
        let known = problem.page_id.is_some()
            && self
                .problems
                .iter()
                .any(|seen| seen.page_id == problem.page_id && seen.message == problem.message);
        if !known {
            self.problems.push(problem);
        }
    }
}
