//! Building a tree bottom up from entries in ascending key order (`Database::compact`'s copy):
//! each leaf is filled until the next cell does not fit, then written once with its right
//! sibling link, and its successor's first key goes up as the separator; each interior level
//! fills the same way. Nothing is searched, nothing is written twice. A source whose leaves
//! are full already (a tree a builder built, copied again) hands them over whole
//! ([`TreeBuilder::push_leaf`]): one page copy instead of a push per entry.
//!
//! The shape is the one an ascending load through [`Tree::insert_value`] leaves (its
//! right-edge splits, see `split`): every node full but the last of each level. An interior
//! node that fills keeps every cell but its last, whose key goes up and whose child becomes the
//! new node's leftmost (`Node::split_off_last`), so no node is ever left without a key.
//!
//! Inline keys only: a long key (past `limits::key_max_bytes`) would need its tail chain and a
//! suffix-truncated separator, which the insert path has; the builder answers it with
//! `KeyTooLarge` and the caller inserts through [`Tree::insert_value`] instead.

use redwood_pager::{Page, PageId, PageSize, PageWrite};

use super::{Tree, check_sizes, write_node};
use crate::error::{Error, Result};
use crate::limits::{TREE_HEIGHT_MAX, key_max_bytes};
use crate::node::{Node, NodeKind, OwnedKey, StoredKey, Value};

/// A tree being built from entries given in strictly ascending key order
/// ([`TreeBuilder::push`]), finished by [`TreeBuilder::finish`].
#[derive(Debug)]
pub struct TreeBuilder {
    page_size: PageSize,
    /// The open leaf: the last of its level.
    leaf: (PageId, Node),
    /// The open interior node of each level above the leaves, lowest first: the last of its
    /// level, and the parent of the open node below it.
    interiors: Vec<(PageId, Node)>,
    /// The last key pushed.
    last_key: Option<Vec<u8>>,
    entries: u64,
}

impl TreeBuilder {
    /// A builder whose first leaf is allocated from `store`.
    pub fn new(store: &mut impl PageWrite) -> Result<TreeBuilder> {
        let page_size = store.page_size();
        let leaf_id = store.allocate()?;
        Ok(TreeBuilder {
            page_size,
            leaf: (leaf_id, Node::new_leaf(page_size)),
            interiors: Vec::new(),
            last_key: None,
            entries: 0,
        })
    }

    /// Entries pushed so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// How full the open leaf is: its bytes in use over the page size (`0.0` before the first
    /// entry). A caller with whole leaves to give ([`TreeBuilder::push_leaf`]) asks it, since a
    /// whole leaf writes the open one out as it is.
    pub fn open_leaf_fill(&self) -> f64 {
        if self.entries == 0 {
            return 0.0;
        }
        let page_bytes = self.page_size.bytes();
        page_bytes.saturating_sub(self.leaf.1.free_bytes()) as f64 / page_bytes as f64
    }

    /// Appends `value` under `key`, which must sort after every key pushed before (else
    /// `Corrupt`, naming the open leaf: the source the entries come from is out of order). A
    /// key past `limits::key_max_bytes` is `KeyTooLarge` (the builder takes inline keys only),
    /// as are the limits [`Tree::insert_value`] enforces; nothing is changed then.
    pub fn push(&mut self, store: &mut impl PageWrite, key: &[u8], value: Value<'_>) -> Result<()> {
        check_sizes(self.page_size, key, value)?;
        let max_bytes = key_max_bytes(self.page_size);
        if key.len() > max_bytes {
            return Err(Error::KeyTooLarge { bytes: key.len(), max_bytes });
        }
        if self.last_key.as_deref().is_some_and(|last| last >= key) {
            let reason = "the tree builder was given keys out of order".to_owned();
            return Err(Error::Corrupt { page_id: self.leaf.0, reason });
        }
        let leaf = &mut self.leaf.1;
        if leaf.insert_leaf(leaf.len(), StoredKey::Inline(key), value).is_err() {
            // Full: the leaf is written with a link to the next, which starts with this cell.
            let next_id = store.allocate()?;
            let mut next = Node::new_leaf(self.page_size);
            if next.insert_leaf(0, StoredKey::Inline(key), value).is_err() {
                // The size limits let one cell of each kind into an empty node.
                let reason = format!("a {}-byte key does not fit an empty leaf", key.len());
                return Err(Error::Corrupt { page_id: next_id, reason });
            }
            let (full_id, mut full) = std::mem::replace(&mut self.leaf, (next_id, next));
            full.set_right_sibling(Some(next_id));
            write_node(store, full_id, full)?;
            self.push_separator(store, 0, full_id, OwnedKey::Inline(key.to_vec()), next_id)?;
        }
        self.set_last_key(key);
        self.entries += 1;
        Ok(())
    }

