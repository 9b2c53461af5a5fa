//! `Tree`: one B+Tree over the pager's capabilities. Lookups descend from the root; inserts split
//! full nodes bottom-up along the descent path, growing a new root when the old one splits;
//! removals rebalance underfull nodes (`rebalance`) and shrink the root.
//!
//! Reads borrow, writes own: a lookup ([`Tree::get_entry`]), the page walk of `destroy` and the
//! integrity walk (`check`) read each node as a view of the store's page (`Node<PageGuard>`,
//! nothing copied), and a lookup's result borrows its leaf ([`Entry`]). A modifying operation
//! copies each node on its descent path once (`descend`), since the store is borrowed mutably
//! when it writes, and changes only those copies.
//!
//! Pages from disk are never trusted to be well formed (their checksums only prove they were
//! written so): every descent is bounded by `limits::TREE_HEIGHT_MAX`, every node is checked
//! before it is read or modified (`node`), and what an operation changes is collected in
//! `Changes` and written only once every check of the operation has passed, so a corrupt page
//! found halfway up is a `Corrupt` error with no page written (pages may have been allocated).
//!
//! Values here are inline (at most `limits::inline_value_max_bytes`) or overflow references,
//! whose chains the caller writes and reads (`redwood-overflow`).

use std::collections::HashSet;
use std::sync::Arc;

use redwood_pager::{PageGuard, PageId, PageRead, PageWrite};

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::limits::{
    OVERFLOW_VALUE_MAX_BYTES, TREE_HEIGHT_MAX, inline_value_max_bytes, key_max_bytes,
};
use crate::node::{Node, NodeKind, OwnedValue, Value, page_type};
use crate::observer::{TreeEvent, TreeObserver};

mod check;
pub use check::TreeStats;

/// A B+Tree, known by its root page. The caller keeps the root (a root slot or the catalog);
/// operations that change it say so. An optional observer hears its structural events.
#[derive(Clone)]
pub struct Tree {
    pub(crate) root: PageId,
    observer: Option<Arc<dyn TreeObserver>>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root)
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

/// One step of a descent: the node, its page and the child index taken from it.
pub(crate) struct Step {
    pub(crate) page_id: PageId,
    /// Lookup-checked only until it has the full checks ([`Node::is_checked`]).
    pub(crate) node: Node,
    pub(crate) child_index: usize,
}

impl Step {
    /// The step's page id, node (fully validated, to modify) and child index.
    pub(crate) fn take(self) -> Result<(PageId, Node, usize)> {
        Ok((self.page_id, self.node.validated_for_write(self.page_id)?, self.child_index))
    }
}

/// Gives every node on `path` the full checks, before a split or merge changes any page: a
/// damaged parent found halfway up fails the operation before anything is computed from it.
pub(crate) fn check_path(path: &mut [Step]) -> Result<()> {
    for step in path.iter_mut().filter(|step| !step.node.is_checked()) {
        step.node.check_for_write(step.page_id)?;
    }
    Ok(())
}

/// What one modifying operation changes, in order: page writes and frees, the structural events
/// to report after them, and the new root. Held back until every check of the operation has
/// passed ([`Changes::apply`]), so a `Corrupt` error found partway leaves every page as it was
/// ([`Changes::abandon`] gives back the pages allocated on the way).
#[derive(Default)]
pub(crate) struct Changes {
    /// Pages allocated for the operation, freed again if it fails.
    allocated: Vec<PageId>,
    pages: Vec<PageChange>,
    events: Vec<TreeEvent>,
    root: Option<PageId>,
}

/// One page change of [`Changes`].
enum PageChange {
    Write(PageId, Node),
    Free(PageId),
}

impl Changes {
    /// A new page for the operation.
    pub(crate) fn allocate(&mut self, store: &mut impl PageWrite) -> Result<PageId> {
        let page_id = store.allocate()?;
        self.allocated.push(page_id);
        Ok(page_id)
    }

