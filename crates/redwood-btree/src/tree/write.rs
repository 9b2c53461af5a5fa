//! The write path of one key: `insert_value` and `remove_value`.
//!
//! The descent (`Tree::descend`) reads each interior node as a view of the store's page with
//! the lookup checks (header, checked search) and records only page ids and child indexes
//! (`PathStep`): nothing is copied on the way down. Then the leaf:
//!
//! - held: when the store holds the leaf ([`PageWrite::page_mut`]: this transaction wrote it
//!   and holds its image), a change that fits and leaves no rebalancing to do is made in that
//!   page, in place: no copy, no full check (see [`Node::load_held`]), no `write_page`, no
//!   interior node loaded. This is the common case of a bulk load in one transaction.
//! - owned: otherwise (a leaf the transaction has not written yet, a split, an overwrite or a
//!   removal leaving a non-root leaf underfull) the leaf is an owned copy, with the full checks
//!   for a page read from the store (a held page's copy keeps its trust), and the change is
//!   planned in `Changes`: the interior nodes a split or merge changes are loaded then
//!   (`load_path`, owned copies, with the full checks for pages read from the store), and every
//!   page is written only once every check has passed.
//!
//! Whether a change stays in place is decided before the page is touched, by the same
//! arithmetic the owned path applies, so a declined change leaves the held page as it was and
//! the owned path finds the same leaf.
//!
//! Long keys take the owned path: writing or freeing a tail's chain, and reading a tail to
//! compare, need the store while the held page borrows it. So a long key to insert or remove,
//! and a search of a held leaf that meets a long key its prefix does not decide
//! (`DeferredTails`), decline the in-place change. An insert of a new long key writes its
//! tail's chain (`Changes::write_tail`); an overwrite keeps the chain the cell had; a removal
//! frees it (`Changes::free_tail`).

use std::cmp::Ordering;

use redwood_pager::{Page, PageBuf, PageId, PageRead, PageWrite};

use super::{Changes, Descent, PathStep, Tree, check_sizes, read_node, too_deep};
use crate::error::{Error, Result};
use crate::keys::StoreTails;
use crate::limits::{TREE_HEIGHT_MAX, key_max_bytes, key_prefix_bytes};
use crate::node::{
    KeyTail, KeyTails, Node, NodeKind, OwnedValue, StoredKey, Value, leaf_cell_size,
};
use crate::rebalance::{underfull_at, used_bytes};

/// What the in-place path did with one change.
enum InPlace<T> {
    /// The store holds the leaf, and the change was made in it.
    Done(T),
    /// The store holds the leaf, but the change needs a split or a rebalance: the leaf,
    /// unchanged, copied for the owned path.
    Declined(Node),
    /// The store does not hold the leaf.
    NotHeld,
}

impl Tree {
    /// Stores inline `value` under `key`; returns whether a value was replaced.
    pub fn insert(&mut self, store: &mut impl PageWrite, key: &[u8], value: &[u8]) -> Result<bool> {
        Ok(self.insert_value(store, key, Value::Inline(value))?.is_some())
    }

    /// Stores `value` (inline bytes or an overflow reference) under `key`, and returns the value
    /// it replaced (whose overflow chain, if any, the caller frees). May split nodes and grow a
    /// new root (see [`Tree::root`]). A leaf this transaction already wrote is changed in
    /// place when the cell fits (see the `tree::write` module docs).
    pub fn insert_value(
        &mut self,
        store: &mut impl PageWrite,
        key: &[u8],
        value: Value<'_>,
    ) -> Result<Option<OwnedValue>> {
        let page_size = store.page_size();
        check_sizes(page_size, key, value)?;
        let long = key.len() > key_max_bytes(page_size);
        let descent = self.descend(store, key)?;
        let leaf_id = descent.leaf_id;
        let in_place =
            if long { InPlace::NotHeld } else { insert_in_place(store, &descent, key, value)? };
        let mut leaf = match in_place {
            InPlace::Done(previous) => return Ok(previous),
            InPlace::Declined(leaf) => leaf,
            InPlace::NotHeld => read_node(store, leaf_id)?.to_owned(),
        };
        // The leaf's keys ascend strictly (it had the full checks, or is a page this
        // transaction wrote), so the new cell goes where the old one was, or where the search
        // says. An overwrite keeps the old cell's tail (the same key, so the same chain).
        let (previous, index, removed_bytes, kept_tail) = match leaf
            .search(key, &mut StoreTails(&*store))?
        {
            Ok(index) => {
                let previous = OwnedValue::from(leaf.value(index));
                let (removed_bytes, kept_tail) = (leaf.cell_size(index), leaf.key(index).tail());
                leaf.remove(index);
                (Some(previous), index, removed_bytes, kept_tail)
            }
            Err(index) => (None, index, 0, None),
        };
        let mut changes = Changes::default();
        let tail = match (long, kept_tail) {
            (false, _) => None,
            (true, Some(tail)) => Some(tail),
            (true, None) => Some(changes.write_tail(store, &key[key_prefix_bytes(page_size)..])?),
        };
        let stored = stored_key(key, tail, page_size);
        let planned = if leaf.insert_leaf(index, stored, value).is_err() {
            self.split_upwards(store, &descent, leaf, index, key, stored, value, &mut changes)
        } else if removed_bytes > leaf_cell_size(stored, value) {
            // An overwrite with a shorter value may leave the leaf underfull. A leaf that grew
            // needs nothing: one already underfull is the last of its level (see `rebalance`).
            self.rebalance(store, &descent.path, leaf_id, leaf, &mut changes)
        } else {
            changes.write(leaf_id, leaf);
            Ok(())
        };
        changes.finish(self, store, planned)?;
        Ok(previous)
    }

