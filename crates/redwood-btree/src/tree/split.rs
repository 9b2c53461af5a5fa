//! Splits on insert: a full leaf splits to take the new cell, and the separator goes up the
//! path, splitting full parents and growing a new root when the root splits.
//!
//! Two cuts. A split anywhere in the tree cuts the node evenly by bytes
//! (`node::balanced_split`), leaving both halves about half full for later inserts on either
//! side. An append at the tree's right edge (the new key past the last key of the last leaf,
//! every level of the descent having taken its last child: an ascending load) keeps the full
//! node whole and starts the new right node with only the new cell (a leaf) or the last child
//! and the new separator (an interior node, which keeps every other cell; SQLite's "quick
//! balance"). An ascending load so leaves every page but the last of each level full, where
//! even cuts would leave them half empty and never fill them; the last node of a level may be
//! underfull until appends fill it (the fill bound exempts it, see `rebalance`).
//!
//! A leaf split puts into the parent the right leaf's first key, and for a long one, its
//! shortest prefix that sorts above the left leaf's last key (`keys::separator_between`), so
//! long keys that differ within their first bytes leave short, inline separators. One longer
//! than the inline key limit is a long separator with a chain of its own (`keys::HeldKey`):
//! never the leaf key's chain. An interior split moves its middle cell up, chain and all.

use redwood_pager::{PageId, PageRead, PageWrite};

use super::{Changes, Descent, Step, Tree, load_path};
use crate::error::{Error, Result};
use crate::keys::{HeldKey, StoreTails, separator_between};
use crate::node::{Node, NodeKind, StoredKey, Value};
use crate::observer::TreeEvent;

/// A separator to insert into the parent of a node that split: keys from `key` on live under
/// `right`, the new node. `at_right_edge`: the split was an append at the tree's right edge,
/// so a parent that has no room splits off only its last child. A long `key` owns its chain
/// until it is stored.
pub(crate) struct Separator {
    pub(crate) key: HeldKey,
    pub(crate) right: PageId,
    pub(crate) at_right_edge: bool,
}

impl Tree {
    /// Plans the split of the full `leaf` (reached by `descent`) to take the new cell of `key`
    /// (stored as `stored`) at `index`, and the separators' insertion upwards.
    #[expect(clippy::too_many_arguments, reason = "the state of one insert, passed down once")]
    pub(super) fn split_upwards(
        &mut self,
        store: &mut impl PageWrite,
        descent: &Descent,
        leaf: Node,
        index: usize,
        key: &[u8],
        stored: StoredKey<'_>,
        value: Value<'_>,
        changes: &mut Changes,
    ) -> Result<()> {
        let path = load_path(store, &descent.path)?;
        let leaf_id = descent.leaf_id;
        let at_right_edge =
            descent.rightmost && index == leaf.len() && leaf.right_sibling().is_none();
        let (key, right) = if at_right_edge {
            split_leaf_at_end(store, leaf_id, leaf, stored, value, changes)?
        } else {
            split_leaf(store, leaf_id, leaf, key, stored, value, changes)?
        };
        changes.event(TreeEvent::Split {
            kind: NodeKind::Leaf,
            page_id: leaf_id,
            new_page_id: right,
        });
        self.insert_separator(store, path, Separator { key, right, at_right_edge }, changes)
    }

    /// Inserts `separator` into the parents along `path` (each step's child index is where the
    /// separator goes), splitting upwards, and grows a new root if the root split. The changes
    /// go into `changes`.
    pub(crate) fn insert_separator(
        &mut self,
        store: &mut impl PageWrite,
        mut path: Vec<Step>,
        separator: Separator,
        changes: &mut Changes,
    ) -> Result<()> {
        let page_size = store.page_size();
        let Separator { key: mut separator, mut right, at_right_edge } = separator;
        while let Some(step) = path.pop() {
            let (page_id, mut node, child_index) = step.take();
            // The separator came from the child at `child_index`, so in a sound tree it sorts
            // strictly between the keys around that child. A child whose keys stray outside its
            // parent's bounds (or a duplicate) would otherwise make the parent unordered.
            if node.search(&separator.bytes, &mut StoreTails(&*store))? != Err(child_index) {
                let reason = format!(
                    "the separator of child {child_index}'s split does not sort at its place"
                );
                return Err(Error::Corrupt { page_id, reason });
            }
            if node.insert_interior(child_index, separator.stored(page_size), right).is_ok() {
                changes.write(page_id, node);
                return Ok(());
            }
            // The key that moves up leaves its cell: a long one brings its chain along.
            let (up, new_right) = if at_right_edge && child_index == node.len() {
                let (up, mut new_right) = node.split_off_last(page_id)?;
                let up = HeldKey::take(&*store, up)?;
                insert_into(&*store, page_id, &mut new_right, &separator, right)?;
                (up, new_right)
            } else {
                let (up, mut new_right) = node.split(page_id)?;
                let up = HeldKey::take(&*store, up)?;
                let target = if separator.bytes > up.bytes { &mut new_right } else { &mut node };
                insert_into(&*store, page_id, target, &separator, right)?;
                (up, new_right)
            };
            let right_id = changes.allocate(store)?;
            changes.write(page_id, node);
            changes.write(right_id, new_right);
            changes.event(TreeEvent::Split {
                kind: NodeKind::Interior,
                page_id,
                new_page_id: right_id,
            });
            (separator, right) = (up, right_id);
        }
        let mut root = Node::new_interior(page_size, self.root);
        // One key within the limit always fits an empty node; checked anyway.
        root.insert_interior(0, separator.stored(page_size), right).map_err(|_| {
            Error::Corrupt {
                page_id: self.root,
                reason: "a new root has no room for one separator".to_owned(),
            }
        })?;
        let root_id = changes.allocate(store)?;
        changes.write(root_id, root);
        changes.event(TreeEvent::RootGrow { old_root: self.root, new_root: root_id });
        changes.set_root(root_id);
        Ok(())
    }
}

