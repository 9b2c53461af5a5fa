//! Rebalancing after a node shrinks (a removal, or an overwrite with a shorter value).
//!
//! A node below a quarter of its page is underfull. It merges with an adjacent sibling when the
//! two fit in one page; otherwise the two share their cells evenly by bytes (redistribution) and
//! the parent's separator between them is replaced. A merge removes a separator from the parent,
//! so the parent is checked in turn, up to the root; a root interior node left with one child
//! gives way to it. A replaced separator may be longer than the old one: if the parent has no
//! room for it, the parent splits as on insert.
//!
//! Fill bound: every node but the root and the last node of each level stays at least a
//! quarter full after any sequence of inserts, overwrites and removes
//! ([`crate::TreeStats::underfull_nodes`] counts the exceptions). Merging needs the pair to fit,
//! so it fails only when they hold more than a page; an even split (`node::balanced_split`) of
//! more than a page leaves each side more than half a page less one cell (less two for
//! interior nodes, whose middle key moves up). Splits on insert use the same even cut, except
//! an append at the tree's right edge (`tree::split`), which keeps the full node (less at most
//! one interior cell) and starts a nearly empty last node of its level. So the bound holds
//! while leaf cells are at most a quarter and interior cells at most a sixth of a page: always
//! for interior cells (keys are at most an eighth of a page), and for leaf cells unless a key
//! and an inline value are both near their limits.
//!
//! The last node of a level is exempt, and that is sound: only a right-edge split makes an
//! underfull one, and it stays the last of its level until it splits itself (full, so its
//! halves are sound), or is merged into or shares cells with its left sibling when a removal
//! (or a shrinking overwrite) in it rebalances it. Growing a node never rebalances it, so
//! appends fill the last node in place. It still has a cell (a leaf) or two children (an
//! interior node), so every interior node keeps at least two children, which is what the
//! height bound (`limits::TREE_HEIGHT_MAX`) relies on.
//!
//! Pages from disk may be malformed though their checksums pass, so before two nodes are
//! combined the pairing is checked: the sibling is a different page of the same kind and not an
//! ancestor, a leaf's right-sibling link names the sibling, and the parent's separator sorts
//! between the two nodes' keys. Anything else is `Corrupt`, found before any page changes (the
//! changes are collected in `Changes` and written at the end).
//!
//! Long keys (see `keys` for who owns which chain): cells move between the pair as they are,
//! chain references and all. A leaf merge drops the parent's separator between the two: a long
//! one's chain is freed. A leaf redistribution replaces it with a new one (the right leaf's
//! first key, a long one suffix-truncated: `keys::separator_between`), freeing the old one's
//! chain and giving a long new one a chain of its own. An interior merge pulls the separator
//! down into the merged node, and an interior redistribution rotates it down and another key
//! up: the cells, and so the chains, only move.

use std::ops::Deref;

use redwood_pager::{Page, PageId, PageRead, PageSize, PageWrite};

use crate::error::{Error, Result};
use crate::keys::{HeldKey, StoreTails, compare_stored, separator_between};
use crate::node::{
    CELLS_START_BYTES, Node, NodeKind, OwnedKey, StoredKey, balanced_split, interior_cell_size,
};
use crate::observer::TreeEvent;
use crate::tree::{Changes, PathStep, Separator, Step, Tree, load_path, read_node};

/// An underfull node and the sibling it is paired with, in key order, under one parent.
struct Pair {
    /// The parent's cell between the two: its key separates them.
    left_index: usize,
    left_id: PageId,
    right_id: PageId,
    left: Node,
    right: Node,
    /// Whether the underfull node is the left one.
    node_is_left: bool,
}

impl Tree {
    /// Records `node` (at `page_id`, reached through `path`) to be written back after it
    /// shrank, rebalancing it with a sibling first if it is underfull, and repeating for a
    /// parent that lost a separator. The changes go into `changes`.
    pub(crate) fn rebalance(
        &mut self,
        store: &mut impl PageWrite,
        path: &[PathStep],
        page_id: PageId,
        node: Node,
        changes: &mut Changes,
    ) -> Result<()> {
        if path.is_empty() {
            return settle_root(page_id, node, changes);
        }
        if !underfull(&node) {
            changes.write(page_id, node);
            return Ok(());
        }
        // Merges may climb the whole path: load (and check) it before anything is computed
        // from it.
        let path = load_path(store, path)?;
        self.rebalance_up(store, path, page_id, node, changes)
    }

