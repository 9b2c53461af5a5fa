//! Rebalancing after a node shrinks (a removal, or an overwrite with a shorter value).
//!
//! A node below a quarter of its page is underfull. It merges with an adjacent sibling when the
//! two fit in one page; otherwise the two share their cells evenly by bytes (redistribution) and
//! the parent's separator between them is replaced. A merge removes a separator from the parent,
//! so the parent is checked in turn, up to the root; a root interior node left with one child
//! gives way to it. A replaced separator may be longer than the old one: if the parent has no
//! room for it, the parent splits as on insert.
//!
//! Fill bound: every node but the root stays at least a quarter full after any sequence of
//! inserts, overwrites and removes
//! ([`crate::TreeStats::underfull_nodes`] counts the exceptions). Merging needs the pair to fit,
//! so it fails only when they hold more than a page; an even split (`node::balanced_split`) of
//! more than a page leaves each side more than half a page less one cell (less two for
//! interior nodes, whose middle key moves up). Splits on insert use the same even cut. So the
//! bound holds while leaf cells are at most a quarter and interior cells at most a sixth of a
//! page: always for interior cells (keys are at most an eighth of a page), and for leaf cells
//! unless a key and an inline value are both near their limits.

use redwood_pager::{PageId, PageWrite};

use crate::error::Result;
use crate::node::{CELLS_START_BYTES, Node, NodeKind, balanced_split, interior_cell_size};
use crate::observer::TreeEvent;
use crate::tree::{Step, Tree, write_node};

impl Tree {
    /// Writes `node` (at `page_id`, reached through `path`) back after it shrank, rebalancing
    /// it with a sibling first if it is underfull, and repeating for a parent that lost a
    /// separator.
    pub(crate) fn rebalance(
        &mut self,
        store: &mut impl PageWrite,
        mut path: Vec<Step>,
        page_id: PageId,
        node: Node,
    ) -> Result<()> {
        let (mut page_id, mut node) = (page_id, node);
        if underfull(&node) {
            // Merges may climb the whole path: check it before the first page changes.
            crate::tree::check_path(&mut path)?;
        }
        loop {
            let Some(step) = path.pop() else {
                return self.settle_root(store, page_id, node);
            };
            if !underfull(&node) || step.node.is_empty() {
                return write_node(store, page_id, node);
            }
            // The parent changes from here on: it gets the full checks first.
            let (parent_id, mut parent, child_index) = step.take()?;
            // Pair the node with its right sibling, or with its left one if it is the last child.
            let left_index = child_index.min(parent.len() - 1);
            let separator = parent.key(left_index).to_vec();
            let (left_id, right_id) = (parent.child(left_index), parent.child(left_index + 1));
            let sibling_id = if left_id == page_id { right_id } else { left_id };
            let sibling = crate::tree::read_node(store, sibling_id)?;
            let (left, right) = if left_id == page_id { (node, sibling) } else { (sibling, node) };
            let kind = left.kind();
            if let Some(merged) = merge(&left, &right, &separator) {
                write_node(store, left_id, merged)?;
                store.free(right_id)?;
                self.emit(TreeEvent::Merge { kind, page_id: left_id, freed_page_id: right_id });
                parent.remove(left_index);
                (page_id, node) = (parent_id, parent);
                continue;
            }
            let Some((left, right, separator)) = redistribute(&left, &right, &separator) else {
                // Nothing to share (a giant separator): the node stays as it is, still valid.
                let node = if left_id == page_id { left } else { right };
                return write_node(store, page_id, node);
            };
            write_node(store, left_id, left)?;
            write_node(store, right_id, right)?;
            self.emit(TreeEvent::Redistribute {
                kind,
                left_page_id: left_id,
                right_page_id: right_id,
            });
            parent.remove(left_index);
            if parent.insert_interior(left_index, &separator, right_id).is_err() {
                // The new separator is longer and the parent is full: split it, as an insert would.
                path.push(Step {
                    page_id: parent_id,
                    node: parent,
                    child_index: left_index,
                    checked: true,
                });
                return self.insert_separator(store, path, separator, right_id);
            }
            (page_id, node) = (parent_id, parent);
        }
    }

    /// Writes the root back, or, if it is an interior node left with a single child, frees it
    /// and makes that child the root.
    fn settle_root(
        &mut self,
        store: &mut impl PageWrite,
        page_id: PageId,
        node: Node,
    ) -> Result<()> {
        if node.kind() == NodeKind::Interior && node.is_empty() {
            self.root = node.child(0);
            store.free(page_id)?;
            self.emit(TreeEvent::RootShrink { old_root: page_id, new_root: self.root });
            return Ok(());
        }
        write_node(store, page_id, node)
    }
}

/// Bytes a node's cells and slots use (fragmented space excluded).
pub(crate) fn used_bytes(node: &Node) -> usize {
    cell_area_bytes(node) - node.free_bytes()
}

fn cell_area_bytes(node: &Node) -> usize {
    node.page().page_size().bytes() - CELLS_START_BYTES
}

/// A node using less than a quarter of its page.
pub(crate) fn underfull(node: &Node) -> bool {
    used_bytes(node) * 4 < cell_area_bytes(node)
}

/// `left` and `right` (adjacent children, `separator` between them) as one node, if they fit:
/// leaves concatenate (the left one takes over the right one's sibling link); interior nodes
/// pull the separator down over the right node's leftmost child.
fn merge(left: &Node, right: &Node, separator: &[u8]) -> Option<Node> {
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

/// `left` and `right` rebuilt with their cells shared evenly by bytes, and the new separator
/// between them; `None` if either would be left without a cell. Leaves keep their sibling links
/// (the pages stay where they are); interior nodes rotate cells through the separator.
fn redistribute(left: &Node, right: &Node, separator: &[u8]) -> Option<(Node, Node, Vec<u8>)> {
    let page_size = left.page().page_size();
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
            let separator = new_right.key(0).to_vec();
            (new_left, new_right, separator)
        }
        NodeKind::Interior => {
            // (key, child right of it) in key order, the old separator joining the two nodes.
            let entries: Vec<(&[u8], PageId)> = (0..left.len())
                .map(|index| (left.key(index), left.child(index + 1)))
                .chain(std::iter::once((separator, right.child(0))))
                .chain((0..right.len()).map(|index| (right.key(index), right.child(index + 1))))
                .collect();
            let sizes: Vec<usize> =
                entries.iter().map(|(key, _)| interior_cell_size(key)).collect();
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
            (new_left, new_right, entries[up].0.to_vec())
        }
    };
    (!new_left.is_empty() && !new_right.is_empty()).then_some((new_left, new_right, separator))
}
