//! Streaming range scans: `Range` walks the leaves between two bounds, from either end, holding
//! only one leaf and one descent path per end (bounded memory). Forward steps follow the
//! right-sibling link of the leaf already in hand, so each leaf is read once (P1); backward steps
//! climb the kept descent path, since leaves have no left links.
//!
//! Nothing is copied: every node an end holds is a view of the store's page (`Node<PageGuard>`,
//! pinned while held), and each entry handed out borrows its leaf's page through a handle the
//! leaf's entries share (`entry::LeafPage`), so an entry outlives the end's move to the next leaf
//! and costs one reference count, not a copy. The ends' last entries are kept (not their keys
//! copied) to stop the ends crossing.
//!
//! Prefetch (R5): on reaching a leaf, each end hints the store about the leaf it will need
//! next (the right sibling forwards; backwards, the left neighbour under the same parent), so a
//! store with a cache reads it in the background. An end whose bound falls inside its leaf
//! hints nothing: the scan stops there.
//!
//! Bounds (pages from disk may be malformed though their checksums pass): a descent goes at
//! most `TREE_HEIGHT_MAX` levels, counting the path it extends, so a cycle of child pointers is
//! `Corrupt`. An empty leaf is legal only as the root of an empty tree, and the root leaf links
//! to nothing, so an empty leaf below the root, an empty leaf with a right sibling and a root
//! leaf with one are `Corrupt`. Each forward step checks that the next leaf's first key is
//! above the last key of the leaf it leaves and at most its own last key; each backward step
//! that the new leaf's last key is below the first key of the leaf it leaves and at least its
//! own first key. So the last keys of the leaves a forward walk reaches strictly increase (and
//! the first keys of a backward walk's strictly decrease): no leaf is reached twice, and every
//! walk ends within as many steps as there are leaves, at the cost of two key comparisons per
//! leaf and no allocation.
//!
//! Long keys: descents and seeks compare by prefix and read a tail only where the prefix ties
//! (`keys::StoreTails`); an entry of a long key is handed out assembled (its tail read once);
//! the leaf-step checks read a tail only when the two keys they compare tie on what their cells
//! hold (so the bound on the walk stands); a hint judged by a prefix that leaves the bound open
//! is given.

use std::cmp::Ordering;
use std::ops::Bound;

use redwood_pager::{PageGuard, PageId, PageRead};

use crate::entry::{Entry, LeafPage};
use crate::error::{Error, Result};
use crate::keys::{StoreTails, compare_stored};
use crate::limits::TREE_HEIGHT_MAX;
use crate::node::{Node, NodeKind, StoredKey};
use crate::tree::too_deep;

/// An interior node on an end's path: a view of the store's page.
type Interior<'s> = Node<PageGuard<'s>>;
/// An end's leaf: a view of the store's page, shared with the entries handed out from it.
type Leaf<'s> = Node<LeafPage<'s>>;

/// One end of a scan: the interior nodes above its leaf (with the child index taken), the leaf
/// and its page, and the cell index it stands on. Every node is a view of the store's page
/// (nothing is copied); the end keeps its path's pages and its leaf's pinned.
struct End<'s> {
    path: Vec<(Interior<'s>, usize)>,
    leaf_id: PageId,
    leaf: Leaf<'s>,
    index: usize,
}

/// A range scan over a tree; an iterator of [`Entry`]s in key order, and backwards. Each entry
/// borrows its leaf's page (the entries of one leaf share one pin on it; no key or value is
/// copied) and stays valid after the scan moves on. Values come as the leaf holds them (an
/// overflow value as its chain reference).
pub struct Range<'s, S: PageRead> {
    store: &'s S,
    root: PageId,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    front: Option<End<'s>>,
    back: Option<End<'s>>,
    /// The last entries handed out from each end (their keys are compared, not copied), so the
    /// ends never cross.
    front_last: Option<Entry<'s>>,
    back_last: Option<Entry<'s>>,
    finished: bool,
}

impl<'s, S: PageRead> Range<'s, S> {
    /// A scan of the tree at `root` over `lower..upper`.
    pub fn new(store: &'s S, root: PageId, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> Self {
        let finished = match (&lower, &upper) {
            (
                Bound::Included(low) | Bound::Excluded(low),
                Bound::Included(high) | Bound::Excluded(high),
            ) => {
                low > high
                    || (low == high
                        && !(matches!(lower, Bound::Included(_))
                            && matches!(upper, Bound::Included(_))))
            }
            _ => false,
        };
        Self {
            store,
            root,
            lower,
            upper,
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            finished,
        }
    }

