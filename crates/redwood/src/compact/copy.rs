//! The copy of one table: the old tree read in batches of entries copied into one buffer
//! ([`Batch`]: its leaves streamed in key order, found from its interior nodes by
//! [`tree_pages`], or through a range scan), the new one built bottom up or, for long keys,
//! through inserts ([`Sink`]), and the sample of a tree's leaves that tells how full they are
//! ([`sampled_leaf_fill`]).

use std::collections::BTreeMap;
use std::ops::Bound;

use redwood_btree::limits::TREE_HEIGHT_MAX;
use redwood_btree::{Node, NodeKind, StoredKey, Tree, TreeBuilder, Value as Stored};
use redwood_overflow::ChainRef;
use redwood_pager::{Page, PageId, PageRead, PageWrite};

use crate::error::Result;

/// Entries read from the old tree before they are written to the new one: the read borrows the
/// transaction, the writes need it mutably, so the copy goes in batches.
pub(super) const COPY_BATCH_ENTRIES: usize = 1024;

/// Leaves streamed per batch of a builder's copy: about a thousand entries of small values in
/// half-full leaves, and one stream of runs of up to `STREAM_RUN_PAGES_MAX` pages.
pub(super) const COPY_BATCH_LEAVES: usize = 64;

/// Leaves a compaction samples per table, by seeded random descents, to tell how full its
/// leaves are: enough for a mean within a few percent, few enough to cost a handful of reads
/// per level.
const FILL_SAMPLE_DESCENTS: u64 = 32;