    /// Removes `key`; returns whether it was there. An underfull node merges with a sibling when
    /// both fit in one page, upwards; a root left with one child gives way to it (see
    /// [`Tree::root`]).
    pub fn remove(&mut self, store: &mut impl PageWrite, key: &[u8]) -> Result<bool> {
        Ok(self.remove_value(store, key)?.is_some())
    }

    /// Removes `key` and returns its value (whose overflow chain, if any, the caller frees). A
    /// leaf this transaction already wrote is changed in place unless the removal leaves it
    /// underfull (see the `tree::write` module docs).
    pub fn remove_value(
        &mut self,
        store: &mut impl PageWrite,
        key: &[u8],
    ) -> Result<Option<OwnedValue>> {
        let long = key.len() > key_max_bytes(store.page_size());
        let descent = self.descend(store, key)?;
        let leaf_id = descent.leaf_id;
        let in_place = if long { InPlace::NotHeld } else { remove_in_place(store, &descent, key)? };
        let mut leaf = match in_place {
            InPlace::Done(removed) => return Ok(removed),
            InPlace::Declined(leaf) => leaf,
            InPlace::NotHeld => {
                let leaf = read_node(store, leaf_id)?;
                if leaf.search(key, &mut StoreTails(store))?.is_err() {
                    return Ok(None);
                }
                leaf.to_owned()
            }
        };
        let Ok(index) = leaf.search(key, &mut StoreTails(&*store))? else { return Ok(None) };
        let removed = OwnedValue::from(leaf.value(index));
        let tail = leaf.key(index).tail();
        leaf.remove(index);
        let mut changes = Changes::default();
        // A removed long key's chain goes with it.
        let planned = match tail {
            Some(tail) => changes.free_tail(store, tail),
            None => Ok(()),
        }
        .and_then(|()| self.rebalance(store, &descent.path, leaf_id, leaf, &mut changes));
        changes.finish(self, store, planned)?;
        Ok(Some(removed))
    }

    /// Descends to the leaf that holds (or would hold) `key`, recording the interior levels as
    /// page ids and child indexes. Each node is a view of the store's page with the lookup
    /// checks only ([`Node::load_for_lookup`], then a checked search): nothing is copied, and
    /// the nodes a split or merge changes are checked when it loads them (`load_path`: in full,
    /// unless the transaction holds them). The leaf is only recognised here; the caller takes it.
    pub(super) fn descend(&self, store: &impl PageRead, key: &[u8]) -> Result<Descent> {
        let (mut path, mut rightmost) = (Vec::new(), true);
        let mut page_id = self.root;
        for _ in 0..TREE_HEIGHT_MAX {
            let node = Node::load_for_lookup(store.read_page(page_id)?, page_id)?;
            if node.kind() == NodeKind::Leaf {
                return Ok(Descent { path, leaf_id: page_id, rightmost });
            }
            let child_index = node.child_index_for_checked(key, page_id, &mut StoreTails(store))?;
            rightmost &= child_index == node.len();
            path.push(PathStep { page_id, child_index });
            page_id = node.child(child_index);
        }
        Err(too_deep(page_id))
    }
}

