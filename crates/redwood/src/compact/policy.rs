//! What a compaction copies, decided from figures alone (no I/O, so it is tested on its own):
//! whether the pages in use lie spread through the files (then every table is copied once, into
//! the lowest free pages), and otherwise which tables' leaves are sparse enough to be worth two
//! copies (first past the end of the file, then back into the space that freed), and which
//! leaves a copy takes whole.

/// How far past the pages in use (as a fraction of them) the highest page may lie before a
/// compaction rewrites the tables. A rewrite into scattered holes itself ends past the pages
/// in use (the 90%-deleted test: 497 pages for 359 in use, 0.38 past), so a smaller slack would
/// rewrite packed tables again, into the holes the last rewrite left, for nothing.
const REWRITE_SLACK_FRACTION: f64 = 0.6;

/// A table whose sampled leaves use less than this fraction of their pages is rewritten even
/// when the file has no holes: removals that empty no page (every other key) leave every leaf
/// half full, and a copy in key order packs them (its leaves end nearly full, at worst one
/// inline cell short of it, about a quarter of a page).
const REWRITE_LEAF_FILL_MIN: f64 = 0.6;

/// Whether pages in use (`in_use` of them) whose highest lies just below `end` are spread far
/// enough through the files that a copy into the lowest free pages would shrink them: `end` is
/// more than `1 + REWRITE_SLACK_FRACTION` times `in_use`. A copy whose shrink a reader held
/// back leaves the pages packed, so the next compaction only checkpoints.
pub(super) fn spread_out(in_use: u64, end: u64) -> bool {
    end as f64 > in_use as f64 * (1.0 + REWRITE_SLACK_FRACTION)
}

/// Whether a table whose sampled leaves are `fill` full (`None`: one leaf, nothing to pack) is
/// worth copying in files without holes: under [`REWRITE_LEAF_FILL_MIN`].
pub(super) fn sparse(fill: Option<f64>) -> bool {
    fill.is_some_and(|fill| fill < REWRITE_LEAF_FILL_MIN)
}

/// A leaf at least this full is copied whole, its page as it is, when the copy's open leaf is
/// this full too (or empty), rather than entry by entry: a copy's own leaves are at worst one
/// inline cell (about a quarter page) short of full, so the second copy of a table takes every
/// leaf whole, and packing leaves this full would gain little.
const WHOLE_LEAF_FILL_MIN: f64 = 0.75;

/// Whether a leaf `fill` full is copied whole (see [`WHOLE_LEAF_FILL_MIN`]); `fill` of the
/// copy's open leaf is asked the same (an empty one, `0.0`, is the caller's case).
pub(super) fn whole_leaf(fill: f64) -> bool {
    fill >= WHOLE_LEAF_FILL_MIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_spread_past_the_slack_are_worth_a_copy_into_the_holes() {
        // 100 pages in use: up to 160 is packed enough.
        assert!(!spread_out(100, 100));
        assert!(!spread_out(100, 160));
        assert!(spread_out(100, 161));
        // The 90%-deleted test's files: 359 pages in use below 3,960.
        assert!(spread_out(359, 3_960));
        // What a copy into scattered holes leaves (497 for 359): not copied again.
        assert!(!spread_out(359, 497));
        // No pages in use past the reserved ones: any end past them is spread out.
        assert!(spread_out(0, 1));
        assert!(!spread_out(0, 0));
    }

    #[test]
    fn only_leaves_under_the_fill_floor_are_worth_two_copies() {
        assert!(sparse(Some(0.35)), "half a random load's 70%");
        assert!(sparse(Some(0.59)));
        assert!(!sparse(Some(0.6)));
        assert!(!sparse(Some(0.98)), "a copy's own leaves");
        assert!(!sparse(None), "a tree of one leaf has nothing to pack");
    }

    #[test]
    fn only_leaves_near_full_are_copied_whole() {
        assert!(whole_leaf(0.98), "a copy's own leaves");
        assert!(whole_leaf(0.75), "one quarter-page cell short");
        assert!(!whole_leaf(0.74));
        assert!(!whole_leaf(0.5), "half a leaf is packed entry by entry");
    }
}
