//! Malformed node pages whose checksums pass: every operation that meets one returns
//! `Error::Corrupt` naming the page, in bounded time (each crafted operation that could loop runs
//! under `craft::bounded`), and never panics. A refused modification writes no page.

use std::fmt::Debug;

use redwood_btree::limits::{OVERFLOW_VALUE_MAX_BYTES, TREE_HEIGHT_MAX};
use redwood_btree::{Entry, Error, Full, Node, OwnedKey, OwnedValue, Tree, Value};
use redwood_pager::testing::MemPageStore;
use redwood_pager::{PageClaims, PageId, PageSize, PageWrite};

use crate::craft::{
    RawValue, allocate, bounded, images, leaf_cell, put_interior, put_leaf, put_simple_leaf,
};

/// The `Corrupt` error's reason, after checking the result is one naming `page_id`.
#[track_caller]
fn corrupt_at<T: Debug>(result: Result<T, Error>, page_id: PageId, what: &str) -> String {
    match result {
        Err(Error::Corrupt { page_id: at, reason }) => {
            assert_eq!(at, page_id, "{what}: {reason}");
            reason
        }
        other => panic!("{what}: expected Corrupt at {page_id}, got {other:?}"),
    }
}

/// Drains a scan (at most 100,000 items, so a scan that cycles while yielding ends too) and
/// returns its first error, or how many items it gave.
fn scan<'s>(items: impl Iterator<Item = Result<Entry<'s>, Error>>) -> Result<usize, Error> {
    let mut count = 0;
    for item in items.take(100_000) {
        item?;
        count += 1;
    }
    Ok(count)
}

/// Runs every operation against the tree at `root` and expects each to be `Corrupt` at
/// `page_id` (a read for `key`, scans both ways, an insert, a remove, the integrity check), with
/// no page written.
fn every_operation_is_corrupt(store: MemPageStore, root: PageId, page_id: PageId, key: &[u8]) {
    every_operation_but_a_forward_scan_is_corrupt(store, root, page_id, key, None);
}

/// As [`every_operation_is_corrupt`], except that an unbounded forward scan, which descends
/// along leftmost children and then follows sibling links, never reads a separator: with
/// `forward_entries` it must give exactly that many entries (all of them, the damaged
/// separator unused) instead of an error.
fn every_operation_but_a_forward_scan_is_corrupt(
    mut store: MemPageStore,
    root: PageId,
    page_id: PageId,
    key: &[u8],
    forward_entries: Option<usize>,
) {
    let pages: Vec<PageId> = store.allocated().iter().copied().collect();
    let before = images(&store, &pages);
    let mut tree = Tree::open(root);
    let key = key.to_vec();
    let store = bounded("every operation", move || {
        corrupt_at(tree.get_value(&store, &key), page_id, "get");
        match forward_entries {
            None => _ = corrupt_at(scan(tree.range(&store, ..)), page_id, "range"),
            Some(entries) => assert_eq!(scan(tree.range(&store, ..)).unwrap(), entries),
        }
        corrupt_at(scan(tree.range(&store, ..).rev()), page_id, "reverse range");
        corrupt_at(tree.insert(&mut store, &key, b"new"), page_id, "insert");
        corrupt_at(tree.remove(&mut store, &key), page_id, "remove");
        let mut claims = PageClaims::new();
        corrupt_at(tree.check_invariants(&store, &mut claims), page_id, "check_invariants");
        assert_eq!(tree.root(), root);
        store
    });
    assert_eq!(images(&store, &pages), before, "a refused operation writes no page");
}

#[test]
fn a_leaf_key_over_the_limit_is_corrupt_for_every_operation() {
    let mut store = MemPageStore::default();
    let root = allocate(&mut store, 1)[0];
    let long_key = vec![b'k'; 700];
    put_simple_leaf(&mut store, root, None, &[(b"a", b"1"), (&long_key, b"v"), (b"z", b"2")]);
    let reason = corrupt_at(Tree::open(root).get(&store, b"a"), root, "get");
    assert!(reason.contains("key of 700 bytes"), "{reason}");
    every_operation_is_corrupt(store, root, root, b"a");
}

