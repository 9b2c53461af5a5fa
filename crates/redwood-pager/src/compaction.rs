//! The compaction policy (issue 18): a pure function from how full each segment is to what a
//! compaction should move, in which order, and in steps of bounded size. It reads nothing and
//! writes nothing; the mover that relocates pages (and rewrites every reference to them) is
//! built on it and is not part of this module.
//!
//! The rule: a segment is *sparse* when its live pages are at most `sparse_fraction_max` of its
//! pages. Sparse segments are evacuated from the highest down, as long as the segments kept
//! below them have room for what moves (their free pages), because only an emptied segment at
//! the end of the file can be deleted, and moving live pages into a segment that is itself
//! going to be evacuated would move them twice. The last kept segment may also shed its tail:
//! its live pages above the point where the kept segments' free space can take them all.
//! Moves are cut into steps of at most `pages_per_step_max` pages, so the writer is held for one
//! step at a time.

use crate::ids::SegmentId;

/// How full one segment is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SegmentUsage {
    /// The segment.
    pub segment: SegmentId,
    /// Pages it can hold that are not the pager's own (meta and map pages excluded): the
    /// segment size for every segment but the last, which may be shorter.
    pub user_pages: u64,
    /// Of those, the pages allocated now.
    pub live_pages: u64,
}

impl SegmentUsage {
    /// Its pages that are free.
    pub fn free_pages(&self) -> u64 {
        self.user_pages - self.live_pages
    }
}

/// The knobs of the policy.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct CompactionPolicy {
    /// A segment whose live pages are at most this fraction of its pages is evacuated (0.25
    /// by default: a quarter full or less).
    pub sparse_fraction_max: f64,
    /// The most pages one step moves (4,096 by default: 16 MiB of 4 KiB pages).
    pub pages_per_step_max: u64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy { sparse_fraction_max: 0.25, pages_per_step_max: 4096 }
    }
}

/// One bounded step of a compaction: move `pages` live pages out of `segment`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CompactionStep {
    /// The segment the pages leave.
    pub segment: SegmentId,
    /// How many of its live pages this step moves.
    pub pages: u64,
}

/// What a compaction should do.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CompactionPlan {
    /// The segments to empty, highest first; each is deleted (or, for the base file,
    /// truncated) once empty.
    pub evacuate: Vec<SegmentId>,
    /// The steps, in order: every live page of the evacuated segments, highest segment first.
    pub steps: Vec<CompactionStep>,
    /// Live pages moved in all.
    pub pages_moved: u64,
    /// User pages the files shrink by (the evacuated segments' whole size).
    pub pages_freed: u64,
}

impl CompactionPlan {
    /// Whether there is nothing worth doing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.evacuate.is_empty()
    }
}