/// The mean fill (bytes in use over the page size) of the leaves that
/// [`FILL_SAMPLE_DESCENTS`] seeded random descents from `root` reach; `None` for a tree of one
/// leaf, which a rewrite cannot pack. Each node is checked as the read paths check it, and a
/// descent is bounded by the tree height limit.
pub(super) fn sampled_leaf_fill(store: &impl PageRead, root: PageId) -> Result<Option<f64>> {
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

/// A damaged tree, found by a compaction's own walks.
fn corrupt(page_id: PageId, reason: String) -> crate::Error {
    crate::Error::Tree(redwood_btree::Error::Corrupt { page_id, reason })
}

/// Every page of a tree without long keys: its interior nodes (parents before children, depth
/// first) and its leaves (in key order).
#[derive(Debug, Default)]
pub(super) struct TreePages {
    pub interior: Vec<PageId>,
    pub leaves: Vec<PageId>,
}

impl TreePages {
    /// Frees every page: what `Tree::destroy` does for a tree without long keys, with no read
    /// of its leaves (a leaf holding a long key is refused when it is streamed).
    pub(super) fn free(&self, txn: &mut impl PageWrite) -> Result<()> {
        for &page_id in self.leaves.iter().chain(&self.interior) {
            txn.free(page_id)?;
        }
        Ok(())
    }
}

/// The pages of the tree at `root`, found from its interior nodes alone (the leaves are not
/// read here): what a copy streams, each leaf read once and then freed. Every leaf must lie at
/// the depth of the leftmost one; that depth is bounded by the height limit and the count of
/// leaves by `leaves_max` (the file's page count), so a damaged tree is an error in bounded
/// time and memory.
pub(super) fn tree_pages(
    store: &impl PageRead,
    root: PageId,
    leaves_max: u64,
) -> Result<TreePages> {
    // The interior levels above the leaves, from the leftmost descent.
    let mut height = 0;
    let mut page_id = root;
    loop {
        let node = Node::load_for_read(store.read_page(page_id)?, page_id)?;
        if node.kind() == NodeKind::Leaf {
            break;
        }
        height += 1;
        if height >= TREE_HEIGHT_MAX {
            let reason = format!("the leftmost descent is deeper than {TREE_HEIGHT_MAX} levels");
            return Err(corrupt(root, reason));
        }
        page_id = node.child_checked(0, page_id)?;
    }
    let mut pages = TreePages::default();
    if height == 0 {
        pages.leaves.push(root);
        return Ok(pages);
    }
    // Depth first over the interior levels (the root at depth 1), children in key order.
    let mut stack = vec![(root, 1)];
    while let Some((page_id, depth)) = stack.pop() {
        let node = Node::load_for_read(store.read_page(page_id)?, page_id)?;
        if node.kind() != NodeKind::Interior {
            let reason = format!("a leaf at depth {depth}, above the leftmost one's ({height})");
            return Err(corrupt(page_id, reason));
        }
        // A long separator owns a tail chain that freeing the listed pages would leak: such a
        // tree is copied through the insert path, and freed by `Tree::destroy`.
        if let Some(long) = (0..node.len()).find(|&index| node.key(index).tail().is_some()) {
            let bytes = usize::try_from(node.key(long).total_bytes()).unwrap_or(usize::MAX);
            let max_bytes = redwood_btree::limits::key_max_bytes(node.page_size());
            return Err(redwood_btree::Error::KeyTooLarge { bytes, max_bytes }.into());
        }
        pages.interior.push(page_id);
        let children = node.len() + 1;
        if depth == height {
            for child in 0..children {
                pages.leaves.push(node.child_checked(child, page_id)?);
            }
            if (pages.leaves.len() + pages.interior.len()) as u64 > leaves_max {
                let reason = format!("more pages than the file's {leaves_max}");
                return Err(corrupt(root, reason));
            }
        } else {
            for child in (0..children).rev() {
                stack.push((node.child_checked(child, page_id)?, depth + 1));
            }
        }
    }
    debug_assert!(!pages.leaves.is_empty() && stack.is_empty());
    Ok(pages)
}

/// Where a table's copy reads the old tree from, batch by batch.
pub(super) enum Source {
    /// Its leaves, listed from the interior nodes ([`tree_pages`]) and streamed
    /// [`COPY_BATCH_LEAVES`] at a time (each read once, around the cache, then freed): the
    /// builder's copy.
    Leaves { pages: TreePages, next: usize },
    /// Range scans of [`COPY_BATCH_ENTRIES`] entries, which resolve long keys: the inserts'
    /// copy.
    Range { tree: Tree, after: Option<Vec<u8>> },
}

impl Source {
    pub(super) fn leaves(pages: TreePages) -> Source {
        Source::Leaves { pages, next: 0 }
    }

    pub(super) fn range(tree: Tree) -> Source {
        Source::Range { tree, after: None }
    }

    /// The next batch; `None` after the last entry.
    pub(super) fn next_batch(&mut self, store: &impl PageRead) -> Result<Option<Batch>> {
        match self {
            Source::Leaves { pages, next } => {
                if *next == pages.leaves.len() {
                    return Ok(None);
                }
                let end = pages.leaves.len().min(*next + COPY_BATCH_LEAVES);
                let batch = Batch::read_leaves(store, &pages.leaves[*next..end])?;
                *next = end;
                Ok(Some(batch))
            }
            Source::Range { tree, after } => {
                let batch = Batch::read(store, tree, after.as_deref(), COPY_BATCH_ENTRIES)?;
                let Some(last) = batch.last_key() else { return Ok(None) };
                *after = Some(last.to_vec());
                Ok(Some(batch))
            }
        }
    }

    /// Frees the old tree's pages (its chains are the caller's): from the list when there is
    /// one, without reading a leaf again; else through `Tree::destroy`, which also frees long
    /// keys' tails.
    pub(super) fn free_old(self, txn: &mut impl PageWrite) -> Result<()> {
        match self {
            Source::Leaves { pages, .. } => pages.free(txn),
            Source::Range { tree, .. } => Ok(tree.destroy(txn)?),
        }
    }
}

/// Copies one [`Batch`] item of table `table` (old root `root`, named in errors) into `sink`,
/// recording each overflow chain the old values name in `chains` (a chain two values share is
/// `Corrupt`) and copying it.
pub(super) struct Copier<'c> {
    pub sink: &'c mut Sink,
    pub chains: &'c mut BTreeMap<PageId, ChainRef>,
    pub table: &'c str,
    pub root: PageId,
}