#[test]
fn a_separator_over_the_limit_is_corrupt_for_every_operation() {
    let mut store = MemPageStore::default();
    let [root, left, right] = allocate(&mut store, 3)[..] else { unreachable!() };
    let long_key = vec![b'm'; 600];
    put_interior(&mut store, root, left, &[(&long_key, right)]);
    put_simple_leaf(&mut store, left, Some(right), &[(b"a", b"1")]);
    put_simple_leaf(&mut store, right, None, &[(b"n", b"2")]);
    // Scans check a separator only where they read it (ten entries need not check a hundred).
    every_operation_but_a_forward_scan_is_corrupt(store, root, root, b"a", Some(2));
}

#[test]
fn an_inline_value_over_the_limit_is_corrupt_for_every_operation() {
    let mut store = MemPageStore::default();
    let root = allocate(&mut store, 1)[0];
    put_simple_leaf(&mut store, root, None, &[(b"a", &[7u8; 600])]);
    let reason = corrupt_at(Tree::open(root).get(&store, b"a"), root, "get");
    assert!(reason.contains("inline value of 600 bytes"), "{reason}");
    every_operation_is_corrupt(store, root, root, b"a");
}

#[test]
fn overflow_references_of_impossible_lengths_are_corrupt() {
    for length in [0, OVERFLOW_VALUE_MAX_BYTES + 1, u64::MAX - 7, u64::MAX] {
        let mut store = MemPageStore::default();
        let root = allocate(&mut store, 1)[0];
        let cell = leaf_cell(b"big", RawValue::Overflow { first_page: 500, length });
        put_leaf(&mut store, root, None, &[cell]);
        let reason = corrupt_at(Tree::open(root).get_value(&store, b"big"), root, "get_value");
        assert!(reason.contains(&format!("{length} bytes")), "{reason}");
        every_operation_is_corrupt(store, root, root, b"big");
    }
    // The limit itself is a value a chain may hold.
    let mut store = MemPageStore::default();
    let root = allocate(&mut store, 1)[0];
    let length = OVERFLOW_VALUE_MAX_BYTES;
    put_leaf(
        &mut store,
        root,
        None,
        &[leaf_cell(b"big", RawValue::Overflow { first_page: 500, length })],
    );
    let value = Tree::open(root).get_value(&store, b"big").unwrap();
    assert_eq!(value, Some(OwnedValue::Overflow { first_page: PageId::new(500), length }));
}

#[test]
fn inserting_an_overflow_reference_of_an_impossible_length_is_refused() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    for length in [0, OVERFLOW_VALUE_MAX_BYTES + 1, u64::MAX] {
        let reference = Value::Overflow { first_page: PageId::new(500), length };
        match tree.insert_value(&mut store, b"big", reference) {
            Err(Error::InvalidOverflowRef { length: refused, .. }) => assert_eq!(refused, length),
            other => panic!("expected InvalidOverflowRef, got {other:?}"),
        }
    }
    assert_eq!(tree.get_value(&store, b"big").unwrap(), None);
}

/// A root `parent` over an underfull leaf `leaf` (keys `a`, `b`) and, right of separator `m`,
/// whatever `sibling` the test writes. Returns (store, parent, leaf, sibling).
fn underfull_leaf_beside(
    write_sibling: impl FnOnce(&mut MemPageStore, PageId),
) -> (MemPageStore, PageId, PageId, PageId) {
    let mut store = MemPageStore::default();
    let [parent, leaf, sibling] = allocate(&mut store, 3)[..] else { unreachable!() };
    put_interior(&mut store, parent, leaf, &[(b"m", sibling)]);
    put_simple_leaf(&mut store, leaf, Some(sibling), &[(b"a", b"1"), (b"b", b"2")]);
    write_sibling(&mut store, sibling);
    (store, parent, leaf, sibling)
}