    /// The node at `page_id` as a view of the store's page: a leaf with the read checks (every
    /// cell, since entries are handed out from any of them), an interior node with the header
    /// checks only (it is read at the cells its checked search probes and at the children
    /// `child_checked` checks: a scan of ten entries need not check a hundred separators).
    fn read(&self, page_id: PageId) -> Result<Node<PageGuard<'s>>> {
        let node = Node::load_for_lookup(self.store.read_page(page_id)?, page_id)?;
        match node.kind() {
            NodeKind::Leaf => node.checked_for_read(page_id),
            NodeKind::Interior => Ok(node),
        }
    }

    /// The leaf at `page_id` (checked to be one by the caller), to hand entries out from.
    fn read_leaf(&self, page_id: PageId) -> Result<Leaf<'s>> {
        Ok(self.read(page_id)?.map_page(LeafPage::shared))
    }

    /// Descends from `page_id` (below the interior nodes of `path`), choosing each child with
    /// `choose`, down to a leaf, which is returned with its page. The path and the leaf together
    /// are at most `TREE_HEIGHT_MAX` levels, and a leaf below the root is not empty.
    fn descend(
        &self,
        page_id: PageId,
        path: &mut Vec<(Interior<'s>, usize)>,
        choose: impl Fn(&Interior<'s>, PageId) -> Result<usize>,
    ) -> Result<(PageId, Leaf<'s>)> {
        let mut page_id = page_id;
        loop {
            let node = self.read(page_id)?;
            if node.kind() == NodeKind::Leaf {
                let node = node.map_page(LeafPage::shared);
                if node.is_empty() && !path.is_empty() {
                    return Err(corrupt(page_id, "an empty leaf below the root"));
                }
                // Reached with no path, the leaf is the root (backward steps always descend
                // below a kept node): the only leaf, so it links to nothing.
                if path.is_empty() && node.right_sibling().is_some() {
                    return Err(corrupt(page_id, "the root leaf has a right sibling"));
                }
                return Ok((page_id, node));
            }
            // This interior node, the levels above it and a leaf below.
            if path.len() + 2 > TREE_HEIGHT_MAX {
                return Err(too_deep(page_id));
            }
            let child_index = choose(&node, page_id)?;
            page_id = node.child_checked(child_index, page_id)?;
            path.push((node, child_index));
        }
    }

    /// The front end at the first cell at or after the lower bound.
    fn seek_front(&self) -> Result<End<'s>> {
        let mut path = Vec::new();
        let (leaf, index) = match &self.lower {
            Bound::Unbounded => (self.descend(self.root, &mut path, |_, _| Ok(0))?, 0),
            Bound::Included(key) | Bound::Excluded(key) => {
                let leaf = self.descend(self.root, &mut path, |node, id| {
                    node.child_index_for_checked(key, id, &mut StoreTails(self.store))
                })?;
                let index = match leaf.1.search(key, &mut StoreTails(self.store))? {
                    Ok(index) if matches!(self.lower, Bound::Excluded(_)) => index + 1,
                    Ok(index) | Err(index) => index,
                };
                (leaf, index)
            }
        };
        let ((leaf_id, leaf), index) = (leaf, index);
        self.hint_front(&leaf);
        Ok(End { path, leaf_id, leaf, index })
    }

    /// The back end just after the last cell at or before the upper bound (it steps back first).
    fn seek_back(&self) -> Result<End<'s>> {
        let mut path = Vec::new();
        let (leaf, index) = match &self.upper {
            Bound::Unbounded => {
                let leaf = self.descend(self.root, &mut path, |node, _| Ok(node.len()))?;
                let len = leaf.1.len();
                (leaf, len)
            }
            Bound::Included(key) | Bound::Excluded(key) => {
                let leaf = self.descend(self.root, &mut path, |node, id| {
                    node.child_index_for_checked(key, id, &mut StoreTails(self.store))
                })?;
                let index = match leaf.1.search(key, &mut StoreTails(self.store))? {
                    Ok(index) if matches!(self.upper, Bound::Included(_)) => index + 1,
                    Ok(index) | Err(index) => index,
                };
                (leaf, index)
            }
        };
        let ((leaf_id, leaf), index) = (leaf, index);
        let end = End { path, leaf_id, leaf, index };
        self.hint_back(&end);
        Ok(end)
    }

    /// Hints the leaf after `leaf`, unless the upper bound ends the scan within `leaf`.
    fn hint_front(&self, leaf: &Leaf<'s>) {
        let continues = leaf.is_empty() || self.may_be_within_upper(leaf.key(leaf.len() - 1));
        if let Some(next) = leaf.right_sibling().filter(|_| continues) {
            self.store.prefetch(&[next]);
        }
    }

    /// Hints the leaf before the back end's, when its parent (the last step of the path) holds
    /// it, unless the lower bound ends the scan within the current leaf.
    fn hint_back(&self, end: &End<'s>) {
        let continues = end.leaf.is_empty() || self.may_be_within_lower(end.leaf.key(0));
        if let Some((parent, child_index)) = end.path.last().filter(|_| continues)
            && *child_index > 0
            // A damaged cell hints nothing: the step back reports it.
            && let Ok(previous) = parent.child_checked(child_index - 1, parent.page().page_id())
        {
            self.store.prefetch(&[previous]);
        }
    }

    /// The front end's current cell, moving to the next leaf through the sibling link.
    fn front_cell(&mut self) -> Result<Option<Entry<'s>>> {
        if self.front.is_none() {
            self.front = Some(self.seek_front()?);
        }
        loop {
            let end = self.front.as_mut().expect("seeked above");
            if end.index < end.leaf.len() {
                let entry = Entry::at(&end.leaf, end.index, self.store)?;
                end.index += 1;
                return Ok(Some(entry));
            }
            let Some(next) = end.leaf.right_sibling() else { return Ok(None) };
            let leaf = self.read_leaf(next)?;
            let end = self.front.as_ref().expect("seeked above");
            check_forward_step(self.store, end.leaf_id, &end.leaf, next, &leaf)?;
            self.hint_front(&leaf);
            let end = self.front.as_mut().expect("seeked above");
            end.leaf_id = next;
            end.leaf = leaf;
            end.index = 0;
        }
    }

    /// The back end's previous cell, climbing the path to the previous leaf when needed.
    fn back_cell(&mut self) -> Result<Option<Entry<'s>>> {
        if self.back.is_none() {
            self.back = Some(self.seek_back()?);
        }
        loop {
            let end = self.back.as_mut().expect("seeked above");
            if end.index > 0 {
                end.index -= 1;
                return Ok(Some(Entry::at(&end.leaf, end.index, self.store)?));
            }
            if !self.step_back_to_previous_leaf()? {
                return Ok(None);
            }
        }
    }

    /// Moves the back end to the rightmost leaf left of its current one; false at the start.
    fn step_back_to_previous_leaf(&mut self) -> Result<bool> {
        let mut end = self.back.take().expect("seeked before stepping");
        while let Some((node, child_index)) = end.path.pop() {
            if child_index > 0 {
                // The header names the page (the store verified it is `node`'s page id).
                let child = node.child_checked(child_index - 1, node.page().page_id())?;
                end.path.push((node, child_index - 1));
                let (leaf_id, leaf) =
                    self.descend(child, &mut end.path, |node, _| Ok(node.len()))?;
                check_backward_step(self.store, end.leaf_id, &end.leaf, leaf_id, &leaf)?;
                (end.leaf_id, end.leaf) = (leaf_id, leaf);
                end.index = end.leaf.len();
                self.hint_back(&end);
                self.back = Some(end);
                return Ok(true);
            }
        }
        self.back = Some(end);
        Ok(false)
    }

    fn within_upper(&self, key: &[u8]) -> bool {
        match &self.upper {
            Bound::Unbounded => true,
            Bound::Included(high) => key <= high.as_slice(),
            Bound::Excluded(high) => key < high.as_slice(),
        }
    }

    fn within_lower(&self, key: &[u8]) -> bool {
        match &self.lower {
            Bound::Unbounded => true,
            Bound::Included(low) => key >= low.as_slice(),
            Bound::Excluded(low) => key > low.as_slice(),
        }
    }

    /// [`Range::within_upper`] for a stored key, judged by what its cell holds: true where a
    /// long key's tail would decide (a hint, so no tail is read for it).
    fn may_be_within_upper(&self, key: StoredKey<'_>) -> bool {
        let (high, included) = match &self.upper {
            Bound::Unbounded => return true,
            Bound::Included(high) => (high, true),
            Bound::Excluded(high) => (high, false),
        };
        match key.compare_without_tail(high) {
            None | Some(Ordering::Less) => true,
            Some(Ordering::Equal) => included,
            Some(Ordering::Greater) => false,
        }
    }

    /// [`Range::within_lower`] for a stored key, as [`Range::may_be_within_upper`].
    fn may_be_within_lower(&self, key: StoredKey<'_>) -> bool {
        let (low, included) = match &self.lower {
            Bound::Unbounded => return true,
            Bound::Included(low) => (low, true),
            Bound::Excluded(low) => (low, false),
        };
        match key.compare_without_tail(low) {
            None | Some(Ordering::Greater) => true,
            Some(Ordering::Equal) => included,
            Some(Ordering::Less) => false,
        }
    }
}

