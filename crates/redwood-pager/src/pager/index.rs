//! The in-memory index of page versions in the log, and the history of root slots: what lets a
//! reader find, for each page, the newest version at or before its snapshot.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::limits::{ROOT_SLOTS, TOUCHED_PAGES_MAX};
use crate::{LogPosition, Lsn, PageId};

/// The root slots as of one commit.
pub(crate) type Roots = [Option<PageId>; ROOT_SLOTS];

/// Where one page version is, and which snapshots see it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Version {
    /// Its log frame; `None` for the data files' version.
    pub position: Option<LogPosition>,
    /// The commit that wrote it ([`Lsn::ZERO`] for the data files' version).
    pub from: Lsn,
    /// The commit that superseded it ([`Lsn::MAX`]: none, it is the newest).
    pub until: Lsn,
}

/// For each page with versions in the log since the last checkpoint: (commit LSN, position),
/// ascending by commit LSN.
///
/// A hash map, not an ordered one: every page read of a page the log holds asks it, in random
/// page order, and a profile of random reads put a `BTreeMap` here at a fifth of the time.
/// Only [`VersionIndex::plan`] wants page order, and sorts.
#[derive(Default, Debug)]
pub(crate) struct VersionIndex {
    versions: FxHashMap<PageId, Vec<(Lsn, LogPosition)>>,
    /// Versions held, kept with every change (the checkpoint policy asks after every commit).
    count: usize,
}

impl VersionIndex {
    /// Records that the commit at `commit_lsn` wrote `page_id` at `position`. A second image of
    /// the same page in the same commit (a spilled page written again) replaces the first.
    pub fn insert(&mut self, page_id: PageId, commit_lsn: Lsn, position: LogPosition) {
        let versions = self.versions.entry(page_id).or_default();
        match versions.last_mut() {
            Some((last, earlier)) if *last == commit_lsn => *earlier = position,
            last => {
                assert!(last.is_none_or(|(last, _)| *last < commit_lsn), "commits ascend");
                versions.push((commit_lsn, position));
                self.count += 1;
            }
        }
    }

    /// The newest version of `page_id` committed at or before `snapshot`, if the log has one.
    pub fn lookup(&self, page_id: PageId, snapshot: Lsn) -> Option<LogPosition> {
        let versions = self.versions.get(&page_id)?;
        let visible = versions.partition_point(|(commit_lsn, _)| *commit_lsn <= snapshot);
        visible.checked_sub(1).map(|index| versions[index].1)
    }

    /// The version of `page_id` a snapshot at `snapshot` sees, with the snapshots that see it.
    pub fn version_at(&self, page_id: PageId, snapshot: Lsn) -> Version {
        let Some(versions) = self.versions.get(&page_id) else {
            return Version { position: None, from: Lsn::ZERO, until: Lsn::MAX };
        };
        let visible = versions.partition_point(|(commit_lsn, _)| *commit_lsn <= snapshot);
        let until = versions.get(visible).map_or(Lsn::MAX, |(commit_lsn, _)| *commit_lsn);
        match visible.checked_sub(1).map(|index| versions[index]) {
            Some((from, position)) => Version { position: Some(position), from, until },
            None => Version { position: None, from: Lsn::ZERO, until },
        }
    }

    /// For a checkpoint to `target`: each page's newest version at or before it, in page
    /// order (so the data files are written front to back).
    pub fn plan(&self, target: Lsn) -> Vec<(PageId, LogPosition)> {
        let mut plan: Vec<(PageId, LogPosition)> = self
            .versions
            .keys()
            .filter_map(|&page_id| Some((page_id, self.lookup(page_id, target)?)))
            .collect();
        plan.sort_unstable_by_key(|&(page_id, _)| page_id);
        plan
    }

    /// Forgets every version at or before `target`, now that the data files hold the newest of
    /// them and no reader's snapshot is older.
    pub fn prune(&mut self, target: Lsn) {
        self.versions.retain(|_, versions| {
            versions.retain(|(commit_lsn, _)| *commit_lsn > target);
            !versions.is_empty()
        });
        self.count = self.versions.values().map(Vec::len).sum();
    }

    /// Forgets every version of `page_id`: a write transaction wrote the page to its home
    /// location, and no snapshot that could read an older version is left.
    pub fn forget(&mut self, page_id: PageId) {
        if let Some(versions) = self.versions.remove(&page_id) {
            self.count -= versions.len();
        }
    }

    /// How many page versions the index holds.
    pub fn version_count(&self) -> usize {
        debug_assert_eq!(self.count, self.versions.values().map(Vec::len).sum::<usize>());
        self.count
    }

    /// The oldest and newest commit LSN indexed, if any.
    pub fn lsn_range(&self) -> Option<(Lsn, Lsn)> {
        let all = self.versions.values().flatten().map(|(lsn, _)| *lsn);
        let (min, max) = all.fold((None, None), |(min, max): (Option<Lsn>, Option<Lsn>), lsn| {
            (Some(min.map_or(lsn, |m| m.min(lsn))), Some(max.map_or(lsn, |m| m.max(lsn))))
        });
        Some((min?, max?))
    }
}

/// The pages the current log generation's commits allocated, freed or logged (see
/// `State::touched_in_generation`), up to [`TOUCHED_PAGES_MAX`]; past that it forgets them and
/// answers that every page was touched, until the log restarts ([`TouchedPages::clear`]).
#[derive(Debug, Default)]
pub(crate) struct TouchedPages {
    pages: FxHashSet<PageId>,
    /// Too many to remember: every page counts as touched.
    all: bool,
}