    /// Appends every entry of the leaf `page` (page `page_id` of the source, loaded here with
    /// every check of [`Node::load`], key order included) as one node, its page copied as it
    /// is: for a source whose leaves are full already (a tree this builder built), a page copy
    /// where [`TreeBuilder::push`] would take one call per entry. The open leaf, if it holds
    /// entries, is written out first, linked to the copy, which becomes the open leaf. Returns
    /// `false`, changing nothing, for a leaf with a long key or an overflow value (the chain
    /// is the caller's to copy: push its entries one by one). Its first key must sort after
    /// every key pushed before (else `Corrupt`, as for `push`); a page that is no leaf is
    /// `Corrupt`.
    pub fn push_leaf(
        &mut self,
        store: &mut impl PageWrite,
        page: &Page,
        page_id: PageId,
    ) -> Result<bool> {
        let node = Node::load(page, page_id)?;
        if node.kind() != NodeKind::Leaf {
            let reason = "the tree builder was given an interior node as a leaf".to_owned();
            return Err(Error::Corrupt { page_id, reason });
        }
        let whole = (0..node.len()).all(|index| {
            node.key(index).inline().is_some() && matches!(node.value(index), Value::Inline(_))
        });
        if !whole {
            return Ok(false);
        }
        let Some(last) = node.len().checked_sub(1) else {
            return Ok(true); // An empty leaf adds nothing.
        };
        let first = node.key(0).inline().expect("every key is inline");
        if self.last_key.as_deref().is_some_and(|pushed| pushed >= first) {
            let reason = "the tree builder was given keys out of order".to_owned();
            return Err(Error::Corrupt { page_id, reason });
        }
        let mut copy = node.to_owned();
        copy.set_right_sibling(None);
        if self.entries == 0 {
            // Nothing pushed yet: the open leaf is empty, and the copy takes its page.
            debug_assert!(self.leaf.1.is_empty());
            self.leaf.1 = copy;
        } else {
            let next_id = store.allocate()?;
            let (full_id, mut full) = std::mem::replace(&mut self.leaf, (next_id, copy));
            full.set_right_sibling(Some(next_id));
            write_node(store, full_id, full)?;
            self.push_separator(store, 0, full_id, OwnedKey::Inline(first.to_vec()), next_id)?;
        }
        let last_key = node.key(last).inline().expect("every key is inline");
        self.set_last_key(last_key);
        self.entries += node.len() as u64;
        Ok(true)
    }

    /// Remembers `key` as the last pushed, reusing the buffer (no allocation per entry).
    fn set_last_key(&mut self, key: &[u8]) {
        match &mut self.last_key {
            Some(last) => {
                last.clear();
                last.extend_from_slice(key);
            }
            None => self.last_key = Some(key.to_vec()),
        }
    }

    /// Puts `separator` with `child` (the new last node of the level below, whose left
    /// neighbour is `left`) into the open node of interior level `level` (0: the leaves'
    /// parents), starting that level if `left` was its first node, and splitting upwards.
    fn push_separator(
        &mut self,
        store: &mut impl PageWrite,
        mut level: usize,
        mut left: PageId,
        mut separator: OwnedKey,
        mut child: PageId,
    ) -> Result<()> {
        loop {
            if level + 1 >= TREE_HEIGHT_MAX {
                let reason = format!("a built tree would be deeper than {TREE_HEIGHT_MAX} levels");
                return Err(Error::Corrupt { page_id: child, reason });
            }
            if level == self.interiors.len() {
                let page_id = store.allocate()?;
                self.interiors.push((page_id, Node::new_interior(self.page_size, left)));
            }
            let (node_id, node) = &mut self.interiors[level];
            if node.insert_interior(node.len(), separator.as_stored(), child).is_ok() {
                return Ok(());
            }
            // Full: its last key goes up, and the new node starts with that key's child and
            // this separator.
            let (up, mut next) = node.split_off_last(*node_id)?;
            if next.insert_interior(0, separator.as_stored(), child).is_err() {
                let reason = "a separator does not fit an empty interior node".to_owned();
                return Err(Error::Corrupt { page_id: *node_id, reason });
            }
            let next_id = store.allocate()?;
            let (full_id, full) = std::mem::replace(&mut self.interiors[level], (next_id, next));
            write_node(store, full_id, full)?;
            (level, left, separator, child) = (level + 1, full_id, up, next_id);
        }
    }

    /// Writes the open nodes (the last of each level) and returns the tree: one leaf, empty
    /// if nothing was pushed, or the top level's node as its root.
    pub fn finish(self, store: &mut impl PageWrite) -> Result<Tree> {
        let (leaf_id, leaf) = self.leaf;
        write_node(store, leaf_id, leaf)?;
        let mut root = leaf_id;
        for (page_id, node) in self.interiors {
            debug_assert!(!node.is_empty(), "every interior node holds a key");
            write_node(store, page_id, node)?;
            root = page_id;
        }
        Ok(Tree::open(root))
    }
}