fn corrupt(page_id: PageId, reason: &str) -> Error {
    Error::Corrupt { page_id, reason: reason.to_owned() }
}

/// The checks of a forward step from the leaf `from` (at `from_id`) to its right sibling `to`
/// (at `to_id`): see the module docs for why they bound the walk. Long keys whose cells tie are
/// compared whole (tails read from `store`).
fn check_forward_step(
    store: &impl PageRead,
    from_id: PageId,
    from: &Leaf<'_>,
    to_id: PageId,
    to: &Leaf<'_>,
) -> Result<()> {
    // An empty leaf is only the root of an empty tree, which has no sibling.
    let Some(from_last) = from.len().checked_sub(1).map(|index| from.key(index)) else {
        return Err(corrupt(from_id, "an empty leaf has a right sibling"));
    };
    if to.kind() != NodeKind::Leaf {
        return Err(corrupt(to_id, "a right sibling is not a leaf"));
    }
    let Some(to_last) = to.len().checked_sub(1).map(|index| to.key(index)) else {
        return Err(corrupt(to_id, "an empty leaf reached through a sibling link"));
    };
    let to_first = to.key(0);
    if compare_stored(store, to_first, from_last)?.is_le() {
        return Err(corrupt(to_id, "keys do not ascend past the previous leaf's"));
    }
    if compare_stored(store, to_first, to_last)?.is_gt() {
        return Err(corrupt(to_id, "a leaf's first key is above its last"));
    }
    Ok(())
}

