//! `Tree`: one B+Tree over the pager's capabilities. Lookups descend from the root; inserts split
//! full nodes bottom-up along the descent path, growing a new root when the old one splits;
//! removals rebalance underfull nodes (`rebalance`) and shrink the root.
//!
//! Values here are inline (at most `limits::inline_value_max_bytes`); longer ones will go to
//! overflow chains (`redwood-overflow`).

use std::sync::Arc;

use redwood_pager::{PageBuf, PageClaims, PageId, PageRead, PageWrite};

use crate::error::{Error, Result};
use crate::limits::{inline_value_max_bytes, key_max_bytes};
use crate::node::{Node, NodeKind, OwnedValue, Value, page_type};
use crate::observer::{TreeEvent, TreeObserver};

/// The most levels a tree may have; a corrupt cycle of child pointers stops here.
const HEIGHT_MAX: usize = 64;

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
    /// Read-checked only until `checked`.
    pub(crate) node: Node,
    pub(crate) child_index: usize,
    /// The node has had the full checks ([`Node::load`]'s).
    pub(crate) checked: bool,
}

impl Step {
    /// The step's page id, node (fully validated, to modify) and child index.
    pub(crate) fn take(self) -> Result<(PageId, Node, usize)> {
        let node =
            if self.checked { self.node } else { self.node.validated_for_write(self.page_id)? };
        Ok((self.page_id, node, self.child_index))
    }
}