    /// Writes `node` to `page_id` (at apply time).
    pub(crate) fn write(&mut self, page_id: PageId, node: Node) {
        self.pages.push(PageChange::Write(page_id, node));
    }

    /// Frees `page_id` (at apply time).
    pub(crate) fn free(&mut self, page_id: PageId) {
        self.pages.push(PageChange::Free(page_id));
    }

    /// Reports `event` once the pages are changed.
    pub(crate) fn event(&mut self, event: TreeEvent) {
        self.events.push(event);
    }

    /// Makes `root` the tree's root once the pages are changed.
    pub(crate) fn set_root(&mut self, root: PageId) {
        self.root = Some(root);
    }

    /// Makes the changes, in order, then tells the observer.
    pub(crate) fn apply(self, tree: &mut Tree, store: &mut impl PageWrite) -> Result<()> {
        for change in self.pages {
            match change {
                PageChange::Write(page_id, node) => write_node(store, page_id, node)?,
                PageChange::Free(page_id) => store.free(page_id)?,
            }
        }
        if let Some(root) = self.root {
            tree.root = root;
        }
        for event in self.events {
            tree.emit(event);
        }
        Ok(())
    }

    /// Applies the changes if `planned` (the operation's checks and plan) succeeded; otherwise
    /// frees the pages allocated for it, which nothing was written to, and returns its error.
    pub(crate) fn finish(
        self,
        tree: &mut Tree,
        store: &mut impl PageWrite,
        planned: Result<()>,
    ) -> Result<()> {
        match planned {
            Ok(()) => self.apply(tree, store),
            Err(error) => {
                self.abandon(store);
                Err(error)
            }
        }
    }

    /// Gives back the pages allocated for a failed operation. A failure to free one is not
    /// reported: the operation's own error is the one that matters, and the page is at worst
    /// left allocated and unreferenced in a transaction the caller should abort anyway.
    fn abandon(self, store: &mut impl PageWrite) {
        for page_id in self.allocated {
            let _ = store.free(page_id);
        }
    }
}

impl Tree {
    /// A new, empty tree: one empty leaf.
    pub fn create(store: &mut impl PageWrite) -> Result<Tree> {
        let root = store.allocate()?;
        write_node(store, root, Node::new_leaf(store.page_size()))?;
        Ok(Tree::open(root))
    }

    /// The tree rooted at `root`.
    pub fn open(root: PageId) -> Tree {
        Tree { root, observer: None }
    }

