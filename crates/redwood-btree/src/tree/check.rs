//! The integrity walk of one tree (`Tree::check_invariants`): key order within and across
//! nodes, separators bounding their subtrees, equal leaf depth, the right-sibling chain, page
//! claims and the fill bound, each page read once, as a view of the store's page (no copy).

use std::collections::HashSet;

use redwood_pager::{PageClaims, PageGuard, PageId, PageRead};

use super::{Tree, reached_twice, read_node, too_deep};
use crate::error::{Error, Result};
use crate::limits::TREE_HEIGHT_MAX;
use crate::node::{Node, NodeKind, Value};

/// What `check_invariants` found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TreeStats {
    /// Every overflow value's chain (first page, length), for the caller to check and claim.
    pub overflow_values: Vec<(PageId, u64)>,
    /// Levels, leaves included.
    pub height: usize,
    /// Leaf pages.
    pub leaves: u64,
    /// Interior pages.
    pub interiors: u64,
    /// Entries.
    pub entries: u64,
    /// Nodes other than the root using less than a quarter of their page: zero unless cells
    /// near the size limits defeat the fill bound (see the `rebalance` module).
    pub underfull_nodes: u64,
}

impl Tree {
    /// Checks the whole tree and claims its pages: key order within and across nodes,
    /// separators bounding their subtrees, every leaf at the same depth, no empty leaf below the
    /// root, the right-sibling chain visiting the leaves in key order. `Corrupt` names the first
    /// page at fault. Bounded: at most `TREE_HEIGHT_MAX` levels, and a page reached twice (a
    /// cycle, or a child of two parents) is `Corrupt`, so each page is read once.
    pub fn check_invariants(
        &self,
        store: &impl PageRead,
        claims: &mut PageClaims,
    ) -> Result<TreeStats> {
        let mut walk =
            Walk { stats: TreeStats::default(), leaves: Vec::new(), seen: HashSet::new() };
        self.check_subtree(store, self.root, (None, None), 1, &mut walk, claims)?;
        let Walk { stats, leaves, .. } = walk;
        for pair in leaves.windows(2) {
            let (left_id, left_sibling) = pair[0];
            if left_sibling != Some(pair[1].0) {
                let reason =
                    format!("right sibling {left_sibling:?}, but the next leaf is {}", pair[1].0);
                return Err(Error::Corrupt { page_id: left_id, reason });
            }
        }
        if let Some(&(last, sibling)) = leaves.last()
            && sibling.is_some()
        {
            return Err(Error::Corrupt {
                page_id: last,
                reason: "the last leaf has a right sibling".to_owned(),
            });
        }
        Ok(stats)
    }

    /// Checks the subtree at `page_id` (at `depth`, its keys within `bounds`). Bounded: the
    /// recursion stops at `TREE_HEIGHT_MAX` levels, and a page reached twice (a cycle, or a
    /// child shared by two parents) is `Corrupt`, so each page is read at most once.
    fn check_subtree(
        &self,
        store: &impl PageRead,
        page_id: PageId,
        bounds: (Option<&[u8]>, Option<&[u8]>),
        depth: usize,
        walk: &mut Walk,
        claims: &mut PageClaims,
    ) -> Result<()> {
        let corrupt = |reason: String| Error::Corrupt { page_id, reason };
        if depth > TREE_HEIGHT_MAX {
            return Err(too_deep(page_id));
        }
        if !walk.seen.insert(page_id) {
            return Err(reached_twice(page_id));
        }
        let node = read_node(store, page_id)?;
        node.check_invariants().map_err(corrupt)?;
        claims.claim(page_id, "btree node");
        if depth > 1 && crate::rebalance::underfull(&node) {
            walk.stats.underfull_nodes += 1;
        }
        let (low, high) = bounds;
        let within =
            |key: &[u8]| low.is_none_or(|low| key >= low) && high.is_none_or(|high| key < high);
        if let Some(index) = (0..node.len()).find(|&index| !within(node.key(index))) {
            return Err(corrupt(format!("key {index} lies outside its parent's separators")));
        }
        if node.kind() == NodeKind::Leaf {
            return walk.leaf(page_id, &node, depth);
        }
        walk.stats.interiors += 1;
        for child_index in 0..=node.len() {
            let child_low = if child_index == 0 { low } else { Some(node.key(child_index - 1)) };
            let child_high =
                if child_index == node.len() { high } else { Some(node.key(child_index)) };
            let child = node.child(child_index);
            self.check_subtree(store, child, (child_low, child_high), depth + 1, walk, claims)?;
        }
        Ok(())
    }
}

/// What `Tree::check_invariants` accumulates on its walk.
struct Walk {
    stats: TreeStats,
    /// Every leaf in key order, with its right-sibling link.
    leaves: Vec<(PageId, Option<PageId>)>,
    /// The pages reached so far: no page may be reached twice.
    seen: HashSet<PageId>,
}

impl Walk {
    /// Checks and counts the leaf `node` at `page_id`, `depth` levels down.
    fn leaf(&mut self, page_id: PageId, node: &Node<PageGuard<'_>>, depth: usize) -> Result<()> {
        let corrupt = |reason: String| Error::Corrupt { page_id, reason };
        let stats = &mut self.stats;
        if stats.height != 0 && stats.height != depth {
            return Err(corrupt(format!("a leaf at depth {depth}, others at {}", stats.height)));
        }
        // An empty leaf is only the root of an empty tree: a removal that empties any other
        // leaf merges it away. Scans rely on this to bound their sibling walks.
        if depth > 1 && node.is_empty() {
            return Err(corrupt("an empty leaf below the root".to_owned()));
        }
        stats.height = depth;
        stats.leaves += 1;
        stats.entries += node.len() as u64;
        for index in 0..node.len() {
            if let Value::Overflow { first_page, length } = node.value(index) {
                stats.overflow_values.push((first_page, length));
            }
        }
        self.leaves.push((page_id, node.right_sibling()));
        Ok(())
    }
}
