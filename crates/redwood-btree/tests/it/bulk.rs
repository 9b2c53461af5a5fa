//! Bulk loads: an ascending load fills every page but the last of each level (the right-edge
//! split); a random load keeps the even split; a leaf the store holds (written in this
//! transaction) is changed in place, with no `write_page`, and a store holding every page
//! builds exactly the tree a store holding none does; a leaf the transaction has not written
//! yet still gets the full checks.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use redwood_btree::{Error, Node, NodeKind, Tree};
use redwood_pager::testing::MemPageStore;
use redwood_pager::{
    PAGE_HEADER_BYTES, PageBuf, PageClaims, PageGuard, PageId, PageRead, PageSize, PageWrite,
    Result as PagerResult,
};

use crate::support::runner;

/// Bytes before a node's slot array: the page header and the node header.
const NODE_HEADERS_BYTES: usize = 64;

/// Which pages a [`CountingStore`] holds for `page_mut`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Hold {
    /// Every stored page (as `MemPageStore` does).
    All,
    /// The pages written since the last [`CountingStore::begin`], as a write transaction does.
    Written,
    /// None: every change goes through `write_page`.
    Nothing,
}

/// A `MemPageStore` that counts `write_page` and `page_mut` calls per page and holds pages
/// for `page_mut` as its [`Hold`] says.
pub(crate) struct CountingStore {
    pub(crate) inner: MemPageStore,
    hold: Hold,
    written: BTreeSet<PageId>,
    writes: BTreeMap<PageId, u64>,
    page_muts: BTreeMap<PageId, u64>,
    /// `holds` calls that answered yes.
    held_answers: std::cell::Cell<u64>,
}

impl CountingStore {
    pub(crate) fn new(hold: Hold) -> Self {
        Self {
            inner: MemPageStore::default(),
            hold,
            written: BTreeSet::new(),
            writes: BTreeMap::new(),
            page_muts: BTreeMap::new(),
            held_answers: std::cell::Cell::new(0),
        }
    }

    /// Starts a new "transaction": no page is held until written again.
    /// Whether `page_mut` hands out `page_id`, as the [`Hold`] says.
    fn is_held(&self, page_id: PageId) -> bool {
        match self.hold {
            Hold::All => true,
            Hold::Written => self.written.contains(&page_id),
            Hold::Nothing => false,
        }
    }

    pub(crate) fn begin(&mut self) {
        self.written.clear();
    }

    fn writes(&self) -> u64 {
        self.writes.values().sum()
    }

    fn writes_of(&self, page_id: PageId) -> u64 {
        self.writes.get(&page_id).copied().unwrap_or(0)
    }

    fn page_muts_of(&self, page_id: PageId) -> u64 {
        self.page_muts.get(&page_id).copied().unwrap_or(0)
    }
}

impl PageRead for CountingStore {
    fn page_size(&self) -> PageSize {
        self.inner.page_size()
    }

    fn read_page(&self, page_id: PageId) -> PagerResult<PageGuard<'_>> {
        self.inner.read_page(page_id)
    }

    fn root(&self, slot: usize) -> Option<PageId> {
        self.inner.root(slot)
    }
}

impl PageWrite for CountingStore {
    fn allocate(&mut self) -> PagerResult<PageId> {
        self.inner.allocate()
    }

    fn write_page(&mut self, page_id: PageId, page: PageBuf) -> PagerResult<()> {
        *self.writes.entry(page_id).or_default() += 1;
        self.written.insert(page_id);
        self.inner.write_page(page_id, page)
    }

    fn holds(&self, page_id: PageId) -> bool {
        let held = self.is_held(page_id);
        self.held_answers.set(self.held_answers.get() + u64::from(held));
        held
    }

    fn page_mut(&mut self, page_id: PageId) -> PagerResult<Option<&mut PageBuf>> {
        if !self.is_held(page_id) {
            return Ok(None);
        }
        *self.page_muts.entry(page_id).or_default() += 1;
        self.inner.page_mut(page_id)
    }

    fn free(&mut self, page_id: PageId) -> PagerResult<()> {
        self.written.remove(&page_id);
        self.inner.free(page_id)
    }

    fn set_root(&mut self, slot: usize, page_id: Option<PageId>) -> PagerResult<()> {
        self.inner.set_root(slot, page_id)
    }
}