    /// This tree, reporting its structural events to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn TreeObserver>) -> Tree {
        self.observer = Some(observer);
        self
    }

    pub(crate) fn emit(&self, event: TreeEvent) {
        if let Some(observer) = &self.observer {
            observer.on_event(event);
        }
    }

    /// The root page.
    pub fn root(&self) -> PageId {
        self.root
    }

    /// The inline value stored under `key`, if any (an overflow value is the caller's to read:
    /// see [`Tree::get_value`]). Owned: a copy of [`Tree::get_entry`]'s.
    pub fn get(&self, store: &impl PageRead, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(entry) = self.get_entry(store, key)? else { return Ok(None) };
        match entry.value() {
            Value::Inline(bytes) => Ok(Some(bytes.to_vec())),
            Value::Overflow { first_page, .. } => Err(Error::Corrupt {
                page_id: first_page,
                reason: "an overflow value read as inline".to_owned(),
            }),
        }
    }

    /// The value stored under `key` as the leaf holds it. Owned: a copy of
    /// [`Tree::get_entry`]'s.
    pub fn get_value(&self, store: &impl PageRead, key: &[u8]) -> Result<Option<OwnedValue>> {
        Ok(self.get_entry(store, key)?.map(|entry| entry.value().into()))
    }

    /// The leaf cell stored under `key`, borrowed from its leaf.
    pub fn get_entry<'s, S: PageRead>(
        &self,
        store: &'s S,
        key: &[u8],
    ) -> Result<Option<Entry<'s>>> {
        let (leaf_id, leaf) = self.find_leaf(store, None, key)?;
        let Ok(index) = leaf.search_checked(key, leaf_id)? else { return Ok(None) };
        Ok(Some(Entry::take(leaf, index)))
    }

    /// [`Tree::get_entry`] with the root's page already in hand, `root` (as `store` reads
    /// [`Tree::root`]): a reader that looks up many keys keeps the root pinned once instead of
    /// pinning it on every lookup, so concurrent readers do not all write the root frame's line.
    /// A `root` guard of another page is a programmer error: it panics.
    pub fn get_entry_with_root<'s, S: PageRead>(
        &self,
        store: &'s S,
        root: &PageGuard<'s>,
        key: &[u8],
    ) -> Result<Option<Entry<'s>>> {
        assert_eq!(root.page_id(), self.root, "the root guard is the tree's root page");
        let (leaf_id, leaf) = self.find_leaf(store, Some(root), key)?;
        let Ok(index) = leaf.search_checked(key, leaf_id)? else { return Ok(None) };
        Ok(Some(Entry::take(leaf, index)))
    }

    /// The leaf that holds (or would hold) `key`, for one lookup: each level is a view of the
    /// store's page (nothing is copied), let go of before the next is read, and each node is
    /// checked only where the lookup reads it ([`Node::load_for_lookup`],
    /// [`Node::search_checked`]).
    /// With `root`, the root's level reads that page in place (no pin of its own).
    fn find_leaf<'s>(
        &self,
        store: &'s impl PageRead,
        root: Option<&PageGuard<'s>>,
        key: &[u8],
    ) -> Result<(PageId, Node<PageGuard<'s>>)> {
        let mut page_id = self.root;
        let mut levels = TREE_HEIGHT_MAX;
        if let Some(root) = root {
            let node = Node::load_for_lookup(&**root, page_id)?;
            if node.kind() == NodeKind::Leaf {
                return Ok((page_id, Node::load_for_lookup(root.clone(), page_id)?));
            }
            let child_index = match node.search_checked(key, page_id)? {
                Ok(index) => index + 1,
                Err(index) => index,
            };
            page_id = node.child(child_index);
            levels -= 1;
        }
        for _ in 0..levels {
            let node = Node::load_for_lookup(store.read_page(page_id)?, page_id)?;
            if node.kind() == NodeKind::Leaf {
                return Ok((page_id, node));
            }
            let child_index = match node.search_checked(key, page_id)? {
                Ok(index) => index + 1,
                Err(index) => index,
            };
            page_id = node.child(child_index);
        }
        Err(too_deep(page_id))
    }

    /// Stores inline `value` under `key`; returns whether a value was replaced.
    pub fn insert(&mut self, store: &mut impl PageWrite, key: &[u8], value: &[u8]) -> Result<bool> {
        Ok(self.insert_value(store, key, Value::Inline(value))?.is_some())
    }

    /// Stores `value` (inline bytes or an overflow reference) under `key`, and returns the value
    /// it replaced (whose overflow chain, if any, the caller frees). May split nodes and grow a
    /// new root (see [`Tree::root`]).
    pub fn insert_value(
        &mut self,
        store: &mut impl PageWrite,
        key: &[u8],
        value: Value<'_>,
    ) -> Result<Option<OwnedValue>> {
        check_sizes(store.page_size(), key, value)?;
        let mut path = Vec::new();
        let (leaf_id, mut leaf) = self.descend(store, key, &mut path)?;
        // The leaf's keys ascend strictly (it had the full checks), so the new cell goes where
        // the old one was, or where the search says.
        let (previous, index) = match leaf.search(key) {
            Ok(index) => {
                let previous = OwnedValue::from(leaf.value(index));
                leaf.remove(index);
                (Some(previous), index)
            }
            Err(index) => (None, index),
        };
        let mut changes = Changes::default();
        let planned = if leaf.insert_leaf(index, key, value).is_ok() {
            // An overwrite with a shorter value may leave the leaf underfull.
            self.rebalance(store, path, leaf_id, leaf, &mut changes)
        } else {
            self.split_upwards(store, path, leaf_id, leaf, key, value, &mut changes)
        };
        changes.finish(self, store, planned)?;
        Ok(previous)
    }

    /// Plans the split of the full `leaf` (at `leaf_id`, reached through `path`) to take the
    /// new cell, and the separators' insertion upwards.
    #[expect(clippy::too_many_arguments, reason = "the state of one insert, passed down once")]
    fn split_upwards(
        &mut self,
        store: &mut impl PageWrite,
        mut path: Vec<Step>,
        leaf_id: PageId,
        leaf: Node,
        key: &[u8],
        value: Value<'_>,
        changes: &mut Changes,
    ) -> Result<()> {
        check_path(&mut path)?;
        let (separator, right_id) = split_leaf(store, leaf_id, leaf, key, value, changes)?;
        changes.event(TreeEvent::Split {
            kind: NodeKind::Leaf,
            page_id: leaf_id,
            new_page_id: right_id,
        });
        self.insert_separator(store, path, separator, right_id, changes)
    }

    /// Removes `key`; returns whether it was there. An underfull node merges with a sibling when
    /// both fit in one page, upwards; a root left with one child gives way to it (see
    /// [`Tree::root`]).
    pub fn remove(&mut self, store: &mut impl PageWrite, key: &[u8]) -> Result<bool> {
        Ok(self.remove_value(store, key)?.is_some())
    }

    /// Removes `key` and returns its value (whose overflow chain, if any, the caller frees).
    pub fn remove_value(
        &mut self,
        store: &mut impl PageWrite,
        key: &[u8],
    ) -> Result<Option<OwnedValue>> {
        let mut path = Vec::new();
        let (leaf_id, mut leaf) = self.descend(store, key, &mut path)?;
        let Ok(index) = leaf.search(key) else { return Ok(None) };
        let removed = OwnedValue::from(leaf.value(index));
        leaf.remove(index);
        let mut changes = Changes::default();
        let planned = self.rebalance(store, path, leaf_id, leaf, &mut changes);
        changes.finish(self, store, planned)?;
        Ok(Some(removed))
    }

    /// Frees every page of the tree (for deleting a table); the tree must not be used after.
    /// Every page is found (and checked) before the first is freed, so a corrupt tree frees
    /// nothing.
    pub fn destroy(self, store: &mut impl PageWrite) -> Result<()> {
        for page_id in self.pages(store)? {
            store.free(page_id)?;
        }
        Ok(())
    }

    /// Every page of the tree, each once, depth first. A page reached twice (a cycle, or a child
    /// shared by two parents) or deeper than `TREE_HEIGHT_MAX` is `Corrupt`: each page is then
    /// read once, so the walk ends after at most as many reads as the store has pages.
    fn pages(&self, store: &impl PageRead) -> Result<Vec<PageId>> {
        let (mut pages, mut seen) = (Vec::new(), HashSet::new());
        let mut pending = vec![(self.root, 1)];
        while let Some((page_id, depth)) = pending.pop() {
            if depth > TREE_HEIGHT_MAX {
                return Err(too_deep(page_id));
            }
            if !seen.insert(page_id) {
                return Err(reached_twice(page_id));
            }
            let node = read_node(store, page_id)?;
            if node.kind() == NodeKind::Interior {
                pending.extend((0..=node.len()).map(|index| (node.child(index), depth + 1)));
            }
            pages.push(page_id);
        }
        Ok(pages)
    }

    /// Descends to the leaf that holds (or would hold) `key`, recording the interior steps.
    /// The write path: each node is copied out of the store once (the store is borrowed
    /// mutably once the operation writes), the leaf fully validated, ready to modify; the
    /// interior nodes get the lookup checks only ([`Node::load_for_lookup`]), and
    /// [`check_path`] / [`Step::take`] complete them before a split or merge modifies any.
    fn descend(
        &self,
        store: &impl PageRead,
        key: &[u8],
        path: &mut Vec<Step>,
    ) -> Result<(PageId, Node)> {
        let mut page_id = self.root;
        for _ in 0..TREE_HEIGHT_MAX {
            // Header checks only: the leaf then gets the full checks once, and an interior node
            // is read only at the cells its checked search probes (until `check_path`).
            let node = Node::load_for_lookup(store.read_page(page_id)?, page_id)?;
            if node.kind() == NodeKind::Leaf {
                return Ok((page_id, node.validated_for_write(page_id)?.to_owned()));
            }
            let child_index = match node.search_checked(key, page_id)? {
                Ok(index) => index + 1,
                Err(index) => index,
            };
            let child = node.child(child_index);
            path.push(Step { page_id, node: node.to_owned(), child_index });
            page_id = child;
        }
        Err(too_deep(page_id))
    }

    /// Inserts `(separator, right)` into the parents along `path` (each step's child index is
    /// where the separator goes), splitting upwards, and grows a new root if the root split.
    /// The changes go into `changes`.
    pub(crate) fn insert_separator(
        &mut self,
        store: &mut impl PageWrite,
        mut path: Vec<Step>,
        mut separator: Vec<u8>,
        mut right: PageId,
        changes: &mut Changes,
    ) -> Result<()> {
        while let Some(step) = path.pop() {
            let (page_id, mut node, child_index) = step.take()?;
            // The separator came from the child at `child_index`, so in a sound tree it sorts
            // strictly between the keys around that child. A child whose keys stray outside its
            // parent's bounds (or a duplicate) would otherwise make the parent unordered.
            if node.search(&separator) != Err(child_index) {
                let reason = format!(
                    "the separator of child {child_index}'s split does not sort at its place"
                );
                return Err(Error::Corrupt { page_id, reason });
            }
            if node.insert_interior(child_index, &separator, right).is_ok() {
                changes.write(page_id, node);
                return Ok(());
            }
            let (up, new_right) = node.split(page_id)?;
            let (node, new_right) =
                insert_after_split(page_id, node, new_right, &up, &separator, right)?;
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
        let mut root = Node::new_interior(store.page_size(), self.root);
        // One key within the limit always fits an empty node; checked anyway.
        root.insert_interior(0, &separator, right).map_err(|_| Error::Corrupt {
            page_id: self.root,
            reason: "a new root has no room for one separator".to_owned(),
        })?;
        let root_id = changes.allocate(store)?;
        changes.write(root_id, root);
        changes.event(TreeEvent::RootGrow { old_root: self.root, new_root: root_id });
        changes.set_root(root_id);
        Ok(())
    }

    /// A streaming scan of the entries in `range`, in key order (and backwards with `.rev()` or
    /// `next_back`), with memory bounded by the tree's height.
    pub fn range<'s, 'k, S: PageRead>(
        &self,
        store: &'s S,
        range: impl std::ops::RangeBounds<&'k [u8]>,
    ) -> crate::Range<'s, S> {
        let owned = |bound: std::ops::Bound<&&[u8]>| bound.map(|key| key.to_vec());
        crate::Range::new(store, self.root, owned(range.start_bound()), owned(range.end_bound()))
    }
}

