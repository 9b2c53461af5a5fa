//! The copy of one table: the old tree read in batches of entries copied into one buffer
//! ([`Batch`]), the new one built bottom up or, for long keys, through inserts ([`Sink`]), and
//! the sample of a tree's leaves that tells how full they are ([`sampled_leaf_fill`]).

use std::ops::Bound;

use redwood_btree::limits::TREE_HEIGHT_MAX;
use redwood_btree::{Node, NodeKind, Tree, TreeBuilder, Value as Stored};
use redwood_overflow::ChainRef;
use redwood_pager::{PageId, PageRead, PageWrite};

use crate::error::Result;

/// Entries read from the old tree before they are written to the new one: the read borrows the
/// transaction, the writes need it mutably, so the copy goes in batches.
pub(super) const COPY_BATCH_ENTRIES: usize = 1024;

/// Leaves a compaction samples per table, by seeded random descents, to tell how full its
/// leaves are: enough for a mean within a few percent, few enough to cost a handful of reads
/// per level.
const FILL_SAMPLE_DESCENTS: u64 = 32;

/// The mean fill (bytes in use over the page size) of the leaves that
/// [`FILL_SAMPLE_DESCENTS`] seeded random descents from `root` reach; `None` for a tree of one
/// leaf, which a rewrite cannot pack. Each node is checked as the read paths check it, and a
/// descent is bounded by the tree height limit.
pub(super) fn sampled_leaf_fill(store: &impl PageRead, root: PageId) -> Result<Option<f64>> {
    let corrupt = |page_id, reason: String| {
        crate::Error::Tree(redwood_btree::Error::Corrupt { page_id, reason })
    };
    let mut state = root.get() ^ 0x9e37_79b9_7f4a_7c15;
    let mut fill_sum = 0.0;
    for descent in 0..FILL_SAMPLE_DESCENTS {
        let mut page_id = root;
        let mut depth = 0;
        loop {
            let node = Node::load_for_read(store.read_page(page_id)?, page_id)?;
            if node.kind() == NodeKind::Leaf {
                if depth == 0 {
                    return Ok(None);
                }
                let page_bytes = node.page_size().bytes();
                fill_sum += page_bytes.saturating_sub(node.free_bytes()) as f64 / page_bytes as f64;
                break;
            }
            depth += 1;
            if depth >= TREE_HEIGHT_MAX {
                let reason = format!("descent {descent} is deeper than {TREE_HEIGHT_MAX} levels");
                return Err(corrupt(root, reason));
            }
            // xorshift64: any spread of choices will do, the same one every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let child = (state % (node.len() as u64 + 1)) as usize;
            page_id = node.child_checked(child, page_id)?;
        }
    }
    Ok(Some(fill_sum / FILL_SAMPLE_DESCENTS as f64))
}

/// How a table's copy is made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum CopyBy {
    /// Bottom up, each page written once ([`TreeBuilder`]): inline keys only.
    Builder,
    /// Through the insert path, for tables with long keys.
    Inserts,
}

/// Where a table's copy goes.
pub(super) enum Sink {
    Built(TreeBuilder),
    Inserted(Tree),
}

impl Sink {
    /// Adds one entry; whether it replaced one (a key the old tree held twice). The builder
    /// refuses a repeated key as `Corrupt` itself.
    pub(super) fn push(
        &mut self,
        txn: &mut impl PageWrite,
        key: &[u8],
        value: Stored<'_>,
    ) -> Result<bool> {
        match self {
            Sink::Built(builder) => builder.push(txn, key, value).map(|()| false),
            Sink::Inserted(tree) => tree.insert_value(txn, key, value).map(|old| old.is_some()),
        }
        .map_err(Into::into)
    }

    /// The new tree's root.
    pub(super) fn finish(self, txn: &mut impl PageWrite) -> Result<PageId> {
        match self {
            Sink::Built(builder) => Ok(builder.finish(txn)?.root()),
            Sink::Inserted(tree) => Ok(tree.root()),
        }
    }
}

/// Up to a number of entries of a tree, copied out of their leaves into one buffer (the read
/// borrows the transaction, the copy's writes need it mutably): two allocations per batch, not
/// two per entry.
pub(super) struct Batch {
    /// Every key and inline value, back to back.
    bytes: Vec<u8>,
    /// Each entry: its key's end in `bytes`, and its value (an inline value's end, or a chain).
    entries: Vec<(usize, BatchValue)>,
}

/// A [`Batch`] entry's value.
enum BatchValue {
    /// Inline, ending at this offset of the batch's bytes.
    Inline(usize),
    /// In an overflow chain.
    Overflow(ChainRef),
}

impl Batch {
    /// Up to `limit` entries of `tree` after `after` (from the start if `None`).
    pub(super) fn read(
        store: &impl PageRead,
        tree: &Tree,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Batch> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut batch = Batch { bytes: Vec::new(), entries: Vec::new() };
        for item in tree.range(store, (lower, Bound::Unbounded)).take(limit) {
            let item = item?;
            batch.bytes.extend_from_slice(item.key());
            let key_end = batch.bytes.len();
            let value = match item.value() {
                Stored::Inline(bytes) => {
                    batch.bytes.extend_from_slice(bytes);
                    BatchValue::Inline(batch.bytes.len())
                }
                Stored::Overflow { first_page, length } => {
                    BatchValue::Overflow(ChainRef { first_page, length })
                }
            };
            batch.entries.push((key_end, value));
        }
        Ok(batch)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries in order, borrowing the batch.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], Stored<'_>)> {
        let mut start = 0;
        self.entries.iter().map(move |(key_end, value)| {
            let key = &self.bytes[start..*key_end];
            let value = match *value {
                BatchValue::Inline(end) => {
                    start = end;
                    Stored::Inline(&self.bytes[*key_end..end])
                }
                BatchValue::Overflow(chain) => {
                    start = *key_end;
                    Stored::Overflow { first_page: chain.first_page, length: chain.length }
                }
            };
            (key, value)
        })
    }

    /// The last entry's key.
    pub(super) fn last_key(&self) -> Option<&[u8]> {
        self.iter().last().map(|(key, _)| key)
    }
}