/// Removes `a` from the underfull leaf, which pairs it with its sibling: `Corrupt` at
/// `page_id`, nothing written. Returns the reason.
fn removal_is_refused(store: MemPageStore, parent: PageId, page_id: PageId) -> String {
    let pages: Vec<PageId> = store.allocated().iter().copied().collect();
    let before = images(&store, &pages);
    let (store, reason) = bounded("remove", move || {
        let mut store = store;
        let mut tree = Tree::open(parent);
        let reason = corrupt_at(tree.remove(&mut store, b"a"), page_id, "remove");
        (store, reason)
    });
    assert_eq!(images(&store, &pages), before, "a refused removal writes no page");
    reason
}

#[test]
fn removing_from_a_leaf_whose_sibling_is_an_interior_node_is_corrupt() {
    let (store, parent, _, sibling) = underfull_leaf_beside(|store, sibling| {
        let [grandchild] = allocate(store, 1)[..] else { unreachable!() };
        put_simple_leaf(store, grandchild, None, &[(b"p", b"3")]);
        put_interior(store, sibling, grandchild, &[]);
    });
    let reason = removal_is_refused(store, parent, sibling);
    assert!(reason.contains("sibling"), "{reason}");
}

#[test]
fn a_sibling_with_a_key_over_the_limit_stops_a_rebalance() {
    let (store, parent, _, sibling) = underfull_leaf_beside(|store, sibling| {
        put_simple_leaf(store, sibling, None, &[(&[b'n'; 700], b"3")]);
    });
    let reason = removal_is_refused(store, parent, sibling);
    assert!(reason.contains("key of 700 bytes"), "{reason}");
}

#[test]
fn a_sibling_with_keys_below_the_separator_stops_a_rebalance() {
    let (store, parent, _, sibling) = underfull_leaf_beside(|store, sibling| {
        put_simple_leaf(store, sibling, None, &[(b"c", b"3")]);
    });
    let reason = removal_is_refused(store, parent, sibling);
    assert!(reason.contains("below the parent's separator"), "{reason}");
}

#[test]
fn a_sibling_link_that_skips_the_parents_next_child_stops_a_rebalance() {
    let mut store = MemPageStore::default();
    let [parent, leaf, sibling] = allocate(&mut store, 3)[..] else { unreachable!() };
    put_interior(&mut store, parent, leaf, &[(b"m", sibling)]);
    put_simple_leaf(&mut store, leaf, None, &[(b"a", b"1"), (b"b", b"2")]);
    put_simple_leaf(&mut store, sibling, None, &[(b"n", b"3")]);
    let reason = removal_is_refused(store, parent, leaf);
    assert!(reason.contains("right sibling"), "{reason}");
}

#[test]
fn a_sibling_that_is_an_ancestor_stops_a_rebalance() {
    let mut store = MemPageStore::default();
    let [parent, leaf] = allocate(&mut store, 2)[..] else { unreachable!() };
    put_interior(&mut store, parent, leaf, &[(b"m", parent)]);
    put_simple_leaf(&mut store, leaf, Some(parent), &[(b"a", b"1"), (b"b", b"2")]);
    let reason = removal_is_refused(store, parent, parent);
    assert!(reason.contains("ancestor"), "{reason}");
}

#[test]
fn a_leaf_with_one_oversized_cell_that_must_split_is_corrupt() {
    let mut store = MemPageStore::default();
    let root = allocate(&mut store, 1)[0];
    // One cell of nearly a page: no insert writes it, and the leaf is full with one cell.
    put_simple_leaf(&mut store, root, None, &[(b"a", &[1u8; 3900])]);
    let mut tree = Tree::open(root);
    let reason = corrupt_at(tree.insert(&mut store, b"b", &[2u8; 300]), root, "insert");
    assert!(reason.contains("inline value of 3900 bytes"), "{reason}");
    every_operation_is_corrupt(store, root, root, b"b");
}