impl CompactionPolicy {
    /// Checks the knobs: a fraction in `0.0..1.0`, at least one page per step.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..1.0).contains(&self.sparse_fraction_max) {
            return Err(format!(
                "sparse_fraction_max {} is outside 0.0..1.0",
                self.sparse_fraction_max
            ));
        }
        if self.pages_per_step_max == 0 {
            return Err("pages_per_step_max must be at least 1".to_owned());
        }
        Ok(())
    }

    /// The plan for segments `usage` (in segment order, the base file first; each segment's
    /// `live_pages` at most its `user_pages`). The base file (segment 0) is never evacuated:
    /// the database's meta pages live there.
    pub fn plan(&self, usage: &[SegmentUsage]) -> CompactionPlan {
        debug_assert!(self.validate().is_ok(), "a validated policy");
        debug_assert!(usage.windows(2).all(|pair| pair[0].segment.get() < pair[1].segment.get()));
        debug_assert!(usage.iter().all(|segment| segment.live_pages <= segment.user_pages));
        let mut plan = CompactionPlan::default();
        // Walk down from the last segment: evacuate while the segment is sparse and what stays
        // below has room for everything evacuated so far.
        let mut kept = usage.len();
        let mut moving = 0u64;
        while kept > 1 {
            let candidate = usage[kept - 1];
            if !self.is_sparse(candidate) {
                break;
            }
            let room_below: u64 = usage[..kept - 1].iter().map(SegmentUsage::free_pages).sum();
            if room_below < moving + candidate.live_pages {
                break;
            }
            moving += candidate.live_pages;
            kept -= 1;
        }
        for segment in usage[kept..].iter().rev() {
            plan.evacuate.push(segment.segment);
            plan.pages_freed += segment.user_pages;
            let mut left = segment.live_pages;
            while left > 0 {
                let pages = left.min(self.pages_per_step_max);
                plan.steps.push(CompactionStep { segment: segment.segment, pages });
                left -= pages;
            }
        }
        plan.pages_moved = moving;
        debug_assert_eq!(plan.steps.iter().map(|step| step.pages).sum::<u64>(), plan.pages_moved);
        plan
    }

    fn is_sparse(&self, segment: SegmentUsage) -> bool {
        segment.user_pages > 0
            && (segment.live_pages as f64) <= self.sparse_fraction_max * segment.user_pages as f64
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn usage(segments: &[(u64, u64)]) -> Vec<SegmentUsage> {
        segments
            .iter()
            .enumerate()
            .map(|(index, &(user_pages, live_pages))| SegmentUsage {
                segment: SegmentId::new(index as u64),
                user_pages,
                live_pages,
            })
            .collect()
    }

    #[test]
    fn sparse_segments_at_the_end_are_evacuated_highest_first_in_bounded_steps() {
        let policy = CompactionPolicy { sparse_fraction_max: 0.25, pages_per_step_max: 100 };
        // Base half full, segment 1 full, segments 2 and 3 sparse.
        let plan = policy.plan(&usage(&[(1000, 500), (1000, 1000), (1000, 200), (1000, 50)]));
        assert_eq!(plan.evacuate, [SegmentId::new(3), SegmentId::new(2)]);
        assert_eq!(plan.pages_moved, 250);
        assert_eq!(plan.pages_freed, 2000);
        let steps: Vec<(u64, u64)> =
            plan.steps.iter().map(|s| (s.segment.get(), s.pages)).collect();
        assert_eq!(steps, [(3, 50), (2, 100), (2, 100)]);
    }

    #[test]
    fn a_dense_segment_stops_the_walk_and_the_base_file_stays() {
        let policy = CompactionPolicy::default();
        // Segment 2 is dense: segment 1 (sparse) below it cannot be deleted, so nothing moves.
        assert!(policy.plan(&usage(&[(1000, 10), (1000, 10), (1000, 900)])).is_empty());
        // Only the base file: never evacuated, however empty.
        assert!(policy.plan(&usage(&[(1000, 0)])).is_empty());
    }

    #[test]
    fn no_segment_is_evacuated_into_space_that_is_not_there() {
        let policy = CompactionPolicy { sparse_fraction_max: 0.5, pages_per_step_max: 4096 };
        // Segment 2 (400 live) fits in the base's 100 free + segment 1's 500 free; segment 1 too
        // would need 400 + 500 = 900 pages below it, and the base has 100.
        let plan = policy.plan(&usage(&[(1000, 900), (1000, 500), (1000, 400)]));
        assert_eq!(plan.evacuate, [SegmentId::new(2)]);
        assert_eq!(plan.pages_moved, 400);
    }

    proptest! {
        /// For any usage: the evacuated segments are a run at the end (never the base), each is
        /// sparse, the segments kept have room for every page moved, the steps move exactly the
        /// evacuated live pages, highest segment first, none larger than the bound.
        #[test]
        fn plans_keep_their_invariants(
            segments in prop::collection::vec((1u64..5000, 0u64..=100), 1..12),
            fraction in 0.0f64..0.99,
            step in 1u64..2000,
        ) {
            let segments: Vec<(u64, u64)> =
                segments.into_iter().map(|(pages, percent)| (pages, pages * percent / 100)).collect();
            let usage = usage(&segments);
            let policy = CompactionPolicy { sparse_fraction_max: fraction, pages_per_step_max: step };
            let plan = policy.plan(&usage);
            let first_evacuated = usage.len() - plan.evacuate.len();
            prop_assert!(first_evacuated >= 1, "the base file is kept");
            for (offset, segment) in plan.evacuate.iter().enumerate() {
                prop_assert_eq!(segment.get() as usize, usage.len() - 1 - offset);
                prop_assert!(policy.is_sparse(usage[segment.get() as usize]));
            }
            let room: u64 = usage[..first_evacuated].iter().map(SegmentUsage::free_pages).sum();
            prop_assert!(plan.pages_moved <= room);
            let live: u64 = usage[first_evacuated..].iter().map(|s| s.live_pages).sum();
            prop_assert_eq!(plan.pages_moved, live);
            prop_assert!(plan.steps.iter().all(|s| s.pages >= 1 && s.pages <= step));
            prop_assert!(plan.steps.windows(2).all(|w| w[0].segment.get() >= w[1].segment.get()));
        }
    }
}
