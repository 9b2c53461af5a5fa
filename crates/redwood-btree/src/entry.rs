//! `Entry`: one leaf cell handed out by a lookup ([`crate::Tree::get_entry`]) or a scan
//! ([`crate::Range`]), borrowed from its leaf page where the store holds it (a pinned cache
//! frame, or a transaction's own page): no copy of the key or of an inline value. The entry keeps
//! the page pinned until it drops; [`Entry::into_owned`] copies it out for a caller that keeps
//! it longer.
//!
//! The key's and the value's places in the page come from the node's checked accessors (the
//! cell passed the cell checks of `node`), so `key` and `value` never leave the page.
//!
//! A long key (`docs/FORMAT.md`) is not whole in the page: the entry holds it assembled, once,
//! behind an `Arc` (so the clones a scan keeps cost a reference count). A scan reads its tail
//! from the chain; a lookup that found it already has it (the key it looked up).

use std::ops::{Deref, Range};
use std::sync::Arc;

use redwood_pager::{Page, PageGuard, PageRead};

use crate::error::Result;
use crate::keys::full_key;
use crate::node::{Node, OwnedValue, StoredKey, Value, ValueSpan};

/// One leaf cell, borrowed from its pinned leaf page (no copy of an inline key or value; a long
/// key is held assembled).
#[derive(Clone)]
pub struct Entry<'s> {
    page: LeafPage<'s>,
    key: EntryKey,
    value: ValueSpan,
}

/// Where an entry's key is.
#[derive(Clone)]
enum EntryKey {
    /// An inline key's bytes in the page.
    InPage(Range<usize>),
    /// A long key, whole.
    Long(Arc<[u8]>),
}

impl<'s> Entry<'s> {
    /// Cell `index` of the leaf `leaf` (`index` < its length, a cell that passed the cell
    /// checks), holding on to the leaf's page; a long key's tail is read from `store`.
    pub(crate) fn at(
        leaf: &Node<LeafPage<'s>>,
        index: usize,
        store: &impl PageRead,
    ) -> Result<Self> {
        let key = match leaf.key(index) {
            StoredKey::Inline(_) => EntryKey::InPage(leaf.key_span(index)),
            long => EntryKey::Long(full_key(store, long)?.into()),
        };
        Ok(Self { page: leaf.page().clone(), key, value: leaf.value_span(index) })
    }

    /// Cell `index` of the leaf `leaf`, taking over its page (a lookup's last step): its key is
    /// `key`, the key the lookup found there.
    pub(crate) fn take(leaf: Node<PageGuard<'s>>, index: usize, key: &[u8]) -> Self {
        let entry_key = match leaf.key(index) {
            StoredKey::Inline(_) => EntryKey::InPage(leaf.key_span(index)),
            StoredKey::Long { .. } => EntryKey::Long(key.into()),
        };
        let value = leaf.value_span(index);
        Self { page: LeafPage::Own(leaf.into_page()), key: entry_key, value }
    }

    /// The key: borrowed from the page, or, for a long key, from the entry.
    pub fn key(&self) -> &[u8] {
        match &self.key {
            EntryKey::InPage(range) => &self.page.as_bytes()[range.clone()],
            EntryKey::Long(key) => key,
        }
    }

    /// The value as the leaf holds it: inline bytes, or an overflow chain's reference.
    pub fn value(&self) -> Value<'_> {
        self.value.clone().resolve(self.page.as_bytes())
    }

    /// The key and the value, copied out of the page (which the entry then lets go of).
    pub fn into_owned(self) -> (Vec<u8>, OwnedValue) {
        (self.key().to_vec(), self.value().into())
    }
}

impl std::fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("page_id", &self.page.page_id())
            .field("key", &self.key())
            .field("value", &self.value())
            .finish()
    }
}

/// The leaf page an entry borrows from: a lookup's own guard, or a scan's, shared by the entries
/// of one leaf. Sharing makes an entry of a scan one reference count, whatever the guard is: a
/// pinned frame's clone is one more pin, but an owned guard's (a page read around the cache)
/// would be a copy of the page per entry.
#[derive(Clone, Debug)]
pub(crate) enum LeafPage<'s> {
    /// The guard of a lookup's leaf.
    Own(PageGuard<'s>),
    /// The guard of a scan's current leaf.
    Shared(Arc<PageGuard<'s>>),
}

impl<'s> LeafPage<'s> {
    /// `guard`, to share among the entries of its leaf.
    pub(crate) fn shared(guard: PageGuard<'s>) -> Self {
        LeafPage::Shared(Arc::new(guard))
    }
}

impl Deref for LeafPage<'_> {
    type Target = Page;

    fn deref(&self) -> &Page {
        match self {
            LeafPage::Own(guard) => guard,
            LeafPage::Shared(guard) => guard,
        }
    }
}