/// `Corrupt` for a descent past `TREE_HEIGHT_MAX` levels, at `page_id`: a cycle of child
/// pointers.
pub(crate) fn too_deep(page_id: PageId) -> Error {
    Error::Corrupt { page_id, reason: format!("deeper than {TREE_HEIGHT_MAX} levels") }
}

/// `Corrupt` for a page a walk of the tree reaches a second time.
pub(crate) fn reached_twice(page_id: PageId) -> Error {
    Error::Corrupt {
        page_id,
        reason: "reached twice in one tree (a cycle, or a child of two parents)".to_owned(),
    }
}

/// Puts `(separator, right)` into whichever half of a split interior node it belongs to (`up`
/// moved up between them), and returns the halves. `separator` differs from `up` (the caller
/// checked it sorts between the node's keys), and an even half has room for one more key
/// within the limit; both are checked anyway, as `Corrupt` naming `page_id`.
fn insert_after_split(
    page_id: PageId,
    mut node: Node,
    mut new_right: Node,
    up: &[u8],
    separator: &[u8],
    right: PageId,
) -> Result<(Node, Node)> {
    let corrupt = |reason: &str| Error::Corrupt { page_id, reason: reason.to_owned() };
    let target = if separator > up { &mut new_right } else { &mut node };
    let Err(at) = target.search(separator) else {
        return Err(corrupt("a separator is already in its parent"));
    };
    if target.insert_interior(at, separator, right).is_err() {
        return Err(corrupt("a split interior node has no room for one separator"));
    }
    Ok((node, new_right))
}