impl Copier<'_> {
    pub(super) fn copy(self, txn: &mut impl PageWrite, item: Copied<'_>) -> Result<()> {
        let replaced = match item {
            Copied::Leaf(page, page_id) => self.sink.push_leaf(txn, page, page_id)?,
            Copied::Entry(key, Stored::Inline(bytes)) => {
                self.sink.push(txn, key, Stored::Inline(bytes))?
            }
            Copied::Entry(key, Stored::Overflow { first_page, length }) => {
                let chain = ChainRef { first_page, length };
                if self.chains.insert(first_page, chain).is_some() {
                    let reason = format!("two values of table {:?} share the chain", self.table);
                    return Err(corrupt(first_page, reason));
                }
                let bytes = redwood_overflow::read(txn, chain)?;
                let copy = redwood_overflow::write(txn, &bytes)?;
                let reference = Stored::Overflow { first_page: copy.first_page, length };
                self.sink.push(txn, key, reference)?
            }
        };
        if replaced {
            return Err(corrupt(self.root, format!("table {:?} holds one key twice", self.table)));
        }
        Ok(())
    }
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

    /// Adds every entry of the leaf `page` (page `page_id` of the old tree, every key and
    /// value inline): as one node, its page copied, when the builder's open leaf is as full as
    /// [`policy::whole_leaf`] asks (or empty), else entry by entry, so a copy that packs
    /// partly full leaves is not cut short by a whole one. Whether a key was replaced, as for
    /// [`Sink::push`].
    pub(super) fn push_leaf(
        &mut self,
        txn: &mut impl PageWrite,
        page: &Page,
        page_id: PageId,
    ) -> Result<bool> {
        if let Sink::Built(builder) = self {
            let fill = builder.open_leaf_fill();
            if (builder.entries() == 0 || super::policy::whole_leaf(fill))
                && builder.push_leaf(txn, page, page_id)?
            {
                return Ok(false);
            }
        }
        let node = Node::load_for_read(page, page_id)?;
        let mut replaced = false;
        for index in 0..node.len() {
            let StoredKey::Inline(key) = node.key(index) else {
                return Err(corrupt(page_id, "a whole leaf holds a long key".to_owned()));
            };
            replaced |= self.push(txn, key, node.value(index))?;
        }
        Ok(replaced)
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
/// two per entry. A leaf full enough to be copied whole is kept as its page.
pub(super) struct Batch {
    /// Every key and inline value, back to back, and every whole leaf's page.
    bytes: Vec<u8>,
    items: Vec<Item>,
    /// Entries in all, those of whole leaves included.
    entries: usize,
}

/// One [`Batch`] item.
enum Item {
    /// An entry: its key's end in the batch's bytes, and its value.
    Entry(usize, BatchValue),
    /// A whole leaf, old page `PageId`, its page ending at this offset of the batch's bytes.
    Leaf(usize, PageId),
}

/// A [`Batch`] entry's value.
enum BatchValue {
    /// Inline, ending at this offset of the batch's bytes.
    Inline(usize),
    /// In an overflow chain.
    Overflow(ChainRef),
}

/// What a [`Batch`] holds, in key order.
pub(super) enum Copied<'b> {
    /// One entry.
    Entry(&'b [u8], Stored<'b>),
    /// A whole leaf (every key and value inline) and the old page it came from.
    Leaf(&'b Page, PageId),
}

impl Batch {
    fn new(capacity_bytes: usize) -> Batch {
        Batch { bytes: Vec::with_capacity(capacity_bytes), items: Vec::new(), entries: 0 }
    }

    /// Copies an entry into the batch.
    fn push_entry(&mut self, key: &[u8], value: Stored<'_>) {
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        let value = match value {
            Stored::Inline(bytes) => {
                self.bytes.extend_from_slice(bytes);
                BatchValue::Inline(self.bytes.len())
            }
            Stored::Overflow { first_page, length } => {
                BatchValue::Overflow(ChainRef { first_page, length })
            }
        };
        self.items.push(Item::Entry(key_end, value));
        self.entries += 1;
    }

    /// Up to `limit` entries of `tree` after `after` (from the start if `None`).
    pub(super) fn read(
        store: &impl PageRead,
        tree: &Tree,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Batch> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut batch = Batch::new(0);
        for item in tree.range(store, (lower, Bound::Unbounded)).take(limit) {
            let item = item?;
            batch.push_entry(item.key(), item.value());
        }
        Ok(batch)
    }

    /// The entries of `leaves` (a stretch of what [`tree_pages`] found), streamed
    /// (`PageRead::stream_pages`: runs read at once, around the cache). Each page must be a
    /// leaf and is checked as the read paths check one; a long key, which the builder does not
    /// take, is `KeyTooLarge`, so the caller copies the table through inserts instead.
    pub(super) fn read_leaves(store: &impl PageRead, leaves: &[PageId]) -> Result<Batch> {
        let page_bytes = store.page_size().bytes();
        let mut batch = Batch::new(leaves.len() * page_bytes);
        let mut failed = None;
        let mut next = 0;
        store.stream_pages(leaves, &mut |page| {
            let pushed = batch.push_leaf(page, leaves[next]);
            next += 1;
            pushed.map_err(|error| failed = Some(error)).is_ok()
        })?;
        if let Some(error) = failed {
            return Err(error);
        }
        debug_assert_eq!(next, leaves.len());
        Ok(batch)
    }

    /// Copies the leaf `page` (page `page_id`) into the batch: whole if it is full enough
    /// ([`policy::whole_leaf`]) and holds no long key and no overflow value, else entry by
    /// entry.
    fn push_leaf(&mut self, page: &Page, page_id: PageId) -> Result<()> {
        let node = Node::load_for_read(page, page_id)?;
        if node.kind() != NodeKind::Leaf {
            return Err(corrupt(page_id, "an interior node where a leaf belongs".to_owned()));
        }
        let page_bytes = node.page_size().bytes();
        let fill = page_bytes.saturating_sub(node.free_bytes()) as f64 / page_bytes as f64;
        let inline = |index| {
            matches!(node.key(index), StoredKey::Inline(_))
                && matches!(node.value(index), Stored::Inline(_))
        };
        if super::policy::whole_leaf(fill) && (0..node.len()).all(inline) {
            self.bytes.extend_from_slice(page.as_bytes());
            self.items.push(Item::Leaf(self.bytes.len(), page_id));
            self.entries += node.len();
            return Ok(());
        }
        for index in 0..node.len() {
            let key = match node.key(index) {
                StoredKey::Inline(key) => key,
                long @ StoredKey::Long { .. } => {
                    let bytes = usize::try_from(long.total_bytes()).unwrap_or(usize::MAX);
                    let max_bytes = redwood_btree::limits::key_max_bytes(node.page_size());
                    return Err(redwood_btree::Error::KeyTooLarge { bytes, max_bytes }.into());
                }
            };
            self.push_entry(key, node.value(index));
        }
        Ok(())
    }

    /// Entries in the batch, those of whole leaves included.
    pub(super) fn len(&self) -> usize {
        self.entries
    }

    /// The items in order, borrowing the batch.
    pub(super) fn iter(&self) -> impl Iterator<Item = Copied<'_>> {
        let mut start = 0;
        self.items.iter().map(move |item| match *item {
            Item::Leaf(end, page_id) => {
                let bytes = &self.bytes[start..end];
                start = end;
                Copied::Leaf(Page::from_bytes(bytes).expect("a whole page"), page_id)
            }
            Item::Entry(key_end, ref value) => {
                let key = &self.bytes[start..key_end];
                let value = match *value {
                    BatchValue::Inline(end) => {
                        start = end;
                        Stored::Inline(&self.bytes[key_end..end])
                    }
                    BatchValue::Overflow(chain) => {
                        start = key_end;
                        Stored::Overflow { first_page: chain.first_page, length: chain.length }
                    }
                };
                Copied::Entry(key, value)
            }
        })
    }

    /// The last entry's key (of a batch read by [`Batch::read`], which holds entries only).
    pub(super) fn last_key(&self) -> Option<&[u8]> {
        self.iter()
            .filter_map(|item| match item {
                Copied::Entry(key, _) => Some(key),
                Copied::Leaf(..) => None,
            })
            .last()
    }
}