/// Every node of each level, left to right (the root's level first), as (page, fill): the
/// bytes its cells and slots use over the bytes they may use (the page less its headers).
pub(crate) fn levels(tree: &Tree, store: &impl PageRead) -> Vec<Vec<(PageId, f64)>> {
    let mut levels = Vec::new();
    let mut level = vec![tree.root()];
    while !level.is_empty() {
        let mut next = Vec::new();
        let mut fills = Vec::new();
        for &page_id in &level {
            let node = Node::load(store.read_page(page_id).unwrap(), page_id).unwrap();
            let area = store.page_size().bytes() - NODE_HEADERS_BYTES;
            fills.push((page_id, (area - node.free_bytes()) as f64 / area as f64));
            if node.kind() == NodeKind::Interior {
                next.extend((0..=node.len()).map(|index| node.child(index)));
            }
        }
        levels.push(fills);
        level = next;
    }
    levels
}

pub(crate) fn ascending_key(number: u32) -> Vec<u8> {
    format!("key{number:08}").into_bytes()
}

/// A scrambled order of `0..count`, the same every run.
fn scrambled(count: u32) -> Vec<u32> {
    let mut numbers: Vec<u32> = (0..count).collect();
    numbers.sort_by_key(|&number| u64::from(number).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    numbers
}

#[test]
fn an_ascending_load_fills_every_page_but_the_last_of_each_level() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    for number in 0..20_000 {
        tree.insert(&mut store, &ascending_key(number), &number.to_le_bytes().repeat(8)).unwrap();
    }
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert_eq!(stats.entries, 20_000);
    assert_eq!(stats.underfull_nodes, 0, "{stats:?}");
    assert!(stats.right_edge_underfull_nodes < stats.height as u64, "{stats:?}");
    assert!(stats.height >= 3, "deep enough to split interior nodes: {stats:?}");
    let levels = levels(&tree, &store);
    for (depth, level) in levels.iter().enumerate().skip(1) {
        let (_, but_last) = level.split_last().unwrap();
        let emptiest = but_last.iter().map(|&(_, fill)| fill).fold(1.0, f64::min);
        assert!(emptiest >= 0.9, "level {depth}: a page {:.0}% full", emptiest * 100.0);
    }
    for number in 0..20_000 {
        let value = tree.get(&store, &ascending_key(number)).unwrap();
        assert_eq!(value, Some(number.to_le_bytes().repeat(8)), "key {number}");
    }
    assert_eq!(tree.range(&store, ..).count(), 20_000);
}

#[test]
fn a_random_load_splits_evenly() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    for number in scrambled(20_000) {
        tree.insert(&mut store, &ascending_key(number), &[3u8; 32]).unwrap();
    }
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert_eq!((stats.entries, stats.underfull_nodes), (20_000, 0), "{stats:?}");
    let leaves = levels(&tree, &store).pop().unwrap();
    let fills: Vec<f64> = leaves.iter().map(|&(_, fill)| fill).collect();
    let mean = fills.iter().sum::<f64>() / fills.len() as f64;
    // Even cuts leave halves of about half a page that fill up again: no leaf near empty, and
    // on average well short of full (a right-edge cut in the middle would leave near-empty
    // leaves behind). The last leaf may be the new one of a right-edge cut.
    let (_, but_last) = fills.split_last().unwrap();
    let emptiest = but_last.iter().copied().fold(1.0, f64::min);
    assert!(emptiest >= 0.45, "a leaf {:.0}% full", emptiest * 100.0);
    assert!((0.55..0.9).contains(&mean), "leaves {:.0}% full on average", mean * 100.0);
}

#[test]
fn a_descending_load_keeps_the_even_split() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    for number in (0..5_000).rev() {
        tree.insert(&mut store, &ascending_key(number), &[3u8; 32]).unwrap();
    }
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert_eq!((stats.entries, stats.underfull_nodes), (5_000, 0), "{stats:?}");
    let leaves = levels(&tree, &store).pop().unwrap();
    let (_, but_first) = leaves.split_first().unwrap();
    assert!(but_first.iter().all(|&(_, fill)| (0.45..0.6).contains(&fill)), "{leaves:?}");
}

/// A split reads the path above its leaf again; the parents the transaction holds
/// (`PageWrite::holds`) are not checked in full again, and the tree comes out the same as from
/// a store that holds nothing.
#[test]
fn a_split_takes_the_parents_the_transaction_holds_in_place() {
    let load = |hold: Hold| {
        let mut store = CountingStore::new(hold);
        let mut tree = Tree::create(&mut store).unwrap();
        for number in 0..3_000u64 {
            let scattered = number.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1_000_000;
            tree.insert(&mut store, &ascending_key(scattered as u32), &[5u8; 40]).unwrap();
        }
        (tree, store)
    };
    let (tree, held) = load(Hold::Written);
    let levels_held = levels(&tree, &held);
    assert!(levels_held.len() >= 2, "the load has parents: {}", levels_held.len());
    let root = tree.root();
    assert!(held.held_answers.get() > 0, "splits found held parents");
    let (other_tree, unheld) = load(Hold::Nothing);
    assert_eq!(unheld.held_answers.get(), 0);
    assert_eq!(other_tree.root(), root);
    assert_eq!(levels(&other_tree, &unheld), levels_held, "the same tree either way");
    let stats = tree.check_invariants(&held, &mut PageClaims::new()).unwrap();
    assert_eq!(stats.entries, 3_000);
}