#[test]
fn splitting_a_node_with_too_few_cells_is_corrupt_not_a_panic() {
    let mut leaf = Node::new_leaf(PageSize::DEFAULT);
    leaf.insert_leaf(0, b"only", Value::Inline(b"1")).unwrap();
    let reason = corrupt_at(leaf.split(PageId::new(7)), PageId::new(7), "leaf split");
    assert!(reason.contains("1 cells"), "{reason}");
    assert_eq!(leaf.len(), 1, "a refused split leaves the node as it was");
    let mut interior = Node::new_interior(PageSize::DEFAULT, PageId::new(1));
    interior.insert_interior(0, b"k", PageId::new(2)).unwrap();
    interior.insert_interior(1, b"m", PageId::new(3)).unwrap();
    corrupt_at(interior.split(PageId::new(8)), PageId::new(8), "interior split");
}

/// A full leaf of keys `prefix0000`, `prefix0001`, ... with 100-byte values.
fn full_leaf(prefix: &str) -> Node {
    let mut node = Node::new_leaf(PageSize::DEFAULT);
    for number in 0.. {
        let key = format!("{prefix}{number:04}").into_bytes();
        if node.insert_leaf(node.len(), &key, Value::Inline(&[5u8; 100])) == Err(Full) {
            return node;
        }
    }
    unreachable!()
}

/// A root over a full leaf whose keys stray past the root's separator `separator`, and a leaf
/// right of it; inserting `0` splits the full leaf, whose separator then does not sort where the
/// child is. `Corrupt` at the root, nothing written.
fn split_separator_is_refused(leaf_prefix: &str, separator: impl FnOnce(&Node) -> Vec<u8>) {
    let mut store = MemPageStore::default();
    let [root, left, right] = allocate(&mut store, 3)[..] else { unreachable!() };
    let mut leaf = full_leaf(leaf_prefix);
    leaf.set_right_sibling(Some(right));
    let separator = separator(&leaf);
    store.write_page(left, leaf.into_page()).unwrap();
    put_interior(&mut store, root, left, &[(&separator, right)]);
    put_simple_leaf(&mut store, right, None, &[(b"zzz", b"1")]);
    let pages = [root, left, right];
    let before = images(&store, &pages);
    let mut tree = Tree::open(root);
    // As long as the leaf's cells: it does not fit, so the leaf splits.
    let reason = corrupt_at(tree.insert(&mut store, b"0", &[5u8; 100]), root, "insert");
    assert!(reason.contains("does not sort"), "{reason}");
    assert_eq!(images(&store, &pages), before, "a refused split writes no page");
    let allocated: Vec<PageId> = store.allocated().iter().copied().collect();
    assert_eq!(allocated, pages, "the page allocated for the split is given back");
    assert_eq!(tree.root(), root);
}

#[test]
fn a_split_separator_out_of_order_in_its_parent_is_corrupt() {
    // The leaf left of `m` holds keys `x...`, above `m`.
    split_separator_is_refused("x", |_| b"m".to_vec());
}

#[test]
fn a_split_separator_equal_to_one_in_its_parent_is_corrupt() {
    // The root's separator is exactly the key the leaf's split will push up.
    split_separator_is_refused("a", |leaf| {
        let mut copy = leaf.clone();
        match copy.split(PageId::new(1)).unwrap().0 {
            OwnedKey::Inline(separator) => separator,
            OwnedKey::Long { .. } => unreachable!("inline keys"),
        }
    });
}

#[test]
fn oversized_separators_in_a_full_parent_are_corrupt_before_a_split() {
    let mut store = MemPageStore::default();
    let [root, left, middle, right] = allocate(&mut store, 4)[..] else { unreachable!() };
    let (low, high) = (vec![b'm'; 1900], vec![b'n'; 1900]);
    put_interior(&mut store, root, left, &[(&low, middle), (&high, right)]);
    let mut leaf = full_leaf("a");
    leaf.set_right_sibling(Some(middle));
    store.write_page(left, leaf.into_page()).unwrap();
    put_simple_leaf(&mut store, middle, Some(right), &[(&low, b"1")]);
    put_simple_leaf(&mut store, right, None, &[(&high, b"2")]);
    let mut tree = Tree::open(root);
    let reason = corrupt_at(tree.insert(&mut store, b"0", b"v"), root, "insert");
    assert!(reason.contains("key of 1900 bytes"), "{reason}");
}