/// Gives every node on `path` the full checks, before a split or merge changes any page: a
/// damaged parent found halfway up would otherwise fail the operation after it had already
/// written pages below.
pub(crate) fn check_path(path: &mut [Step]) -> Result<()> {
    for step in path.iter_mut().filter(|step| !step.checked) {
        step.node.check_for_write(step.page_id)?;
        step.checked = true;
    }
    Ok(())
}

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
    /// see [`Tree::get_value`]).
    pub fn get(&self, store: &impl PageRead, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.get_value(store, key)? {
            None => Ok(None),
            Some(OwnedValue::Inline(bytes)) => Ok(Some(bytes)),
            Some(OwnedValue::Overflow { first_page, .. }) => Err(Error::Corrupt {
                page_id: first_page,
                reason: "an overflow value read as inline".to_owned(),
            }),
        }
    }

    /// The value stored under `key` as the leaf holds it.
    pub fn get_value(&self, store: &impl PageRead, key: &[u8]) -> Result<Option<OwnedValue>> {
        let (leaf_id, leaf) = self.find_leaf(store, key)?;
        let Ok(index) = leaf.search_checked(key, leaf_id)? else { return Ok(None) };
        Ok(Some(leaf.value(index).into()))
    }

    /// The leaf that holds (or would hold) `key`, for one lookup: one page buffer serves every
    /// level, and each node is checked only where the lookup reads it
    /// ([`Node::load_for_lookup`], [`Node::search_checked`]).
    fn find_leaf(&self, store: &impl PageRead, key: &[u8]) -> Result<(PageId, Node)> {
        let mut page = PageBuf::for_overwrite(store.page_size());
        let mut page_id = self.root;
        for _ in 0..HEIGHT_MAX {
            store.read_page(page_id, &mut page)?;
            let node = Node::load_for_lookup(page, page_id)?;
            if node.kind() == NodeKind::Leaf {
                return Ok((page_id, node));
            }
            let child_index = match node.search_checked(key, page_id)? {
                Ok(index) => index + 1,
                Err(index) => index,
            };
            let child = node.child(child_index);
            page = node.into_page();
            page_id = child;
        }
        Err(Error::Corrupt {
            page_id: self.root,
            reason: format!("deeper than {HEIGHT_MAX} levels"),
        })
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
        let previous = match leaf.search(key) {
            Ok(index) => {
                let previous = OwnedValue::from(leaf.value(index));
                leaf.remove(index);
                Some(previous)
            }
            Err(_) => None,
        };
        let index = leaf.search(key).expect_err("the key was just removed or absent");
        if leaf.insert_leaf(index, key, value).is_ok() {
            // An overwrite with a shorter value may leave the leaf underfull.
            self.rebalance(store, path, leaf_id, leaf)?;
            return Ok(previous);
        }
        check_path(&mut path)?;
        let (separator, right_id) = split_leaf(store, leaf_id, leaf, key, value)?;
        self.emit(TreeEvent::Split {
            kind: NodeKind::Leaf,
            page_id: leaf_id,
            new_page_id: right_id,
        });
        self.insert_separator(store, path, separator, right_id)?;
        Ok(previous)
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
        self.rebalance(store, path, leaf_id, leaf)?;
        Ok(Some(removed))
    }

    /// Frees every page of the tree (for deleting a table); the tree must not be used after.
    pub fn destroy(self, store: &mut impl PageWrite) -> Result<()> {
        let mut pending = vec![(self.root, 1)];
        while let Some((page_id, depth)) = pending.pop() {
            if depth > HEIGHT_MAX {
                return Err(Error::Corrupt {
                    page_id,
                    reason: format!("deeper than {HEIGHT_MAX} levels"),
                });
            }
            let node = read_node(store, page_id)?;
            if node.kind() == NodeKind::Interior {
                pending.extend((0..=node.len()).map(|index| (node.child(index), depth + 1)));
            }
            store.free(page_id)?;
        }
        Ok(())
    }

    /// Descends to the leaf that holds (or would hold) `key`, recording the interior steps.
    /// The leaf is fully validated, ready to modify; the interior nodes get the lookup checks
    /// only ([`Node::load_for_lookup`]), and [`check_path`] / [`Step::take`] complete them before
    /// a split or merge modifies any.
    fn descend(
        &self,
        store: &impl PageRead,
        key: &[u8],
        path: &mut Vec<Step>,
    ) -> Result<(PageId, Node)> {
        let mut page_id = self.root;
        for _ in 0..HEIGHT_MAX {
            let mut page = PageBuf::for_overwrite(store.page_size());
            store.read_page(page_id, &mut page)?;
            // Header checks only: the leaf then gets the full checks once, and an interior node
            // is read only at the cells its checked search probes (until `check_path`).
            let node = Node::load_for_lookup(page, page_id)?;
            if node.kind() == NodeKind::Leaf {
                return Ok((page_id, node.validated_for_write(page_id)?));
            }
            let child_index = match node.search_checked(key, page_id)? {
                Ok(index) => index + 1,
                Err(index) => index,
            };
            let child = node.child(child_index);
            path.push(Step { page_id, node, child_index, checked: false });
            page_id = child;
        }
        Err(Error::Corrupt {
            page_id: self.root,
            reason: format!("deeper than {HEIGHT_MAX} levels"),
        })
    }

    /// Inserts `(separator, right)` into the parents along `path`, splitting upwards, and grows
    /// a new root if the root split.
    pub(crate) fn insert_separator(
        &mut self,
        store: &mut impl PageWrite,
        mut path: Vec<Step>,
        mut separator: Vec<u8>,
        mut right: PageId,
    ) -> Result<()> {
        while let Some(step) = path.pop() {
            let (page_id, mut node, child_index) = step.take()?;
            if node.insert_interior(child_index, &separator, right).is_ok() {
                return write_node(store, page_id, node);
            }
            let (up, mut new_right) = node.split();
            let target = if separator >= up { &mut new_right } else { &mut node };
            let at = target.search(&separator).expect_err("separators are unique");
            target.insert_interior(at, &separator, right).expect("a split interior node has room");
            let right_id = store.allocate()?;
            write_node(store, page_id, node)?;
            write_node(store, right_id, new_right)?;
            self.emit(TreeEvent::Split {
                kind: NodeKind::Interior,
                page_id,
                new_page_id: right_id,
            });
            (separator, right) = (up, right_id);
        }
        let mut root = Node::new_interior(store.page_size(), self.root);
        root.insert_interior(0, &separator, right).expect("a new root has room");
        let root_id = store.allocate()?;
        write_node(store, root_id, root)?;
        self.emit(TreeEvent::RootGrow { old_root: self.root, new_root: root_id });
        self.root = root_id;
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

    /// Checks the whole tree and claims its pages: key order within and across nodes,
    /// separators bounding their subtrees, every leaf at the same depth, the right-sibling chain
    /// visiting the leaves in key order. `Corrupt` names the first page at fault.
    pub fn check_invariants(
        &self,
        store: &impl PageRead,
        claims: &mut PageClaims,
    ) -> Result<TreeStats> {
        let mut stats = TreeStats::default();
        let mut leaves = Vec::new();
        self.check_subtree(store, self.root, (None, None), 1, &mut stats, &mut leaves, claims)?;
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

    #[expect(
        clippy::too_many_arguments,
        reason = "a recursive walk carries its bounds and accumulators"
    )]
    fn check_subtree(
        &self,
        store: &impl PageRead,
        page_id: PageId,
        bounds: (Option<&[u8]>, Option<&[u8]>),
        depth: usize,
        stats: &mut TreeStats,
        leaves: &mut Vec<(PageId, Option<PageId>)>,
        claims: &mut PageClaims,
    ) -> Result<()> {
        let corrupt = |reason: String| Error::Corrupt { page_id, reason };
        if depth > HEIGHT_MAX {
            return Err(corrupt(format!("deeper than {HEIGHT_MAX} levels")));
        }
        let node = read_node(store, page_id)?;
        node.check_invariants().map_err(corrupt)?;
        claims.claim(page_id, "btree node");
        if depth > 1 && crate::rebalance::underfull(&node) {
            stats.underfull_nodes += 1;
        }
        let (low, high) = bounds;
        let within =
            |key: &[u8]| low.is_none_or(|low| key >= low) && high.is_none_or(|high| key < high);
        if let Some(index) = (0..node.len()).find(|&index| !within(node.key(index))) {
            return Err(corrupt(format!("key {index} lies outside its parent's separators")));
        }
        if node.kind() == NodeKind::Leaf {
            if stats.height != 0 && stats.height != depth {
                return Err(corrupt(format!(
                    "a leaf at depth {depth}, others at {}",
                    stats.height
                )));
            }
            stats.height = depth;
            stats.leaves += 1;
            stats.entries += node.len() as u64;
            for index in 0..node.len() {
                if let Value::Overflow { first_page, length } = node.value(index) {
                    stats.overflow_values.push((first_page, length));
                }
            }
            leaves.push((page_id, node.right_sibling()));
            return Ok(());
        }
        stats.interiors += 1;
        for child_index in 0..=node.len() {
            let child_low = if child_index == 0 { low } else { Some(node.key(child_index - 1)) };
            let child_high =
                if child_index == node.len() { high } else { Some(node.key(child_index)) };
            let child = node.child(child_index);
            self.check_subtree(
                store,
                child,
                (child_low, child_high),
                depth + 1,
                stats,
                leaves,
                claims,
            )?;
        }
        Ok(())
    }
}