/// Splits a full leaf, puts the new cell into the half it belongs to, links the new right leaf
/// into the sibling chain, and records both writes; returns the separator and the right leaf's
/// page. Within the size limits an even half of a full leaf always has room for one more cell
/// and the key is in neither half (it was removed or absent, and the keys ascend strictly);
/// both are checked anyway, before anything is allocated.
fn split_leaf(
    store: &mut impl PageWrite,
    leaf_id: PageId,
    mut leaf: Node,
    key: &[u8],
    value: Value<'_>,
    changes: &mut Changes,
) -> Result<(Vec<u8>, PageId)> {
    let corrupt = |reason: &str| Error::Corrupt { page_id: leaf_id, reason: reason.to_owned() };
    let (separator, mut right) = leaf.split(leaf_id)?;
    let target = if key >= separator.as_slice() { &mut right } else { &mut leaf };
    let Err(index) = target.search(key) else {
        return Err(corrupt("the key is in the leaf twice"));
    };
    if target.insert_leaf(index, key, value).is_err() {
        return Err(corrupt("a split leaf has no room for one cell"));
    }
    let right_id = changes.allocate(store)?;
    right.set_right_sibling(leaf.right_sibling());
    leaf.set_right_sibling(Some(right_id));
    // A split leaves the right half a cell (a leaf splits with two or more).
    let separator = right.key(0).to_vec();
    changes.write(leaf_id, leaf);
    changes.write(right_id, right);
    Ok((separator, right_id))
}

