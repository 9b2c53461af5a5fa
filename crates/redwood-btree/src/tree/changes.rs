//! The write path's bookkeeping: the descent path as page ids (`PathStep`), the interior nodes
//! loaded from it when a split or merge must change them (`Step`, `load_path`), and what one
//! modifying operation changes (`Changes`), held back until every check has passed.
//!
//! Long keys' chains: a chain the operation writes (a new long key's tail, a long separator's)
//! is written at once, to pages allocated for it, which no page of the tree names until the
//! operation's writes are applied; it is freed again if the operation fails. A chain the
//! operation drops (a removed long key's, a dropped long separator's) is walked and checked
//! when the operation plans to drop it, and its pages are freed with the other changes.

use redwood_pager::{PageId, PageRead, PageWrite};

use super::{Tree, read_node, write_node};
use crate::error::{Error, Result};
use crate::keys::{chain, tail_pages};
use crate::limits::KEY_MAX_BYTES_TOTAL;
use crate::node::{KeyTail, Node, NodeKind};
use crate::observer::TreeEvent;

/// One interior level of a write path's descent: the page and the child index taken from it.
/// Only ids: the node itself is loaded (`load_path`) when a split or merge changes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PathStep {
    pub(crate) page_id: PageId,
    pub(crate) child_index: usize,
}

/// Where a write path's descent ended: the interior levels above the leaf, the leaf's page,
/// and whether every level took its last child (the leaf is the tree's last, at its right
/// edge).
pub(crate) struct Descent {
    pub(crate) path: Vec<PathStep>,
    pub(crate) leaf_id: PageId,
    pub(crate) rightmost: bool,
}

/// One loaded step of a descent: the node (an owned copy to modify, with the full checks or, for
/// a node the transaction holds, the trust it had when first loaded), its page and the child
/// index taken from it.
pub(crate) struct Step {
    pub(crate) page_id: PageId,
    pub(crate) node: Node,
    pub(crate) child_index: usize,
}

impl Step {
    /// The step's page id, node and child index.
    pub(crate) fn take(self) -> (PageId, Node, usize) {
        (self.page_id, self.node, self.child_index)
    }
}

/// Loads every interior node on `path` as owned copies, before a split or merge changes any
/// page: a node read from the store gets the full checks, so a damaged parent found halfway up
/// fails the operation before anything is computed from it. Each page is read again (the
/// descent only looked at it), so it is checked again to be an interior node with the child
/// taken.
///
/// A node the transaction holds (`PageWrite::holds`) is taken as [`Node::load_held`] takes a
/// held leaf, without the full checks again: it had them when it was first loaded or built.
/// Debug builds check it in full all the same (a failure, `Corrupt`, is a bug in whatever
/// wrote it). In a million-entry load every split reloaded its
/// path, and the repeated checks of the same few hundred interior nodes were 13% of the load
/// (`benches/scripts/profile_row.py --row bulk_load`).
pub(crate) fn load_path(store: &impl PageWrite, path: &[PathStep]) -> Result<Vec<Step>> {
    path.iter()
        .map(|&PathStep { page_id, child_index }| {
            let node = if store.holds(page_id) {
                let node = Node::load_held(store.read_page(page_id)?, page_id)?;
                #[cfg(debug_assertions)]
                node.check_invariants().map_err(|reason| {
                    let reason =
                        format!("a page the transaction holds is not a valid node: {reason}");
                    Error::Corrupt { page_id, reason }
                })?;
                node.to_owned()
            } else {
                read_node(store, page_id)?.to_owned()
            };
            if node.kind() != NodeKind::Interior || child_index > node.len() {
                let reason = format!("read again, not an interior node with child {child_index}");
                return Err(Error::Corrupt { page_id, reason });
            }
            Ok(Step { page_id, node, child_index })
        })
        .collect()
}

/// What one modifying operation changes, in order: page writes and frees, the structural events
/// to report after them, and the new root. Held back until every check of the operation has
/// passed ([`Changes::apply`]), so a `Corrupt` error found partway leaves every page as it was
/// ([`Changes::abandon`] gives back the pages allocated on the way).
#[derive(Default)]
pub(crate) struct Changes {
    /// Pages allocated for the operation, freed again if it fails.
    allocated: Vec<PageId>,
    /// Long keys' chains written for the operation, freed again if it fails.
    written_tails: Vec<KeyTail>,
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

    /// Writes `tail` (a long key's bytes past its prefix) to a new chain now, and returns its
    /// reference; the chain is freed again if the operation fails.
    pub(crate) fn write_tail(
        &mut self,
        store: &mut impl PageWrite,
        tail: &[u8],
    ) -> Result<KeyTail> {
        // Only a pager error can come back: the tree writes tails of checked keys, never empty
        // or longer than a chain holds.
        let chain = redwood_overflow::write(store, tail).map_err(|error| match error {
            redwood_overflow::Error::Pager(error) => Error::Pager(error),
            _ => Error::KeyTooLarge { bytes: tail.len(), max_bytes: KEY_MAX_BYTES_TOTAL },
        })?;
        let tail = KeyTail { first_page: chain.first_page, length: chain.length };
        self.written_tails.push(tail);
        Ok(tail)
    }

    /// Frees the chain of `tail`, a long key this operation drops (at apply time); its pages are
    /// found and checked now, so a damaged chain fails the operation before anything changes.
    pub(crate) fn free_tail(&mut self, store: &impl PageRead, tail: KeyTail) -> Result<()> {
        for page_id in tail_pages(store, tail)? {
            self.free(page_id);
        }
        Ok(())
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
        for tail in self.written_tails {
            let _ = redwood_overflow::free(store, chain(tail));
        }
    }
}