#[cfg(test)]
mod tests {
    use redwood_btree::{Node, Tree};
    use redwood_pager::testing::MemPageStore;
    use redwood_pager::{PageId, PageRead, PageSize, PageWrite};

    use super::{Batch, tree_pages};

    /// Writes an interior node over `page_id` whose children are `children` (separators 1, 2...).
    fn interior(store: &mut MemPageStore, page_id: PageId, children: &[PageId]) {
        let mut node = Node::new_interior(PageSize::DEFAULT, children[0]);
        for (index, &child) in children[1..].iter().enumerate() {
            let key = [index as u8 + 1];
            node.insert_interior(index, &key[..], child).unwrap();
        }
        store.write_page(page_id, node.into_page()).unwrap();
    }

    fn leaf(store: &mut MemPageStore) -> PageId {
        let page_id = store.allocate().unwrap();
        store.write_page(page_id, Node::new_leaf(PageSize::DEFAULT).into_page()).unwrap();
        page_id
    }

    #[test]
    fn the_leaves_come_in_key_order_and_stream_back_every_entry() {
        let mut store = MemPageStore::new(PageSize::DEFAULT);
        let mut tree = Tree::create(&mut store).unwrap();
        for n in 0u32..5000 {
            tree.insert(&mut store, &n.to_be_bytes(), &[n as u8; 40]).unwrap();
        }
        let pages = tree_pages(&store, tree.root(), u64::MAX).unwrap();
        let leaves = &pages.leaves;
        assert!(leaves.len() > 50 && !pages.interior.is_empty(), "{pages:?}");
        let (mut entries, mut whole) = (0u32, 0);
        for stretch in leaves.chunks(7) {
            let batch = Batch::read_leaves(&store, stretch).unwrap();
            for item in batch.iter() {
                let mut check = |key: &[u8], value| {
                    assert_eq!(key, entries.to_be_bytes(), "in key order");
                    assert_eq!(value, redwood_btree::Value::Inline(&[entries as u8; 40]));
                    entries += 1;
                };
                match item {
                    super::Copied::Entry(key, value) => check(key, value),
                    super::Copied::Leaf(page, page_id) => {
                        whole += 1;
                        let node = Node::load(page, page_id).unwrap();
                        for index in 0..node.len() {
                            check(node.key(index).inline().unwrap(), node.value(index));
                        }
                    }
                }
            }
        }
        assert_eq!(entries, 5000);
        assert!(whole >= leaves.len() - 1, "an ascending load's full leaves come whole: {whole}");
        // Freed without a read of a leaf, the store holds only what it held before the tree.
        let before = store.allocated().len() - leaves.len() - pages.interior.len();
        pages.free(&mut store).unwrap();
        assert_eq!(store.allocated().len(), before);
        let one = Tree::create(&mut store).unwrap();
        assert_eq!(tree_pages(&store, one.root(), u64::MAX).unwrap().leaves, vec![one.root()]);
    }