impl TouchedPages {
    /// Records `pages` as touched.
    pub fn extend(&mut self, pages: impl IntoIterator<Item = PageId>) {
        for page_id in pages {
            if self.all {
                return;
            }
            self.pages.insert(page_id);
            if self.pages.len() > TOUCHED_PAGES_MAX {
                self.pages = FxHashSet::default();
                self.all = true;
            }
        }
    }

    /// Whether a commit of this generation may have touched `page_id`.
    pub fn contains(&self, page_id: PageId) -> bool {
        self.all || self.pages.contains(&page_id)
    }

    /// The log restarted: no page is touched, and the memory goes back.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The root slots after each commit since the last checkpoint, plus the one in force at it.
#[derive(Debug)]
pub(crate) struct RootHistory {
    /// Ascending by LSN; never empty.
    entries: Vec<(Lsn, Roots)>,
}

impl RootHistory {
    /// A history whose roots at `lsn` are `roots`.
    pub fn new(lsn: Lsn, roots: Roots) -> Self {
        Self { entries: vec![(lsn, roots)] }
    }

    /// The roots in force at `snapshot`.
    #[cfg(test)]
    pub fn at(&self, snapshot: Lsn) -> Roots {
        let visible = self.entries.partition_point(|(lsn, _)| *lsn <= snapshot);
        self.entries[visible.saturating_sub(1)].1
    }

    /// The newest roots.
    pub fn latest(&self) -> Roots {
        self.entries.last().expect("never empty").1
    }

    /// Records the roots after the commit at `lsn`.
    pub fn push(&mut self, lsn: Lsn, roots: Roots) {
        assert!(self.entries.last().is_none_or(|(last, _)| *last < lsn), "commits ascend");
        self.entries.push((lsn, roots));
    }

    /// Keeps the entry in force at `target` and every later one.
    pub fn prune(&mut self, target: Lsn) {
        let in_force = self.entries.partition_point(|(lsn, _)| *lsn <= target).saturating_sub(1);
        self.entries.drain(..in_force);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(lsn: u64) -> LogPosition {
        LogPosition { offset: lsn * 100, lsn: Lsn::new(lsn) }
    }

    #[test]
    fn lookup_finds_the_newest_version_at_or_before_the_snapshot() {
        let mut index = VersionIndex::default();
        let page = PageId::new(9);
        index.insert(page, Lsn::new(5), position(4));
        index.insert(page, Lsn::new(8), position(7));
        assert_eq!(index.lookup(page, Lsn::new(4)), None);
        let data_file = Version { position: None, from: Lsn::ZERO, until: Lsn::new(5) };
        assert_eq!(index.version_at(page, Lsn::new(4)), data_file);
        let first = Version { position: Some(position(4)), from: Lsn::new(5), until: Lsn::new(8) };
        assert_eq!(index.version_at(page, Lsn::new(7)), first);
        let newest = Version { position: Some(position(7)), from: Lsn::new(8), until: Lsn::MAX };
        assert_eq!(index.version_at(page, Lsn::new(99)), newest);
        let untouched = Version { position: None, from: Lsn::ZERO, until: Lsn::MAX };
        assert_eq!(index.version_at(PageId::new(3), Lsn::new(99)), untouched);
        assert_eq!(index.lookup(page, Lsn::new(5)), Some(position(4)));
        assert_eq!(index.lookup(page, Lsn::new(7)), Some(position(4)));
        assert_eq!(index.lookup(page, Lsn::new(99)), Some(position(7)));
        assert_eq!(index.plan(Lsn::new(6)), vec![(page, position(4))]);
        index.prune(Lsn::new(6));
        assert_eq!(index.lookup(page, Lsn::new(6)), None, "now read from the data file");
        assert_eq!(index.lookup(page, Lsn::new(8)), Some(position(7)));
        assert_eq!(index.version_count(), 1);
    }

    #[test]
    fn touched_pages_are_bounded_and_then_count_every_page() {
        let mut touched = TouchedPages::default();
        touched.extend([PageId::new(3), PageId::new(9)]);
        assert!(touched.contains(PageId::new(3)) && !touched.contains(PageId::new(4)));
        touched.extend((10..10 + TOUCHED_PAGES_MAX as u64).map(PageId::new));
        assert!(touched.all && touched.pages.is_empty(), "past the bound it forgets");
        assert!(touched.contains(PageId::new(4)), "and every page counts as touched");
        touched.clear();
        assert!(!touched.contains(PageId::new(3)) && !touched.contains(PageId::new(4)));
    }

    #[test]
    fn root_history_answers_for_every_snapshot() {
        let mut roots = [None; ROOT_SLOTS];
        let mut history = RootHistory::new(Lsn::new(2), roots);
        roots[0] = Some(PageId::new(4));
        history.push(Lsn::new(5), roots);
        assert_eq!(history.at(Lsn::new(4))[0], None);
        assert_eq!(history.at(Lsn::new(5))[0], Some(PageId::new(4)));
        history.prune(Lsn::new(6));
        assert_eq!(history.at(Lsn::new(6))[0], Some(PageId::new(4)));
        assert_eq!(history.latest()[0], Some(PageId::new(4)));
    }
}