    /// [`Tree::rebalance`] of the underfull `node` along the loaded `path`.
    fn rebalance_up(
        &mut self,
        store: &mut impl PageWrite,
        mut path: Vec<Step>,
        page_id: PageId,
        node: Node,
        changes: &mut Changes,
    ) -> Result<()> {
        let (mut page_id, mut node) = (page_id, node);
        // Each round pops a step of the path: at most `TREE_HEIGHT_MAX` rounds.
        loop {
            let Some(step) = path.pop() else {
                return settle_root(page_id, node, changes);
            };
            if !underfull(&node) || step.node.is_empty() {
                changes.write(page_id, node);
                return Ok(());
            }
            let (parent_id, mut parent, child_index) = step.take();
            let pair =
                pair_with_sibling(store, &path, parent_id, &parent, child_index, page_id, node)?;
            let Pair { left_index, left_id, right_id, .. } = pair;
            let separator = parent.key(left_index).to_owned_key();
            let kind = pair.left.kind();
            if let Some(merged) = merge(&pair.left, &pair.right, separator.as_stored()) {
                changes.write(left_id, merged);
                changes.free(right_id);
                changes.event(TreeEvent::Merge { kind, page_id: left_id, freed_page_id: right_id });
                // Leaves drop the separator (interior nodes pulled it down, chain and all).
                if let (NodeKind::Leaf, Some(tail)) = (kind, separator.as_stored().tail()) {
                    changes.free_tail(store, tail)?;
                }
                parent.remove(left_index);
                (page_id, node) = (parent_id, parent);
                continue;
            }
            let Some((left, right, up)) =
                redistribute(&pair.left, &pair.right, separator.as_stored())
            else {
                // Nothing to share (a giant separator): the node stays as it is, still valid.
                let node = if pair.node_is_left { pair.left } else { pair.right };
                changes.write(page_id, node);
                return Ok(());
            };
            let separator = match up {
                // Interior nodes rotated a key up, its chain with it.
                Some(up) => HeldKey::take(&*store, up)?,
                // Leaves get a new separator; the old one's chain goes.
                None => {
                    let new = separator_between(&*store, left.key(left.len() - 1), right.key(0))?
                        .ok_or_else(|| Error::Corrupt {
                        page_id: left_id,
                        reason: "redistributed leaves are not in key order".to_owned(),
                    })?;
                    if let Some(tail) = separator.as_stored().tail() {
                        changes.free_tail(store, tail)?;
                    }
                    HeldKey::new(store, changes, new)?
                }
            };
            changes.write(left_id, left);
            changes.write(right_id, right);
            changes.event(TreeEvent::Redistribute {
                kind,
                left_page_id: left_id,
                right_page_id: right_id,
            });
            parent.remove(left_index);
            // The new separator lies between the pair's keys, so (the pair's keys lying between
            // the parent's neighbouring separators in a sound tree) it sorts at the old one's
            // place.
            if parent.search(&separator.bytes, &mut StoreTails(&*store))? != Err(left_index) {
                let reason =
                    format!("child {left_index}'s new separator does not sort at its place");
                return Err(Error::Corrupt { page_id: parent_id, reason });
            }
            if parent
                .insert_interior(left_index, separator.stored(store.page_size()), right_id)
                .is_err()
            {
                // The new separator is longer and the parent is full: split it, as an insert would.
                path.push(Step { page_id: parent_id, node: parent, child_index: left_index });
                let separator = Separator { key: separator, right: right_id, at_right_edge: false };
                return self.insert_separator(store, path, separator, changes);
            }
            (page_id, node) = (parent_id, parent);
        }
    }
}