#[test]
fn an_empty_leaf_whose_right_sibling_is_itself_is_corrupt() {
    let mut store = MemPageStore::default();
    let root = allocate(&mut store, 1)[0];
    put_leaf(&mut store, root, Some(root), &[]);
    bounded("scans of a self-linked leaf", move || {
        let tree = Tree::open(root);
        corrupt_at(tree.range(&store, ..).next().unwrap(), root, "range");
        corrupt_at(tree.range(&store, ..).next_back().unwrap(), root, "reverse range");
        corrupt_at(scan(tree.range(&store, b"a".as_slice()..)), root, "range from a key");
        let reason =
            corrupt_at(tree.check_invariants(&store, &mut PageClaims::new()), root, "check");
        assert!(reason.contains("right sibling"), "{reason}");
    });
}

#[test]
fn a_cycle_of_two_leaves_is_corrupt() {
    let mut store = MemPageStore::default();
    let [root, first, second] = allocate(&mut store, 3)[..] else { unreachable!() };
    put_interior(&mut store, root, first, &[(b"m", second)]);
    put_simple_leaf(&mut store, first, Some(second), &[(b"a", b"1"), (b"b", b"2")]);
    put_simple_leaf(&mut store, second, Some(first), &[(b"m", b"3"), (b"n", b"4")]);
    bounded("scans of a leaf cycle", move || {
        let tree = Tree::open(root);
        let mut range = tree.range(&store, ..);
        let keys: Vec<Vec<u8>> =
            range.by_ref().take(4).map(|item| item.unwrap().key().to_vec()).collect();
        assert_eq!(keys, [b"a", b"b", b"m", b"n"]);
        let reason = corrupt_at(range.next().unwrap(), first, "range past the cycle");
        assert!(reason.contains("do not ascend"), "{reason}");
        assert!(range.next().is_none(), "an error ends the scan");
        let reason =
            corrupt_at(tree.check_invariants(&store, &mut PageClaims::new()), second, "check");
        assert!(reason.contains("right sibling"), "{reason}");
    });
}

#[test]
fn a_cycle_of_leaves_with_descending_keys_is_corrupt() {
    // Each link alone ascends (`c` after `a`, `b` after `a`): the leaves' own order stops it.
    let mut store = MemPageStore::default();
    let [root, first, second] = allocate(&mut store, 3)[..] else { unreachable!() };
    put_interior(&mut store, root, first, &[(b"m", second)]);
    put_simple_leaf(&mut store, first, Some(second), &[(b"b", b"1"), (b"a", b"2")]);
    put_simple_leaf(&mut store, second, Some(first), &[(b"c", b"3"), (b"a", b"4")]);
    bounded("a scan of unordered leaves", move || {
        let tree = Tree::open(root);
        let reason = corrupt_at(scan(tree.range(&store, ..)), second, "range");
        assert!(reason.contains("first key is above its last"), "{reason}");
    });
}

#[test]
fn an_empty_leaf_below_the_root_is_corrupt() {
    let mut store = MemPageStore::default();
    let [root, first, second] = allocate(&mut store, 3)[..] else { unreachable!() };
    put_interior(&mut store, root, first, &[(b"m", second)]);
    put_simple_leaf(&mut store, first, Some(second), &[(b"a", b"1")]);
    put_leaf(&mut store, second, None, &[]);
    bounded("scans over an empty leaf", move || {
        let tree = Tree::open(root);
        corrupt_at(scan(tree.range(&store, ..)), second, "range");
        corrupt_at(scan(tree.range(&store, ..).rev()), second, "reverse range");
        let reason =
            corrupt_at(tree.check_invariants(&store, &mut PageClaims::new()), second, "check");
        assert!(reason.contains("empty leaf"), "{reason}");
    });
}