/// Inserts `(key, value)` into the leaf the descent reached, in place, if the store holds it,
/// the cell fits and the leaf needs no rebalancing after (an overwrite with a shorter value
/// leaving a non-root leaf underfull); returns the value replaced.
fn insert_in_place(
    store: &mut impl PageWrite,
    descent: &Descent,
    key: &[u8],
    value: Value<'_>,
) -> Result<InPlace<Option<OwnedValue>>> {
    let leaf_id = descent.leaf_id;
    let Some(page) = store.page_mut(leaf_id)? else { return Ok(InPlace::NotHeld) };
    let mut leaf = held_leaf(page, leaf_id)?;
    let mut tails = DeferredTails::default();
    let found = leaf.search_checked(key, leaf_id, &mut tails)?;
    debug_assert_valid(&leaf);
    // A tail had to be read (the search's answer is void), or the key found is long (never
    // equal to a key this short, but the owned path handles it either way).
    if tails.needed || found.is_ok_and(|index| leaf.key(index).tail().is_some()) {
        return Ok(InPlace::Declined(leaf.to_owned()));
    }
    let removed_bytes = found.map_or(0, |index| leaf.cell_size(index));
    let added_bytes = leaf_cell_size(StoredKey::Inline(key), value);
    // What `insert_leaf` needs after the old cell is removed (its bytes and slot free again).
    let fits = added_bytes <= leaf.free_bytes() + removed_bytes;
    let shrinks_underfull = added_bytes < removed_bytes
        && !descent.path.is_empty()
        && underfull_at(used_bytes(&leaf) - (removed_bytes - added_bytes), leaf.page_size());
    if !fits || shrinks_underfull {
        return Ok(InPlace::Declined(leaf.to_owned()));
    }
    let (previous, index) = match found {
        Ok(index) => {
            let previous = OwnedValue::from(leaf.value(index));
            leaf.remove(index);
            (Some(previous), index)
        }
        Err(index) => (None, index),
    };
    leaf.insert_leaf(index, key, value).expect("the cell was checked to fit");
    debug_assert_valid(&leaf);
    Ok(InPlace::Done(previous))
}

/// Removes `key` from the leaf the descent reached, in place, if the store holds it and the
/// leaf is the root or stays a quarter full; returns the value removed (`None` if the key is
/// not there, nothing changed).
fn remove_in_place(
    store: &mut impl PageWrite,
    descent: &Descent,
    key: &[u8],
) -> Result<InPlace<Option<OwnedValue>>> {
    let leaf_id = descent.leaf_id;
    let Some(page) = store.page_mut(leaf_id)? else { return Ok(InPlace::NotHeld) };
    let mut leaf = held_leaf(page, leaf_id)?;
    let mut tails = DeferredTails::default();
    let found = leaf.search_checked(key, leaf_id, &mut tails)?;
    if tails.needed || found.is_ok_and(|index| leaf.key(index).tail().is_some()) {
        return Ok(InPlace::Declined(leaf.to_owned()));
    }
    let Ok(index) = found else { return Ok(InPlace::Done(None)) };
    debug_assert_valid(&leaf);
    let removed_bytes = leaf.cell_size(index);
    if !descent.path.is_empty() && underfull_at(used_bytes(&leaf) - removed_bytes, leaf.page_size())
    {
        return Ok(InPlace::Declined(leaf.to_owned()));
    }
    let removed = OwnedValue::from(leaf.value(index));
    leaf.remove(index);
    debug_assert_valid(&leaf);
    Ok(InPlace::Done(Some(removed)))
}

/// The held page at `leaf_id` as a leaf to change in place ([`Node::load_held`]: type and
/// header checks). The descent read it as a leaf; a held image of another kind is `Corrupt`.
fn held_leaf(page: &mut PageBuf, leaf_id: PageId) -> Result<Node<&mut Page>> {
    let leaf = Node::load_held(&mut **page, leaf_id)?;
    if leaf.kind() != NodeKind::Leaf {
        let reason = "the transaction's own image of a leaf is not a leaf".to_owned();
        return Err(Error::Corrupt { page_id: leaf_id, reason });
    }
    Ok(leaf)
}

/// Debug builds check a held leaf in full around each in-place change: the store holds only
/// pages this transaction wrote, so a failure is a bug in whatever wrote the page.
fn debug_assert_valid(leaf: &Node<&mut Page>) {
    debug_assert!(
        leaf.check_invariants().is_ok(),
        "a page the transaction holds is a valid node: {:?}",
        leaf.check_invariants()
    );
}

/// The tails of a search of a held leaf, which cannot read the store while the page borrows it:
/// a comparison that needs a tail is noted (`needed`) and answered arbitrarily, so the search's
/// answer is void and the caller takes the owned path, which reads the tail.
#[derive(Default)]
struct DeferredTails {
    needed: bool,
}

impl KeyTails for DeferredTails {
    fn compare_tail(&mut self, _tail: KeyTail, _rest: &[u8]) -> Result<Ordering> {
        self.needed = true;
        Ok(Ordering::Less)
    }
}

/// `key` as a cell of a `page_size` page holds it: inline, or with `tail` (its chain) if long.
pub(super) fn stored_key(
    key: &[u8],
    tail: Option<KeyTail>,
    page_size: redwood_pager::PageSize,
) -> StoredKey<'_> {
    match tail {
        None => StoredKey::Inline(key),
        Some(tail) => StoredKey::Long { prefix: &key[..key_prefix_bytes(page_size)], tail },
    }
}