/// Records the root to be written back, or, if it is an interior node left with a single
/// child, freed with that child becoming the root.
fn settle_root(page_id: PageId, node: Node, changes: &mut Changes) -> Result<()> {
    if node.kind() == NodeKind::Interior && node.is_empty() {
        let child = node.child(0);
        if child == page_id {
            let reason = "an interior root is its own only child".to_owned();
            return Err(Error::Corrupt { page_id, reason });
        }
        changes.free(page_id);
        changes.event(TreeEvent::RootShrink { old_root: page_id, new_root: child });
        changes.set_root(child);
        return Ok(());
    }
    changes.write(page_id, node);
    Ok(())
}

/// Pairs `node` (at `page_id`, child `child_index` of `parent`) with its right sibling, or with
/// its left one if it is the last child, and checks the pairing (see the module docs). `path`
/// holds the steps above the parent.
fn pair_with_sibling(
    store: &impl PageWrite,
    path: &[Step],
    parent_id: PageId,
    parent: &Node,
    child_index: usize,
    page_id: PageId,
    node: Node,
) -> Result<Pair> {
    // The caller saw the parent has a cell, so `left_index + 1` is a child.
    let left_index = child_index.min(parent.len() - 1);
    let node_is_left = left_index == child_index;
    let sibling_id = parent.child(if node_is_left { left_index + 1 } else { left_index });
    let corrupt = |page_id: PageId, reason: String| Error::Corrupt { page_id, reason };
    if sibling_id == page_id {
        return Err(corrupt(parent_id, format!("child {page_id} is listed twice")));
    }
    // An ancestor as a sibling is a cycle: merging it would free a page still on the path.
    if sibling_id == parent_id || path.iter().any(|step| step.page_id == sibling_id) {
        return Err(corrupt(parent_id, format!("child {sibling_id} is also an ancestor")));
    }
    // Copied out of the store: the pair is combined into owned nodes.
    let sibling = read_node(store, sibling_id)?.to_owned();
    if sibling.kind() != node.kind() {
        let reason = format!("a {:?} sibling of the {:?} {page_id}", sibling.kind(), node.kind());
        return Err(corrupt(sibling_id, reason));
    }
    let pair = if node_is_left {
        Pair {
            left_index,
            left_id: page_id,
            right_id: sibling_id,
            left: node,
            right: sibling,
            node_is_left,
        }
    } else {
        Pair {
            left_index,
            left_id: sibling_id,
            right_id: page_id,
            left: sibling,
            right: node,
            node_is_left,
        }
    };
    check_pair(store, &pair, parent.key(left_index))?;
    Ok(pair)
}

/// The checks that make combining the pair sound: the keys of the left node below the
/// separator, those of the right node at or above it (strictly above for interior nodes, whose
/// separator joins the combined node), and, for leaves, the left leaf linked to the right one.
/// Long keys are compared whole where their prefixes tie (their tails read from `store`).
fn check_pair(store: &impl PageRead, pair: &Pair, separator: StoredKey<'_>) -> Result<()> {
    let (left, right) = (&pair.left, &pair.right);
    if let Some(last) = left.len().checked_sub(1).map(|index| left.key(index))
        && compare_stored(store, last, separator)?.is_ge()
    {
        let reason = "a key at or above the parent's separator".to_owned();
        return Err(Error::Corrupt { page_id: pair.left_id, reason });
    }
    if !right.is_empty() {
        let first = compare_stored(store, right.key(0), separator)?;
        let below = match right.kind() {
            NodeKind::Leaf => first.is_lt(),
            NodeKind::Interior => first.is_le(),
        };
        if below {
            let reason = "a key below the parent's separator".to_owned();
            return Err(Error::Corrupt { page_id: pair.right_id, reason });
        }
    }
    if left.kind() == NodeKind::Leaf && left.right_sibling() != Some(pair.right_id) {
        let reason = format!(
            "right sibling {:?}, but the parent's next child is {}",
            left.right_sibling(),
            pair.right_id
        );
        return Err(Error::Corrupt { page_id: pair.left_id, reason });
    }
    Ok(())
}

/// Bytes a node's cells and slots use (fragmented space excluded).
pub(crate) fn used_bytes<P: Deref<Target = Page>>(node: &Node<P>) -> usize {
    cell_area_bytes(node) - node.free_bytes()
}

fn cell_area_bytes<P: Deref<Target = Page>>(node: &Node<P>) -> usize {
    node.page_size().bytes() - CELLS_START_BYTES
}