#[test]
fn a_right_sibling_that_is_not_a_leaf_is_corrupt() {
    let mut store = MemPageStore::default();
    let [root, first, second] = allocate(&mut store, 3)[..] else { unreachable!() };
    put_interior(&mut store, root, first, &[(b"m", second)]);
    put_simple_leaf(&mut store, first, Some(root), &[(b"a", b"1")]);
    put_simple_leaf(&mut store, second, None, &[(b"n", b"2")]);
    bounded("a scan into an interior node", move || {
        let tree = Tree::open(root);
        let reason = corrupt_at(scan(tree.range(&store, ..)), root, "range");
        assert!(reason.contains("not a leaf"), "{reason}");
    });
}

#[test]
fn a_child_shared_by_two_separators_is_corrupt() {
    let mut store = MemPageStore::default();
    let [root, leaf] = allocate(&mut store, 2)[..] else { unreachable!() };
    put_interior(&mut store, root, leaf, &[(b"m", leaf)]);
    put_simple_leaf(&mut store, leaf, None, &[(b"a", b"1")]);
    bounded("walks of a shared child", move || {
        let mut store = store;
        let tree = Tree::open(root);
        // Backwards, the shared leaf comes again: its keys do not descend.
        corrupt_at(scan(tree.range(&store, ..).rev()), leaf, "reverse range");
        let reason =
            corrupt_at(tree.check_invariants(&store, &mut PageClaims::new()), leaf, "check");
        assert!(reason.contains("reached twice"), "{reason}");
        corrupt_at(tree.destroy(&mut store), leaf, "destroy");
        assert_eq!(store.allocated().len(), 2, "a refused destroy frees nothing");
    });
}

/// Every operation on a tree whose interior nodes form a cycle is `Corrupt` (at one of `pages`)
/// within about `TREE_HEIGHT_MAX` reads.
fn cycle_is_corrupt(store: MemPageStore, root: PageId, pages: Vec<PageId>) {
    bounded("operations on an interior cycle", move || {
        let mut store = store;
        let mut tree = Tree::open(root);
        let corrupt_in_cycle = |result: Result<(), Error>, what: &str| match result {
            Err(Error::Corrupt { page_id, .. }) if pages.contains(&page_id) => {}
            other => panic!("{what}: expected Corrupt in the cycle, got {other:?}"),
        };
        let reads_max = TREE_HEIGHT_MAX as u64 + 2;
        store.reset_reads();
        corrupt_in_cycle(tree.get(&store, b"a").map(drop), "get");
        assert!(store.reads() <= reads_max, "get read {} pages", store.reads());
        store.reset_reads();
        corrupt_in_cycle(tree.insert(&mut store, b"a", b"1").map(drop), "insert");
        assert!(store.reads() <= reads_max, "insert read {} pages", store.reads());
        corrupt_in_cycle(tree.remove(&mut store, b"z").map(drop), "remove");
        corrupt_in_cycle(scan(tree.range(&store, ..)).map(drop), "range");
        corrupt_in_cycle(scan(tree.range(&store, ..).rev()).map(drop), "reverse range");
        let mut claims = PageClaims::new();
        corrupt_in_cycle(tree.check_invariants(&store, &mut claims).map(drop), "check");
        corrupt_in_cycle(tree.clone().destroy(&mut store), "destroy");
        assert_eq!(store.allocated().len(), pages.len(), "a refused destroy frees nothing");
        assert_eq!(tree.root(), root);
    });
}

#[test]
fn an_interior_node_that_is_its_own_child_is_corrupt() {
    let mut store = MemPageStore::default();
    let root = allocate(&mut store, 1)[0];
    put_interior(&mut store, root, root, &[(b"m", root)]);
    cycle_is_corrupt(store, root, vec![root]);
}

#[test]
fn a_child_pointing_back_at_its_parent_is_corrupt() {
    let mut store = MemPageStore::default();
    let [root, child] = allocate(&mut store, 2)[..] else { unreachable!() };
    put_interior(&mut store, root, child, &[(b"m", child)]);
    put_interior(&mut store, child, root, &[(b"f", root)]);
    cycle_is_corrupt(store, root, vec![root, child]);
}
