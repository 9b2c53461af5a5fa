//! The tree against a `BTreeMap`: random inserts, overwrites, removes and lookups, with keys and
//! values of many sizes, deep enough to split leaves and interior nodes and grow new roots; the
//! full invariant check (order, separator bounds, equal leaf depth, sibling chain) and the page
//! claims hold after every step; too-large keys and values are typed errors.

use std::collections::BTreeMap;

use proptest::prelude::*;
use redwood_btree::{Error, Tree};
use redwood_pager::PageClaims;

use crate::support::runner;
use redwood_pager::testing::MemPageStore;

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Remove(usize),
    Get(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let key = prop_oneof![
        proptest::collection::vec(0u8..4, 1..6),
        proptest::collection::vec(any::<u8>(), 1..200),
    ];
    prop_oneof![
        6 => (key.clone(), proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => key.prop_map(Op::Get),
    ]
}

fn check(
    tree: &Tree,
    store: &MemPageStore,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<u64, TestCaseError> {
    let mut claims = PageClaims::new();
    let stats = tree
        .check_invariants(store, &mut claims)
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(stats.entries, model.len() as u64);
    prop_assert_eq!(stats.underfull_nodes, 0, "every node but the root is a quarter full");
    prop_assert!(claims.double_claims().is_empty());
    let claimed: Vec<_> = claims.iter().map(|(page_id, _)| page_id).collect();
    let allocated: Vec<_> = store.allocated().iter().copied().collect();
    prop_assert_eq!(claimed, allocated, "every allocated page belongs to the tree, once");
    Ok(stats.height as u64)
}

#[test]
fn the_tree_matches_a_sorted_map() {
    let strategy = proptest::collection::vec(op(), 1..600);
    let tallest = std::sync::atomic::AtomicU64::new(0);
    runner("the_tree_matches_a_sorted_map", 40)
        .run(&strategy, |ops| {
            let mut store = MemPageStore::default();
            let mut tree = Tree::create(&mut store).unwrap();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(key, value) => {
                        let replaced = tree.insert(&mut store, &key, &value).unwrap();
                        prop_assert_eq!(replaced, model.insert(key, value).is_some());
                    }
                    Op::Remove(index) if !model.is_empty() => {
                        let key = model.keys().nth(index % model.len()).unwrap().clone();
                        prop_assert!(tree.remove(&mut store, &key).unwrap());
                        prop_assert!(!tree.remove(&mut store, &key).unwrap(), "removed twice");
                        model.remove(&key);
                    }
                    Op::Remove(_) => {}
                    Op::Get(key) => {
                        prop_assert_eq!(tree.get(&store, &key).unwrap(), model.get(&key).cloned())
                    }
                }
            }
            for (key, value) in &model {
                prop_assert_eq!(tree.get(&store, key).unwrap(), Some(value.clone()));
            }
            tallest.fetch_max(check(&tree, &store, &model)?, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    let tallest = tallest.into_inner();
    assert!(tallest >= 2, "deep enough to split leaves and grow a root: height {tallest}");
}

#[test]
fn many_sequential_and_reversed_keys_build_a_valid_tree() {
    for reversed in [false, true] {
        let mut store = MemPageStore::default();
        let mut tree = Tree::create(&mut store).unwrap();
        let mut model = BTreeMap::new();
        for number in 0..20_000u32 {
            let number = if reversed { 20_000 - number } else { number };
            let key = format!("key{number:08}").into_bytes();
            let value = number.to_le_bytes().repeat(8);
            tree.insert(&mut store, &key, &value).unwrap();
            model.insert(key, value);
        }
        let height = check(&tree, &store, &model).unwrap();
        assert!(height >= 3, "height {height}");
        assert_eq!(
            tree.get(&store, b"key00012345").unwrap(),
            model.get(b"key00012345".as_slice()).cloned()
        );
    }
}

#[test]
fn keys_and_values_over_the_limits_are_typed_errors() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    // Keys past the inline limit (512 bytes) are long keys, up to 64 KiB.
    let long_key = vec![1u8; 65_537];
    assert!(matches!(
        tree.insert(&mut store, &long_key, b"v"),
        Err(Error::KeyTooLarge { bytes: 65_537, max_bytes: 65_536 })
    ));
    tree.insert(&mut store, &vec![1u8; 512], b"v").unwrap();
    tree.insert(&mut store, &vec![1u8; 65_536], b"v").unwrap();
    let long_value = vec![1u8; 513];
    assert!(matches!(tree.insert(&mut store, b"k", &long_value), Err(Error::ValueTooLarge { .. })));
}

/// Removing every key, in order and in a scrambled order, merges nodes bottom-up and shrinks the
/// root until one empty leaf is left; no page leaks on the way (every allocated page is claimed).
#[test]
fn removing_everything_merges_back_to_a_single_leaf() {
    for scrambled in [false, true] {
        let mut store = MemPageStore::default();
        let mut tree = Tree::create(&mut store).unwrap();
        let mut model = BTreeMap::new();
        let keys: Vec<Vec<u8>> =
            (0..20_000u32).map(|number| format!("key{number:08}").into_bytes()).collect();
        for key in &keys {
            tree.insert(&mut store, key, &[7u8; 60]).unwrap();
            model.insert(key.clone(), vec![7u8; 60]);
        }
        let peak_pages = store.allocated().len();
        let mut order: Vec<usize> = (0..keys.len()).collect();
        if scrambled {
            order.sort_by_key(|&index| (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        for (done, &index) in order.iter().enumerate() {
            assert!(tree.remove(&mut store, &keys[index]).unwrap());
            model.remove(&keys[index]);
            if done % 2500 == 0 {
                check(&tree, &store, &model).unwrap();
            }
        }
        assert_eq!(check(&tree, &store, &model).unwrap(), 1, "one level left");
        assert_eq!(store.allocated().len(), 1, "only the root leaf, down from {peak_pages} pages");
        assert_eq!(tree.range(&store, ..).count(), 0);
    }
}

/// A parent whose keys are out of order (its checksum valid) fails a split with `Corrupt`
/// before the split writes anything: the store is byte for byte what it was. The parent is
/// damaged where an earlier transaction left it (a write transaction holds only the pages it
/// wrote itself, and takes those without the full checks again).
#[test]
fn a_damaged_parent_stops_a_split_before_any_page_changes() {
    use crate::bulk::{CountingStore, Hold};
    use redwood_pager::{PageRead, PageWrite};
    let mut store = CountingStore::new(Hold::Written);
    let mut tree = Tree::create(&mut store).unwrap();
    let key = |number: u32| format!("key-{number:08}").into_bytes();
    for number in 0..400 {
        tree.insert(&mut store, &key(number), &[1u8; 100]).unwrap();
    }
    let root = tree.root();
    let mut page = store.read_page(root).unwrap().to_page_buf();
    assert_eq!(page.page_type().get(), redwood_btree::node::INTERIOR, "400 entries need a parent");
    // Swap the root's first two slots: every cell stays in bounds, the keys now descend.
    let slots = redwood_pager::PAGE_HEADER_BYTES + 32;
    let bytes = page.as_mut_bytes();
    let (first, second) = ([bytes[slots], bytes[slots + 1]], [bytes[slots + 2], bytes[slots + 3]]);
    bytes[slots..slots + 2].copy_from_slice(&second);
    bytes[slots + 2..slots + 4].copy_from_slice(&first);
    store.inner.write_page(root, page).unwrap();
    store.begin();
    let image = |store: &MemPageStore| -> Vec<(redwood_pager::PageId, Vec<u8>)> {
        store
            .allocated()
            .iter()
            .map(|&id| (id, store.read_page(id).unwrap().as_bytes().to_vec()))
            .collect()
    };
    // Appending keys fills the last leaf until it splits; only the split touches the root.
    let mut failed = false;
    for extra in 0..200u32 {
        let before = image(&store.inner);
        match tree.insert(&mut store, &key(1_000_000 + extra), &[2u8; 100]) {
            Ok(_) => {}
            Err(Error::Corrupt { page_id, .. }) => {
                assert_eq!(page_id, root);
                assert_eq!(image(&store.inner), before, "nothing was written before the error");
                failed = true;
                break;
            }
            Err(other) => panic!("expected Corrupt, got {other}"),
        }
    }
    assert!(failed, "a split reached the damaged root");
}