/// A node using less than a quarter of its page.
pub(crate) fn underfull<P: Deref<Target = Page>>(node: &Node<P>) -> bool {
    underfull_at(used_bytes(node), node.page_size())
}

/// Whether a node of `page_size` using `used_bytes` (cells and slots) is underfull.
pub(crate) fn underfull_at(used_bytes: usize, page_size: PageSize) -> bool {
    used_bytes * 4 < page_size.bytes() - CELLS_START_BYTES
}

/// `left` and `right` (adjacent children, `separator` between them) as one node, if they fit:
/// leaves concatenate (the left one takes over the right one's sibling link); interior nodes
/// pull the separator down over the right node's leftmost child. Cells move as they are (long
/// keys' chain references with them).
fn merge(left: &Node, right: &Node, separator: StoredKey<'_>) -> Option<Node> {
    let mut merged = left.clone();
    match left.kind() {
        NodeKind::Leaf => {
            for index in 0..right.len() {
                merged.insert_leaf(merged.len(), right.key(index), right.value(index)).ok()?;
            }
            merged.set_right_sibling(right.right_sibling());
        }
        NodeKind::Interior => {
            merged.insert_interior(merged.len(), separator, right.child(0)).ok()?;
            for index in 0..right.len() {
                merged
                    .insert_interior(merged.len(), right.key(index), right.child(index + 1))
                    .ok()?;
            }
        }
    }
    Some(merged)
}

/// `left` and `right` rebuilt with their cells shared evenly by bytes; `None` if either would be
/// left without a cell. Leaves keep their sibling links (the pages stay where they are), and
/// their new separator is the caller's to build; interior nodes rotate cells through the
/// separator, and the key that goes up (out of both nodes, a long one's chain with it) is
/// returned.
fn redistribute(
    left: &Node,
    right: &Node,
    separator: StoredKey<'_>,
) -> Option<(Node, Node, Option<OwnedKey>)> {
    let page_size = left.page_size();
    let kind = left.kind();
    let (new_left, new_right, separator) = match kind {
        NodeKind::Leaf => {
            let cells: Vec<(&Node, usize)> = (0..left.len())
                .map(|index| (left, index))
                .chain((0..right.len()).map(|index| (right, index)))
                .collect();
            let sizes: Vec<usize> =
                cells.iter().map(|&(node, index)| node.cell_size(index)).collect();
            let cut = balanced_split(&sizes, kind);
            let (mut new_left, mut new_right) =
                (Node::new_leaf(page_size), Node::new_leaf(page_size));
            for (position, &(node, index)) in cells.iter().enumerate() {
                let target = if position < cut { &mut new_left } else { &mut new_right };
                target.insert_leaf(target.len(), node.key(index), node.value(index)).ok()?;
            }
            new_left.set_right_sibling(left.right_sibling());
            new_right.set_right_sibling(right.right_sibling());
            (new_left, new_right, None)
        }
        NodeKind::Interior => {
            // (key, child right of it) in key order, the old separator joining the two nodes.
            let entries: Vec<(StoredKey<'_>, PageId)> = (0..left.len())
                .map(|index| (left.key(index), left.child(index + 1)))
                .chain(std::iter::once((separator, right.child(0))))
                .chain((0..right.len()).map(|index| (right.key(index), right.child(index + 1))))
                .collect();
            let sizes: Vec<usize> =
                entries.iter().map(|&(key, _)| interior_cell_size(key)).collect();
            let up = balanced_split(&sizes, kind);
            let mut new_left = Node::new_interior(page_size, left.child(0));
            let mut new_right = Node::new_interior(page_size, entries[up].1);
            for (position, &(key, child)) in entries.iter().enumerate() {
                let target = match position.cmp(&up) {
                    std::cmp::Ordering::Less => &mut new_left,
                    std::cmp::Ordering::Equal => continue,
                    std::cmp::Ordering::Greater => &mut new_right,
                };
                target.insert_interior(target.len(), key, child).ok()?;
            }
            (new_left, new_right, Some(entries[up].0.to_owned_key()))
        }
    };
    (!new_left.is_empty() && !new_right.is_empty()).then_some((new_left, new_right, separator))
}
