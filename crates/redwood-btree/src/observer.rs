//! Structural events: what a tree reports when its shape changes (splits, merges,
//! redistributions, root growth and shrinkage), for the visualizer and for tests. Observers see events after the pages are
//! written in the caller's transaction, which may still abort.

use redwood_pager::PageId;

use crate::node::NodeKind;

/// One change to a tree's shape.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TreeEvent {
    /// A full node split: `page_id` kept the lower half and `new_page_id` took the upper half.
    Split {
        /// Leaf or interior.
        kind: NodeKind,
        /// The node that split.
        page_id: PageId,
        /// Its new right sibling.
        new_page_id: PageId,
    },
    /// Two sibling nodes merged into `page_id`, and `freed_page_id` (the right one) was freed.
    Merge {
        /// Leaf or interior.
        kind: NodeKind,
        /// The node that holds the merged entries.
        page_id: PageId,
        /// The right sibling, now freed.
        freed_page_id: PageId,
    },
    /// Two sibling nodes, too full to merge, shared their cells evenly; the separator between
    /// them in the parent changed. The tree's shape (pages, levels) is unchanged.
    Redistribute {
        /// Leaf or interior.
        kind: NodeKind,
        /// The left node.
        left_page_id: PageId,
        /// Its right sibling.
        right_page_id: PageId,
    },
    /// The root split, and a new interior root was grown above the two halves.
    RootGrow {
        /// The root before the split.
        old_root: PageId,
        /// The new root.
        new_root: PageId,
    },
    /// An interior root was left with one child: it was freed and the child became the root.
    RootShrink {
        /// The freed root.
        old_root: PageId,
        /// Its only child, now the root.
        new_root: PageId,
    },
}

/// Receives a tree's structural events. Called on the writer's thread, inside the operation that
/// caused the event, so it should be quick (record or forward, not block).
pub trait TreeObserver: Send + Sync {
    /// Called once per event, in the order the changes were made.
    fn on_event(&self, event: TreeEvent);
}