#[test]
fn inserts_into_a_held_leaf_change_it_in_place() {
    let mut store = CountingStore::new(Hold::Written);
    let mut tree = Tree::create(&mut store).unwrap();
    let leaf = tree.root();
    assert_eq!(store.writes_of(leaf), 1, "created");
    for number in 0..40 {
        tree.insert(&mut store, &ascending_key(number), &[1u8; 20]).unwrap();
    }
    assert_eq!(store.writes(), 1, "no write_page after the create");
    assert_eq!(store.page_muts_of(leaf), 40, "every insert changed the held leaf");
    // Overwrites (a longer value, then the same length) and removals that keep the leaf a
    // quarter full (it is the root here, so any) stay in place too.
    tree.insert(&mut store, &ascending_key(3), &[2u8; 30]).unwrap();
    tree.insert(&mut store, &ascending_key(4), &[2u8; 20]).unwrap();
    for number in 30..40 {
        assert!(tree.remove(&mut store, &ascending_key(number)).unwrap());
    }
    assert_eq!(store.writes(), 1);
    assert_eq!(tree.get(&store, &ascending_key(3)).unwrap(), Some(vec![2u8; 30]));
    assert_eq!(tree.get(&store, &ascending_key(35)).unwrap(), None);
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert_eq!(stats.entries, 30);
}

#[test]
fn a_leaf_not_yet_written_in_the_transaction_is_written_once_then_held() {
    let mut store = CountingStore::new(Hold::Written);
    let mut tree = Tree::create(&mut store).unwrap();
    for number in 0..2_000 {
        tree.insert(&mut store, &ascending_key(number), &[1u8; 20]).unwrap();
    }
    // Every other key removed: the full leaves of the ascending load have room again.
    for number in (1..2_000).step_by(2) {
        tree.remove(&mut store, &ascending_key(number)).unwrap();
    }
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert!(stats.height >= 2 && stats.underfull_nodes == 0, "{stats:?}");
    // A new transaction: two inserts into each of some leaves, which fit.
    store.begin();
    let before = store.writes.clone();
    let mut touched = BTreeSet::new();
    for number in (0..2_000).step_by(100) {
        for suffix in ["-a", "-b"] {
            let key = format!("key{number:08}{suffix}").into_bytes();
            tree.insert(&mut store, &key, b"v").unwrap();
            touched.insert(key);
        }
    }
    let written: Vec<PageId> = store
        .writes
        .iter()
        .filter(|&(page_id, &count)| before.get(page_id) != Some(&count))
        .map(|(&page_id, _)| page_id)
        .collect();
    for &page_id in &written {
        let first_touch = store.writes_of(page_id) - before.get(&page_id).copied().unwrap_or(0);
        assert_eq!(first_touch, 1, "{page_id} is written once, on its first touch");
        let node = Node::load(store.read_page(page_id).unwrap(), page_id).unwrap();
        assert_eq!(node.kind(), NodeKind::Leaf, "no interior node is written without a split");
    }
    assert!(written.len() <= touched.len() / 2, "one write per leaf: {written:?}");
    let page_muts: u64 = store.page_muts.values().sum();
    assert!(page_muts >= (touched.len() / 2) as u64, "later inserts into a leaf are in place");
    for key in &touched {
        assert_eq!(tree.get(&store, key).unwrap(), Some(b"v".to_vec()));
    }
    tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
}

#[test]
fn a_shorter_overwrite_that_leaves_a_held_leaf_underfull_rebalances() {
    let mut store = CountingStore::new(Hold::All);
    let mut tree = Tree::create(&mut store).unwrap();
    for number in 0..200 {
        tree.insert(&mut store, &ascending_key(number), &[1u8; 100]).unwrap();
    }
    let writes_before = store.writes();
    // Shrink every value of the first leaves: a leaf of 19-byte cells alone would be underfull,
    // so the in-place path declines once a leaf would be, and the owned path rebalances it.
    for number in 0..80 {
        tree.insert(&mut store, &ascending_key(number), b"").unwrap();
    }
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert_eq!((stats.entries, stats.underfull_nodes), (200, 0), "{stats:?}");
    assert!(store.writes() > writes_before, "the rebalancing went through write_page");
    assert_eq!(tree.get(&store, &ascending_key(5)).unwrap(), Some(Vec::new()));
}

