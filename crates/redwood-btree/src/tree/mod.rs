//! `Tree`: one B+Tree over the pager's capabilities. Lookups descend from the root; inserts split
//! full nodes bottom-up along the descent path, growing a new root when the old one splits
//! (`split`); removals rebalance underfull nodes (`rebalance`) and shrink the root.
//!
//! Reads borrow: a lookup ([`Tree::get_entry`]), the page walk of `destroy` and the integrity
//! walk (`check`) read each node as a view of the store's page (`Node<PageGuard>`, nothing
//! copied), and a lookup's result borrows its leaf ([`Entry`]).
//!
//! Writes (`write`) copy only what they must. The descent of an insert or a removal reads each
//! interior node as a view and records only page ids and child indexes. A change to a leaf the
//! write transaction already holds (`PageWrite::page_mut`: a page it wrote) that fits, and
//! leaves nothing to rebalance, is made in that page in place: no copy, no full check, no
//! `write_page`; in a bulk load that is every insert but the first into each leaf and the
//! splits. Otherwise the leaf becomes an owned copy (`Node<PageBuf>`), and the interior nodes
//! a split or merge changes are loaded then, as owned copies, with the full checks unless the
//! transaction holds them (`changes::load_path`).
//!
//! Pages from disk are never trusted to be well formed (their checksums only prove they were
//! written so): every descent is bounded by `limits::TREE_HEIGHT_MAX`, every node is checked
//! before it is read or modified (`node`; a held page is one this transaction wrote from a
//! checked node, see `Node::load_held`), and what an owned-path operation changes is collected
//! in `Changes` and written only once every check of the operation has passed, so a corrupt
//! page found halfway up is a `Corrupt` error with no page written (pages may have been
//! allocated). An in-place change is the whole operation, made after its checks.
//!
//! Values here are inline (at most `limits::inline_value_max_bytes`) or overflow references,
//! whose chains the caller writes and reads (`redwood-overflow`). Long keys' chains are the
//! tree's own (see `keys`): written, freed and claimed here.

use std::collections::HashSet;
use std::sync::Arc;

use redwood_pager::{PageGuard, PageId, PageRead, PageWrite};

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::keys::{StoreTails, tail_pages};
use crate::limits::{
    KEY_MAX_BYTES_TOTAL, OVERFLOW_VALUE_MAX_BYTES, TREE_HEIGHT_MAX, inline_value_max_bytes,
};
use crate::node::{Node, NodeKind, OwnedValue, Value, page_type};
use crate::observer::{TreeEvent, TreeObserver};

mod build;
mod changes;
mod check;
mod split;
mod write;
pub use build::TreeBuilder;
pub(crate) use changes::{Changes, Descent, PathStep, Step, load_path};
pub use check::TreeStats;
pub(crate) use split::Separator;

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
        let Ok(index) = leaf.search_checked(key, leaf_id, &mut StoreTails(store))? else {
            return Ok(None);
        };
        Ok(Some(Entry::take(leaf, index, key)))
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
        let Ok(index) = leaf.search_checked(key, leaf_id, &mut StoreTails(store))? else {
            return Ok(None);
        };
        Ok(Some(Entry::take(leaf, index, key)))
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
            page_id =
                node.child(node.child_index_for_checked(key, page_id, &mut StoreTails(store))?);
            levels -= 1;
        }
        for _ in 0..levels {
            let node = Node::load_for_lookup(store.read_page(page_id)?, page_id)?;
            if node.kind() == NodeKind::Leaf {
                return Ok((page_id, node));
            }
            page_id =
                node.child(node.child_index_for_checked(key, page_id, &mut StoreTails(store))?);
        }
        Err(too_deep(page_id))
    }

    /// Frees every page of the tree (for deleting a table), its long keys' chains included; the
    /// tree must not be used after. Every page is found (and checked) before the first is
    /// freed, so a corrupt tree frees nothing. Overflow values' chains are the caller's.
    pub fn destroy(self, store: &mut impl PageWrite) -> Result<()> {
        for page_id in self.pages(store)? {
            store.free(page_id)?;
        }
        Ok(())
    }

    /// Every page of the tree, each once, depth first, with the chains of its long keys (leaf
    /// keys and separators). A page reached twice (a cycle, a child shared by two parents, a
    /// chain shared by two keys or running into a node) or deeper than `TREE_HEIGHT_MAX` is
    /// `Corrupt`: each page is then read once, so the walk ends after at most as many reads as
    /// the store has pages.
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
            for tail in (0..node.len()).filter_map(|index| node.key(index).tail()) {
                for chain_page in tail_pages(store, tail)? {
                    if !seen.insert(chain_page) {
                        return Err(reached_twice(chain_page));
                    }
                    pages.push(chain_page);
                }
            }
        }
        Ok(pages)
    }

    /// A streaming scan of the entries with keys in `range`, in key order from either end
    /// (`next` and `next_back`), with memory bounded by the tree's height.
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

fn check_sizes(page_size: redwood_pager::PageSize, key: &[u8], value: Value<'_>) -> Result<()> {
    // Keys past the inline limit are long keys (their tails go to chains the tree writes).
    let max_bytes = KEY_MAX_BYTES_TOTAL;
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