/// The checks of a backward step from the leaf `from` (at `from_id`) to the leaf `to` (at
/// `to_id`) before it; `descend` already refused an empty one. Long keys as for
/// [`check_forward_step`].
fn check_backward_step(
    store: &impl PageRead,
    from_id: PageId,
    from: &Leaf<'_>,
    to_id: PageId,
    to: &Leaf<'_>,
) -> Result<()> {
    if from.is_empty() {
        // Only the root may be empty, and a root leaf has no leaf before it.
        return Err(corrupt(from_id, "an empty leaf below the root"));
    }
    let Some(to_last) = to.len().checked_sub(1).map(|index| to.key(index)) else {
        return Err(corrupt(to_id, "an empty leaf below the root"));
    };
    let to_first = to.key(0);
    if compare_stored(store, to_last, from.key(0))?.is_ge() {
        return Err(corrupt(to_id, "keys do not descend below the next leaf's"));
    }
    if compare_stored(store, to_first, to_last)?.is_gt() {
        return Err(corrupt(to_id, "a leaf's first key is above its last"));
    }
    Ok(())
}

impl<'s, S: PageRead> Iterator for Range<'s, S> {
    type Item = Result<Entry<'s>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = match self.front_cell() {
            Ok(Some(item)) => item,
            Ok(None) => return self.finish(),
            Err(error) => return self.fail(error),
        };
        let crossed = self.back_last.as_ref().is_some_and(|last| item.key() >= last.key());
        if crossed || !self.within_upper(item.key()) {
            return self.finish();
        }
        self.front_last = Some(item.clone());
        Some(Ok(item))
    }
}

impl<'s, S: PageRead> DoubleEndedIterator for Range<'s, S> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = match self.back_cell() {
            Ok(Some(item)) => item,
            Ok(None) => return self.finish(),
            Err(error) => return self.fail(error),
        };
        let crossed = self.front_last.as_ref().is_some_and(|last| item.key() <= last.key());
        if crossed || !self.within_lower(item.key()) {
            return self.finish();
        }
        self.back_last = Some(item.clone());
        Some(Ok(item))
    }
}

impl<'s, S: PageRead> Range<'s, S> {
    fn finish(&mut self) -> Option<Result<Entry<'s>>> {
        self.finished = true;
        None
    }

    /// An error ends the scan after it is handed out.
    fn fail(&mut self, error: Error) -> Option<Result<Entry<'s>>> {
        self.finished = true;
        Some(Err(error))
    }
}