fn check_sizes(page_size: redwood_pager::PageSize, key: &[u8], value: Value<'_>) -> Result<()> {
    let max_bytes = key_max_bytes(page_size);
    if key.len() > max_bytes {
        return Err(Error::KeyTooLarge { bytes: key.len(), max_bytes });
    }
    // Longer values go to overflow chains, which the caller writes (`redwood-overflow`).
    let max_bytes = inline_value_max_bytes(page_size);
    match value {
        Value::Inline(bytes) if bytes.len() > max_bytes => {
            Err(Error::ValueTooLarge { bytes: bytes.len(), max_bytes })
        }
        // A leaf holding such a reference would read back as corrupt.
        Value::Overflow { length, .. } if !(1..=OVERFLOW_VALUE_MAX_BYTES).contains(&length) => {
            Err(Error::InvalidOverflowRef { length, max_bytes: OVERFLOW_VALUE_MAX_BYTES })
        }
        _ => Ok(()),
    }
}

/// The node at `page_id` with the full checks ([`Node::load`]), as a view of the store's page:
/// `.to_owned()` it to modify it.
pub(crate) fn read_node<'s>(
    store: &'s impl PageRead,
    page_id: PageId,
) -> Result<Node<PageGuard<'s>>> {
    Node::load(store.read_page(page_id)?, page_id)
}

pub(crate) fn write_node(store: &mut impl PageWrite, page_id: PageId, node: Node) -> Result<()> {
    debug_assert!(node.check_invariants().is_ok(), "a node is valid before it is written");
    let kind = node.kind();
    let mut page = node.into_page();
    page.header_mut().page_type = page_type(kind).get();
    Ok(store.write_page(page_id, page)?)
}