    #[test]
    fn a_damaged_tree_is_corrupt_in_bounded_time() {
        let mut store = MemPageStore::new(PageSize::DEFAULT);
        let (a, b, c) = (leaf(&mut store), leaf(&mut store), leaf(&mut store));
        let (inner, root) = (store.allocate().unwrap(), store.allocate().unwrap());
        interior(&mut store, inner, &[a, b]);
        // A leaf beside an interior node: leaves at two depths.
        interior(&mut store, root, &[inner, c]);
        let error = tree_pages(&store, root, u64::MAX).unwrap_err().to_string();
        assert!(error.contains("a leaf at depth"), "{error}");
        // An interior node that is its own child: the descent is cut at the height limit.
        interior(&mut store, root, &[root, c]);
        let error = tree_pages(&store, root, u64::MAX).unwrap_err().to_string();
        assert!(error.contains("deeper than"), "{error}");
        // Children shared so the walk would find more leaves than the file has pages.
        let shared = store.allocate().unwrap();
        interior(&mut store, shared, &[a, b, c]);
        interior(&mut store, root, &[shared, shared, shared, shared]);
        let error = tree_pages(&store, root, 8).unwrap_err().to_string();
        assert!(error.contains("more pages"), "{error}");
        // A long separator (its tail chain is the tree's): refused, so the copy goes through
        // the insert path and `Tree::destroy` frees the chain with the node.
        let mut long = Node::new_interior(PageSize::DEFAULT, a);
        let prefix = vec![9u8; redwood_btree::limits::key_prefix_bytes(PageSize::DEFAULT)];
        let tail = redwood_btree::KeyTail { first_page: c, length: 100 };
        long.insert_interior(0, redwood_btree::StoredKey::Long { prefix: &prefix, tail }, b)
            .unwrap();
        store.write_page(inner, long.into_page()).unwrap();
        interior(&mut store, root, &[inner, shared]);
        let error = tree_pages(&store, root, u64::MAX).unwrap_err();
        assert!(
            matches!(error, crate::Error::Tree(redwood_btree::Error::KeyTooLarge { .. })),
            "{error}"
        );
        interior(&mut store, inner, &[a, b]);
        // A leaf list that names an interior node: refused as the stream reads it.
        let batch = Batch::read_leaves(&store, &[a, inner]).err().map(|error| error.to_string());
        assert!(batch.is_some_and(|error| error.contains("interior node where a leaf")));
        assert!(store.read_page(a).is_ok());
    }
}