#[test]
fn a_leaf_not_held_gets_the_full_checks_before_an_insert() {
    let mut store = CountingStore::new(Hold::Written);
    let mut tree = Tree::create(&mut store).unwrap();
    for key in [b"a", b"b", b"c", b"d"] {
        tree.insert(&mut store, key, b"1").unwrap();
    }
    // Swap the first two slots: every cell stays in bounds, the keys no longer ascend. A
    // lookup's checks pass (each probed cell is sound); only the full checks see it.
    let root = tree.root();
    let mut page = store.read_page(root).unwrap().to_page_buf();
    let slots = PAGE_HEADER_BYTES + 32;
    let bytes = page.as_mut_bytes();
    let (first, second) = ([bytes[slots], bytes[slots + 1]], [bytes[slots + 2], bytes[slots + 3]]);
    bytes[slots..slots + 2].copy_from_slice(&second);
    bytes[slots + 2..slots + 4].copy_from_slice(&first);
    store.write_page(root, page).unwrap();
    assert!(tree.get(&store, b"d").is_ok(), "the lookup checks pass");
    store.begin();
    let before = store.read_page(root).unwrap().as_bytes().to_vec();
    match tree.insert(&mut store, b"e", b"2") {
        Err(Error::Corrupt { page_id, reason }) => {
            assert_eq!(page_id, root);
            assert!(reason.contains("ascending"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(store.read_page(root).unwrap().as_bytes(), before, "nothing written");
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, usize),
    Remove(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u16..3000, 0usize..300).prop_map(|(key, length)| Op::Insert(key, length)),
        1 => (0u16..3000).prop_map(Op::Remove),
    ]
}

/// Every page's node bytes (past the page header, whose seal a held page leaves stale).
fn bodies(store: &CountingStore) -> Vec<(PageId, Vec<u8>)> {
    let pages = store.inner.allocated().iter().copied();
    pages
        .map(|page_id| {
            let page = store.read_page(page_id).unwrap();
            (page_id, page.as_bytes()[PAGE_HEADER_BYTES..].to_vec())
        })
        .collect()
}

#[test]
fn a_store_holding_every_page_builds_the_same_tree_as_one_holding_none() {
    // Runs of ascending keys among random ones, so both split cuts and in-place changes mix.
    let strategy = proptest::collection::vec((op(), 1u16..40), 1..200);
    runner("a_store_holding_every_page_builds_the_same_tree_as_one_holding_none", 24)
        .run(&strategy, |ops| {
            let mut held = CountingStore::new(Hold::All);
            let mut owned = CountingStore::new(Hold::Nothing);
            let mut held_tree = Tree::create(&mut held).unwrap();
            let mut owned_tree = Tree::create(&mut owned).unwrap();
            for (op, run) in ops {
                for step in 0..run {
                    let key = |number: u16| number.wrapping_add(step).to_be_bytes().repeat(4);
                    match &op {
                        Op::Insert(number, length) => {
                            let value = vec![*length as u8; *length];
                            let a = held_tree.insert(&mut held, &key(*number), &value).unwrap();
                            let b = owned_tree.insert(&mut owned, &key(*number), &value).unwrap();
                            prop_assert_eq!(a, b);
                        }
                        Op::Remove(number) => {
                            let a = held_tree.remove(&mut held, &key(*number)).unwrap();
                            let b = owned_tree.remove(&mut owned, &key(*number)).unwrap();
                            prop_assert_eq!(a, b);
                        }
                    }
                }
            }
            prop_assert_eq!(held_tree.root(), owned_tree.root());
            let (held_pages, owned_pages) = (bodies(&held), bodies(&owned));
            let ids =
                |pages: &[(PageId, Vec<u8>)]| pages.iter().map(|&(id, _)| id).collect::<Vec<_>>();
            prop_assert_eq!(ids(&held_pages), ids(&owned_pages));
            let differing = held_pages.iter().zip(&owned_pages).find(|(a, b)| a.1 != b.1);
            prop_assert!(differing.is_none(), "page {:?} differs", differing.map(|(a, _)| a.0));
            prop_assert_eq!(owned.page_muts.len(), 0);
            let stats = held_tree.check_invariants(&held, &mut PageClaims::new()).unwrap();
            prop_assert_eq!(stats.underfull_nodes, 0);
            Ok(())
        })
        .unwrap();
}