/// Splits a full leaf, links the new right leaf into the sibling chain, puts the new cell into
/// the half it belongs to, and writes both; returns the separator and the right leaf's page.
fn split_leaf(
    store: &mut impl PageWrite,
    leaf_id: PageId,
    mut leaf: Node,
    key: &[u8],
    value: Value<'_>,
) -> Result<(Vec<u8>, PageId)> {
    let (separator, mut right) = leaf.split();
    let right_id = store.allocate()?;
    right.set_right_sibling(leaf.right_sibling());
    leaf.set_right_sibling(Some(right_id));
    let target = if key >= separator.as_slice() { &mut right } else { &mut leaf };
    let index = target.search(key).expect_err("the key is not in the tree");
    target.insert_leaf(index, key, value).expect("a split leaf has room for one cell");
    let separator = right.key(0).to_vec();
    write_node(store, leaf_id, leaf)?;
    write_node(store, right_id, right)?;
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
        _ => Ok(()),
    }
}

pub(crate) fn read_node(store: &impl PageRead, page_id: PageId) -> Result<Node> {
    let mut page = PageBuf::for_overwrite(store.page_size());
    store.read_page(page_id, &mut page)?;
    Node::load(page, page_id)
}

pub(crate) fn write_node(store: &mut impl PageWrite, page_id: PageId, node: Node) -> Result<()> {
    debug_assert!(node.check_invariants().is_ok(), "a node is valid before it is written");
    let kind = node.kind();
    let mut page = node.into_page();
    page.header_mut().page_type = page_type(kind).get();
    Ok(store.write_page(page_id, page)?)
}
