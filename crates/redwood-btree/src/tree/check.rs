//! The integrity walk of one tree (`Tree::check_invariants`): key order within and across
//! nodes, separators bounding their subtrees, equal leaf depth, the right-sibling chain, page
//! claims and the fill bound (the last node of each level exempt), each page read once, as a
//! view of the store's page (no copy).
//!
//! Long keys: the walk reads every long key's tail (leaf keys and separators), so its chain is
//! checked and the order checks (within the node, against the parent's separators) compare
//! whole keys, where node checks see only prefixes; it claims each chain's pages as
//! `"btree key chain"` (the tree owns them), so the free-space check finds no key chain leaked
//! or shared.

use std::borrow::Cow;
use std::collections::HashSet;

use redwood_pager::{PageClaims, PageGuard, PageId, PageRead};

use super::{Tree, reached_twice, read_node, too_deep};
use crate::error::{Error, Result};
use crate::keys::{full_key, tail_pages};
use crate::limits::TREE_HEIGHT_MAX;
use crate::node::{Node, NodeKind, Value};

/// What `check_invariants` found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TreeStats {
    /// Every overflow value's chain (first page, length), for the caller to check and claim.
    pub overflow_values: Vec<(PageId, u64)>,
    /// Leaf entries whose key is long (its tail in a chain). The walk claimed their chains.
    pub long_keys: u64,
    /// Interior cells whose separator is long (its tail in a chain of its own). The walk
    /// claimed their chains.
    pub long_separators: u64,
    /// Levels, leaves included.
    pub height: usize,
    /// Leaf pages.
    pub leaves: u64,
    /// Interior pages.
    pub interiors: u64,
    /// Entries.
    pub entries: u64,
    /// Nodes other than the root and the last node of each level using less than a quarter of
    /// their page: zero unless cells near the size limits defeat the fill bound (see the
    /// `rebalance` module).
    pub underfull_nodes: u64,
    /// Last nodes of their level (below the root) using less than a quarter of their page: the
    /// fill bound exempts them, since a split at the tree's right edge (an ascending load)
    /// leaves the new last node nearly empty until appends fill it. At most one per level.
    pub right_edge_underfull_nodes: u64,
}

/// Where a subtree lies: the bounds its keys must keep, its depth, and whether it is the last
/// node of its level (every step from the root took the last child).
#[derive(Clone, Copy)]
struct Place<'k> {
    low: Option<&'k [u8]>,
    high: Option<&'k [u8]>,
    depth: usize,
    last: bool,
}

impl Tree {
    /// Checks the whole tree and claims its pages, its long keys' chains included: key order
    /// within and across nodes (long keys compared whole, their tails read), separators
    /// bounding their subtrees, every leaf at the same depth, no empty leaf below the root, the
    /// right-sibling chain visiting the leaves in key order. `Corrupt` names the first page at
    /// fault (a chain page, for a damaged tail). Bounded: at most `TREE_HEIGHT_MAX` levels, and
    /// a page reached twice (a cycle, or a child of two parents) is `Corrupt`, so each page is
    /// read once; a chain is read at most as far as its checked length.
    pub fn check_invariants(
        &self,
        store: &impl PageRead,
        claims: &mut PageClaims,
    ) -> Result<TreeStats> {
        let mut walk =
            Walk { stats: TreeStats::default(), leaves: Vec::new(), seen: HashSet::new() };
        let place = Place { low: None, high: None, depth: 1, last: true };
        self.check_subtree(store, self.root, place, &mut walk, claims)?;
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

    /// Checks the subtree at `page_id` (at `place`). Bounded: the recursion stops at
    /// `TREE_HEIGHT_MAX` levels, and a page reached twice (a cycle, or a child shared by two
    /// parents) is `Corrupt`, so each page is read at most once.
    fn check_subtree(
        &self,
        store: &impl PageRead,
        page_id: PageId,
        place: Place<'_>,
        walk: &mut Walk,
        claims: &mut PageClaims,
    ) -> Result<()> {
        let Place { low, high, depth, last } = place;
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
        // Every key whole (inline keys borrowed, long ones read), each chain checked and claimed.
        let mut keys: Vec<Cow<'_, [u8]>> = Vec::with_capacity(node.len());
        for index in 0..node.len() {
            let key = node.key(index);
            if let Some(tail) = key.tail() {
                for chain_page in tail_pages(store, tail)? {
                    claims.claim(chain_page, "btree key chain");
                }
                match node.kind() {
                    NodeKind::Leaf => walk.stats.long_keys += 1,
                    NodeKind::Interior => walk.stats.long_separators += 1,
                }
            }
            keys.push(full_key(store, key)?);
        }
        if let Some(index) = (1..keys.len()).find(|&index| keys[index - 1] >= keys[index]) {
            return Err(corrupt(format!("keys {} and {index} are not in order", index - 1)));
        }
        if depth > 1 && crate::rebalance::underfull(&node) {
            if last {
                walk.stats.right_edge_underfull_nodes += 1;
            } else {
                walk.stats.underfull_nodes += 1;
            }
        }
        let within =
            |key: &[u8]| low.is_none_or(|low| key >= low) && high.is_none_or(|high| key < high);
        if let Some(index) = (0..keys.len()).find(|&index| !within(&keys[index])) {
            return Err(corrupt(format!("key {index} lies outside its parent's separators")));
        }
        if node.kind() == NodeKind::Leaf {
            return walk.leaf(page_id, &node, depth);
        }
        walk.stats.interiors += 1;
        for child_index in 0..=node.len() {
            let child_low = if child_index == 0 { low } else { Some(&*keys[child_index - 1]) };
            let child_high =
                if child_index == node.len() { high } else { Some(&*keys[child_index]) };
            let child = node.child(child_index);
            let place = Place {
                low: child_low,
                high: child_high,
                depth: depth + 1,
                last: last && child_index == node.len(),
            };
            self.check_subtree(store, child, place, walk, claims)?;
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
