//! `ThrashDetector`: notices a page that is evicted and loaded again over and over within a
//! short window, the sign of a working set larger than the pool (R7). Time is counted in misses,
//! so detection is deterministic.

use std::collections::{BTreeMap, VecDeque};

use redwood_pager::PageId;

use crate::limits::THRASH_REPORTS_MAX;

/// A page the pool keeps evicting and reloading.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ThrashReport {
    /// The page.
    pub page_id: PageId,
    /// How many times it was reloaded soon after an eviction, when reported.
    pub reloads: u32,
}

/// Tracks recent evictions and counts quick reloads.
#[derive(Debug)]
pub(crate) struct ThrashDetector {
    window_misses: u64,
    reloads_min: u32,
    miss_clock: u64,
    /// Page -> (miss tick of its last eviction, quick reloads so far).
    evicted: BTreeMap<PageId, (u64, u32)>,
    /// Pages in eviction order, to forget those that left the window.
    order: VecDeque<(u64, PageId)>,
    reports: VecDeque<ThrashReport>,
}

impl ThrashDetector {
    pub fn new(window_misses: u64, reloads_min: u32) -> Self {
        assert!(window_misses > 0 && reloads_min > 0, "thresholds are positive");
        Self {
            window_misses,
            reloads_min,
            miss_clock: 0,
            evicted: BTreeMap::new(),
            order: VecDeque::new(),
            reports: VecDeque::new(),
        }
    }

    /// Records that `page_id` was evicted now.
    pub fn on_evict(&mut self, page_id: PageId) {
        let reloads = self.evicted.get(&page_id).map_or(0, |&(_, reloads)| reloads);
        self.evicted.insert(page_id, (self.miss_clock, reloads));
        self.order.push_back((self.miss_clock, page_id));
    }

    /// Records a miss on `page_id`; returns a report when it crosses the threshold.
    pub fn on_miss(&mut self, page_id: PageId) -> Option<ThrashReport> {
        self.miss_clock += 1;
        self.forget_old();
        let clock = self.miss_clock;
        let (evicted_at, reloads) = self.evicted.get_mut(&page_id)?;
        if clock - *evicted_at > self.window_misses {
            return None;
        }
        *reloads += 1;
        if *reloads != self.reloads_min {
            return None;
        }
        let report = ThrashReport { page_id, reloads: *reloads };
        if self.reports.len() == THRASH_REPORTS_MAX {
            self.reports.pop_front();
        }
        self.reports.push_back(report);
        Some(report)
    }

    /// The most recent reports, oldest first (at most `THRASH_REPORTS_MAX`).
    pub fn reports(&self) -> Vec<ThrashReport> {
        self.reports.iter().copied().collect()
    }

    /// Forgets evictions that left the window; a page's reload count goes with them.
    fn forget_old(&mut self) {
        while let Some(&(at, page_id)) = self.order.front() {
            if self.miss_clock - at <= self.window_misses {
                break;
            }
            self.order.pop_front();
            if self.evicted.get(&page_id).is_some_and(|&(last, _)| last == at) {
                self.evicted.remove(&page_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reloaded_soon_after_each_eviction_is_reported_once() {
        let mut detector = ThrashDetector::new(10, 3);
        let page = PageId::new(7);
        let mut reports = Vec::new();
        for _ in 0..5 {
            detector.on_evict(page);
            reports.extend(detector.on_miss(page));
        }
        assert_eq!(reports, vec![ThrashReport { page_id: page, reloads: 3 }]);
        assert_eq!(detector.reports(), reports);
    }

    #[test]
    fn reloads_outside_the_window_are_not_thrash() {
        let mut detector = ThrashDetector::new(4, 2);
        let page = PageId::new(7);
        for _ in 0..5 {
            detector.on_evict(page);
            for other in 0..5 {
                assert!(detector.on_miss(PageId::new(100 + other)).is_none());
            }
            assert!(detector.on_miss(page).is_none(), "reloaded after the window");
        }
        assert!(detector.reports().is_empty());
    }
}
