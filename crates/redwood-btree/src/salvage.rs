//! Salvage: every entry of a damaged tree that can still be read, and, for each part that
//! cannot, the page at fault and the range of keys it held (what `redwood recover` copies and
//! reports). Unlike a scan, which stops at the first damaged page, the walk goes down from the
//! root and skips a child it cannot read, so the damage costs only the keys under that child.
//!
//! Each node is read as a view of the store's page (no copy); the entries handed to the caller
//! are owned copies, since the caller typically writes them elsewhere.
//!
//! Bounded like every other walk: at most `TREE_HEIGHT_MAX` levels, and a page is visited at
//! most once (a second visit, through a cycle or a shared child, is reported and skipped).
//!
//! Long keys are read whole (their tails from their chains). A leaf entry whose tail cannot be
//! read is lost alone: a `LostRange` from its prefix to the leaf's upper bound. A separator
//! whose tail cannot be read bounds its children by what its cell holds: its prefix below,
//! the prefix's successor above (`keys::prefix_successor`), looser than the separator itself,
//! so no readable entry is refused for it.

use std::borrow::Cow;
use std::collections::HashSet;

use redwood_pager::{PageId, PageRead};

use crate::error::Error;
use crate::keys::{full_key, prefix_successor};
use crate::limits::TREE_HEIGHT_MAX;
use crate::node::{NodeKind, OwnedValue, StoredKey};
use crate::tree::{Tree, read_node};

/// A part of a tree the salvage could not read: the page at fault and the keys it covered.
#[derive(Debug)]
pub struct LostRange {
    /// The page that could not be read (or was not a sound node).
    pub page_id: PageId,
    /// The keys it held lie at or above this one (`None`: from the start).
    pub from_key: Option<Vec<u8>>,
    /// ... and below this one (`None`: to the end).
    pub to_key: Option<Vec<u8>>,
    /// Why it could not be read.
    pub error: Error,
}

/// What a salvage found: entries go to the caller's closure as they are read.
#[derive(Debug, Default)]
pub struct Salvage {
    /// Entries handed to the closure.
    pub entries: u64,
    /// The parts that could not be read, in key order.
    pub lost: Vec<LostRange>,
}

impl Tree {
    /// Hands every entry of the tree that can be read to `entry`, in key order, and returns the
    /// parts that could not be read. Entries of a leaf that does not sort within the bounds its
    /// parent gives it are not trusted: the leaf is reported lost. `entry` may stop the walk by
    /// returning an error (for example a failed write of the copy), which is returned as is.
    pub fn salvage<E>(
        &self,
        store: &impl PageRead,
        mut entry: impl FnMut(Vec<u8>, OwnedValue) -> Result<(), E>,
    ) -> Result<Salvage, E> {
        let mut salvage = Salvage::default();
        let mut seen = HashSet::new();
        // Depth-first, children in key order: a stack of (page, depth, lower, upper bound).
        let mut pending = vec![(self.root(), 1usize, None::<Vec<u8>>, None::<Vec<u8>>)];
        while let Some((page_id, depth, from_key, to_key)) = pending.pop() {
            let lose = |error: Error, salvage: &mut Salvage| {
                let (from_key, to_key) = (from_key.clone(), to_key.clone());
                salvage.lost.push(LostRange { page_id, from_key, to_key, error });
            };
            if depth > TREE_HEIGHT_MAX {
                lose(crate::tree::too_deep(page_id), &mut salvage);
                continue;
            }
            if !seen.insert(page_id) {
                let reason = "reached twice (a cycle, or a child of two parents)".to_owned();
                lose(Error::Corrupt { page_id, reason }, &mut salvage);
                continue;
            }
            let node = match read_node(store, page_id) {
                Ok(node) => node,
                Err(error) => {
                    lose(error, &mut salvage);
                    continue;
                }
            };
            let within = |key: &[u8]| {
                from_key.as_deref().is_none_or(|low| key >= low)
                    && to_key.as_deref().is_none_or(|high| key < high)
            };
            match node.kind() {
                NodeKind::Leaf => {
                    // Each key whole, or the error reading its tail (that entry alone is lost).
                    let keys: Vec<Result<Cow<'_, [u8]>, Error>> =
                        (0..node.len()).map(|index| full_key(store, node.key(index))).collect();
                    let outside =
                        keys.iter().position(|key| key.as_ref().is_ok_and(|key| !within(key)));
                    if let Some(index) = outside {
                        let reason = format!("key {index} lies outside the range its parent gives");
                        lose(Error::Corrupt { page_id, reason }, &mut salvage);
                        continue;
                    }
                    for (index, key) in keys.into_iter().enumerate() {
                        match key {
                            Ok(key) => {
                                entry(key.into_owned(), node.value(index).into())?;
                                salvage.entries += 1;
                            }
                            Err(error) => salvage.lost.push(LostRange {
                                page_id,
                                from_key: Some(node.key(index).visible().to_vec()),
                                to_key: to_key.clone(),
                                error,
                            }),
                        }
                    }
                }
                NodeKind::Interior => {
                    // A separator as bounds for its children: whole, or (its tail unreadable)
                    // the bounds its prefix gives.
                    let bound = |index: usize, upper: bool| -> Option<Vec<u8>> {
                        let key = node.key(index);
                        match (full_key(store, key), key) {
                            (Ok(key), _) => Some(key.into_owned()),
                            (Err(_), StoredKey::Long { prefix, .. }) if upper => {
                                prefix_successor(prefix)
                            }
                            (Err(_), key) => Some(key.visible().to_vec()),
                        }
                    };
                    // Children pushed last-first, so they pop in key order.
                    for index in (0..=node.len()).rev() {
                        let low =
                            if index == 0 { from_key.clone() } else { bound(index - 1, false) };
                        let high =
                            if index == node.len() { to_key.clone() } else { bound(index, true) };
                        pending.push((node.child(index), depth + 1, low, high));
                    }
                }
            }
        }
        Ok(salvage)
    }
}