/// Puts `(separator, right)` into `target`, one part of the split interior node at `page_id`.
/// `separator` differs from the key that moved up (the caller checked it sorts between the
/// node's keys), and a part of a split node has room for one more key within the limit; both
/// are checked anyway, as `Corrupt` naming `page_id`.
fn insert_into(
    store: &impl PageRead,
    page_id: PageId,
    target: &mut Node,
    separator: &HeldKey,
    right: PageId,
) -> Result<()> {
    let corrupt = |reason: &str| Error::Corrupt { page_id, reason: reason.to_owned() };
    let Err(at) = target.search(&separator.bytes, &mut StoreTails(store))? else {
        return Err(corrupt("a separator is already in its parent"));
    };
    if target.insert_interior(at, separator.stored(store.page_size()), right).is_err() {
        return Err(corrupt("a split interior node has no room for one separator"));
    }
    Ok(())
}

/// Splits a full leaf evenly, puts the new cell (of `key`, stored as `stored`) into the half it
/// belongs to, links the new right leaf into the sibling chain, and records both writes;
/// returns the separator and the right leaf's page. Within the size limits an even half of a
/// full leaf always has room for one more cell and the key is in neither half (it was removed
/// or absent, and the keys ascend strictly); both are checked anyway, before anything is
/// allocated.
fn split_leaf(
    store: &mut impl PageWrite,
    leaf_id: PageId,
    mut leaf: Node,
    key: &[u8],
    stored: StoredKey<'_>,
    value: Value<'_>,
    changes: &mut Changes,
) -> Result<(HeldKey, PageId)> {
    let corrupt = |reason: &str| Error::Corrupt { page_id: leaf_id, reason: reason.to_owned() };
    let (_, mut right) = leaf.split(leaf_id)?;
    let mut tails = StoreTails(&*store);
    // The right leaf's first key at or below the new one: the new one goes right.
    let goes_right = right.key(0).compare(key, &mut tails)?.is_le();
    let target = if goes_right { &mut right } else { &mut leaf };
    let Err(index) = target.search(key, &mut tails)? else {
        return Err(corrupt("the key is in the leaf twice"));
    };
    if target.insert_leaf(index, stored, value).is_err() {
        return Err(corrupt("a split leaf has no room for one cell"));
    }
    link_and_write(store, leaf_id, leaf, right, changes)
}

/// Splits the full last leaf of the tree for a cell past its last key (see the module docs):
/// the leaf keeps every cell, and a new right leaf holds only the new one.
fn split_leaf_at_end(
    store: &mut impl PageWrite,
    leaf_id: PageId,
    leaf: Node,
    stored: StoredKey<'_>,
    value: Value<'_>,
    changes: &mut Changes,
) -> Result<(HeldKey, PageId)> {
    let mut right = Node::new_leaf(leaf.page_size());
    // A cell within the size limits always fits an empty leaf; checked anyway.
    right.insert_leaf(0, stored, value).map_err(|_| Error::Corrupt {
        page_id: leaf_id,
        reason: "a new leaf has no room for one cell".to_owned(),
    })?;
    link_and_write(store, leaf_id, leaf, right, changes)
}

/// Links the new `right` leaf after `leaf` in the sibling chain, allocates its page and records
/// both writes; returns the separator (the shortest prefix of the right leaf's first key above
/// the left leaf's last, with a chain of its own if it is long) and the right leaf's page.
/// Either split leaves each leaf a cell; a left leaf whose last key does not sort below the
/// right one's first is `Corrupt` (only tails out of order, which node checks cannot see, make
/// one).
fn link_and_write(
    store: &mut impl PageWrite,
    leaf_id: PageId,
    mut leaf: Node,
    mut right: Node,
    changes: &mut Changes,
) -> Result<(HeldKey, PageId)> {
    let last = leaf.len().checked_sub(1).map(|index| leaf.key(index));
    let separator = match last {
        Some(last) => separator_between(&*store, last, right.key(0))?,
        None => None,
    };
    let Some(separator) = separator else {
        let reason = "a split leaf's halves are not in key order".to_owned();
        return Err(Error::Corrupt { page_id: leaf_id, reason });
    };
    let separator = HeldKey::new(store, changes, separator)?;
    let right_id = changes.allocate(store)?;
    right.set_right_sibling(leaf.right_sibling());
    leaf.set_right_sibling(Some(right_id));
    changes.write(leaf_id, leaf);
    changes.write(right_id, right);
    Ok((separator, right_id))
}
