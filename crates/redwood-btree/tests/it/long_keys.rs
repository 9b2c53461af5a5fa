//! Long keys (longer than the inline limit, `page_size / 8`): stored as a prefix in the cell and
//! a tail in an overflow chain the tree owns. Keys of 513 bytes, 4 KiB and 64 KiB round trip
//! through inserts, lookups, scans both ways, overwrites and removals; keys sharing prefixes of
//! 600 and 5,000 bytes (so that comparisons tie on the prefix and separators are long) mixed
//! with short keys and keys around the limit match a `BTreeMap`; merges and redistributions of
//! leaves and interior nodes move, drop and rebuild long separators; after every phase the
//! integrity walk is clean and claims exactly the pages the store has allocated (no chain
//! leaked, none shared), and removing everything gives every chain page back. Damaged long-key
//! cells and unreadable tails are `Corrupt`, never a panic.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use redwood_btree::limits::{KEY_MAX_BYTES_TOTAL, key_max_bytes, key_prefix_bytes};
use redwood_btree::{Error, Tree, TreeStats};
use redwood_pager::testing::MemPageStore;
use redwood_pager::{PageClaims, PageId, PageRead, PageSize, PageWrite};

use crate::craft::{RawValue, allocate, bounded, leaf_cell, long_key_leaf_cell, put_leaf};
use crate::support::runner;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The full check: the integrity walk passes, counts the model's entries, and claims exactly the
/// pages the store has allocated, each once (nodes and key chains: no chain leaked or shared).
#[track_caller]
fn check(tree: &Tree, store: &MemPageStore, model: &Model) -> TreeStats {
    let mut claims = PageClaims::new();
    let stats = tree.check_invariants(store, &mut claims).expect("a sound tree");
    assert_eq!(stats.entries, model.len() as u64);
    assert_eq!(stats.underfull_nodes, 0, "every node but the root is a quarter full");
    assert!(claims.double_claims().is_empty(), "{:?}", claims.double_claims());
    let claimed: Vec<PageId> = claims.iter().map(|(page_id, _)| page_id).collect();
    let allocated: Vec<PageId> = store.allocated().iter().copied().collect();
    assert_eq!(claimed, allocated, "every allocated page belongs to the tree, once");
    stats
}

/// Every lookup and a full scan each way agree with the model.
#[track_caller]
fn matches(tree: &Tree, store: &MemPageStore, model: &Model) {
    for (key, value) in model {
        assert_eq!(tree.get(store, key).unwrap().as_ref(), Some(value), "key of {}", key.len());
        let entry = tree.get_entry(store, key).unwrap().expect("stored");
        assert_eq!(entry.key(), key.as_slice());
    }
    let forward: Vec<(Vec<u8>, Vec<u8>)> = tree
        .range(store, ..)
        .map(|entry| {
            let (key, value) = entry.unwrap().into_owned();
            (key, value.into_inline().expect("inline values"))
        })
        .collect();
    assert_eq!(forward, model.clone().into_iter().collect::<Vec<_>>());
    let backward: Vec<Vec<u8>> =
        tree.range(store, ..).rev().map(|entry| entry.unwrap().key().to_vec()).collect();
    assert_eq!(backward, model.keys().rev().cloned().collect::<Vec<_>>());
}

/// `length` bytes: `seed`'s pattern, with the last byte `last` (keys that differ only at the
/// end share `length - 1` bytes).
fn patterned(length: usize, seed: u8, last: u8) -> Vec<u8> {
    let mut key: Vec<u8> =
        (0..length).map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    *key.last_mut().unwrap() = last;
    key
}

#[test]
fn keys_of_513_bytes_4_kib_and_64_kib_round_trip() {
    let page_size = PageSize::DEFAULT;
    assert_eq!((key_max_bytes(page_size), KEY_MAX_BYTES_TOTAL), (512, 65_536));
    for length in [513, 4096, KEY_MAX_BYTES_TOTAL] {
        let mut store = MemPageStore::default();
        let mut tree = Tree::create(&mut store).unwrap();
        let empty_pages = store.allocated().len();
        let mut model = Model::new();
        // Keys that differ in their first byte, and keys that differ only in their last.
        let keys: Vec<Vec<u8>> = (0..6u8)
            .map(|seed| patterned(length, seed * 40, 0))
            .chain((0..12u8).map(|last| patterned(length, 7, last * 20)))
            .collect();
        for (number, key) in keys.iter().enumerate() {
            let value = vec![number as u8; 50 + number * 11];
            assert!(!tree.insert(&mut store, key, &value).unwrap());
            model.insert(key.clone(), value);
        }
        let stats = check(&tree, &store, &model);
        assert_eq!(stats.long_keys, keys.len() as u64);
        matches(&tree, &store, &model);
        // Near misses: the prefix alone, one byte short, one byte more, the inline limit.
        let near = &keys[8];
        for missing in [
            near[..key_prefix_bytes(page_size)].to_vec(),
            near[..length - 1].to_vec(),
            [near.as_slice(), b"x"].concat(),
            near[..key_max_bytes(page_size)].to_vec(),
        ] {
            assert_eq!(tree.get(&store, &missing).unwrap(), None, "{} bytes", missing.len());
            assert!(!tree.remove(&mut store, &missing).unwrap());
        }
        // Ranges bounded by long keys, both directions.
        let (low, high) = (&keys[7], &keys[12]);
        let expected: Vec<&Vec<u8>> =
            model.range(low.clone()..=high.clone()).map(|(k, _)| k).collect();
        let scanned: Vec<Vec<u8>> = tree
            .range(&store, (Bound::Included(low.as_slice()), Bound::Included(high.as_slice())))
            .map(|entry| entry.unwrap().key().to_vec())
            .collect();
        assert_eq!(scanned.iter().collect::<Vec<_>>(), expected);
        let reversed: Vec<Vec<u8>> = tree
            .range(&store, (Bound::Excluded(low.as_slice()), Bound::Excluded(high.as_slice())))
            .rev()
            .map(|entry| entry.unwrap().key().to_vec())
            .collect();
        assert_eq!(reversed.len(), expected.len() - 2);
        assert!(reversed.iter().rev().eq(expected[1..expected.len() - 1].iter().copied()));
        // Overwrites (values of the same length, so no node splits) keep the key and its
        // chain: no page is allocated or freed.
        let pages_before = store.allocated().len();
        for key in &keys {
            let value = vec![0xee; model[key].len()];
            assert!(tree.insert(&mut store, key, &value).unwrap());
            model.insert(key.clone(), value);
        }
        check(&tree, &store, &model);
        matches(&tree, &store, &model);
        assert_eq!(store.allocated().len(), pages_before, "an overwrite writes no chain");
        // Removing every other key, then the rest, gives every chain page back.
        for key in keys.iter().step_by(2) {
            assert!(tree.remove(&mut store, key).unwrap());
            assert!(!tree.remove(&mut store, key).unwrap(), "removed twice");
            model.remove(key);
        }
        check(&tree, &store, &model);
        matches(&tree, &store, &model);
        for key in &keys {
            tree.remove(&mut store, key).unwrap();
            model.remove(key);
        }
        check(&tree, &store, &model);
        assert_eq!(store.allocated().len(), empty_pages, "every chain page is given back");
    }
}

/// Keys drawn from families that tie on long prefixes: 600 and 5,000 shared bytes (the second
/// family extends the first), keys of 490 to 530 bytes that are prefixes of them or go on from
/// such a prefix (around the inline limit, tying with long keys' 496-byte prefixes), and short
/// keys.
fn key() -> impl Strategy<Value = Vec<u8>> {
    let shared: Vec<u8> = (0..5000u32).map(|index| (index * 7 % 251) as u8).collect();
    let (short_prefix, long_prefix) = (shared[..600].to_vec(), shared.clone());
    let around = shared.clone();
    let suffix = || proptest::collection::vec(0u8..3, 0..6);
    prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 1..12),
        3 => suffix().prop_map(move |suffix| [short_prefix.as_slice(), &suffix].concat()),
        3 => suffix().prop_map(move |suffix| [long_prefix.as_slice(), &suffix].concat()),
        2 => (490usize..530, suffix()).prop_map(move |(length, suffix)| {
            [&around[..length], suffix.as_slice()].concat()
        }),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<u8>, usize),
    Remove(usize),
    Get(Vec<u8>),
    Range(Vec<u8>, Vec<u8>, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), 0usize..200).prop_map(|(key, value)| Op::Insert(key, value)),
        3 => any::<usize>().prop_map(Op::Remove),
        1 => key().prop_map(Op::Get),
        1 => (key(), key(), any::<bool>()).prop_map(|(a, b, reverse)| Op::Range(a, b, reverse)),
    ]
}

#[test]
fn keys_sharing_long_prefixes_match_a_sorted_map() {
    let strategy = proptest::collection::vec(op(), 100..600);
    let most_long_separators = std::sync::atomic::AtomicU64::new(0);
    runner("keys_sharing_long_prefixes_match_a_sorted_map", 64)
        .run(&strategy, |ops| {
            let mut store = MemPageStore::default();
            let mut tree = Tree::create(&mut store).unwrap();
            let empty_pages = store.allocated().len();
            let mut model = Model::new();
            for (done, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(key, length) => {
                        let value = vec![key.len() as u8; length];
                        let replaced = tree.insert(&mut store, &key, &value).unwrap();
                        prop_assert_eq!(replaced, model.insert(key, value).is_some());
                    }
                    Op::Remove(index) if !model.is_empty() => {
                        let key = model.keys().nth(index % model.len()).unwrap().clone();
                        prop_assert!(tree.remove(&mut store, &key).unwrap());
                        model.remove(&key);
                    }
                    Op::Remove(_) => {}
                    Op::Get(key) => {
                        prop_assert_eq!(tree.get(&store, &key).unwrap(), model.get(&key).cloned());
                    }
                    Op::Range(a, b, reverse) => {
                        let (low, high) = if a <= b { (a, b) } else { (b, a) };
                        let range =
                            (Bound::Included(low.as_slice()), Bound::Excluded(high.as_slice()));
                        let mut scanned: Vec<Vec<u8>> = tree
                            .range(&store, range)
                            .map(|entry| entry.unwrap().key().to_vec())
                            .collect();
                        if reverse {
                            scanned = tree
                                .range(&store, range)
                                .rev()
                                .map(|entry| entry.unwrap().key().to_vec())
                                .collect();
                            scanned.reverse();
                        }
                        let expected: Vec<Vec<u8>> = model
                            .keys()
                            .filter(|key| **key >= low && **key < high)
                            .cloned()
                            .collect();
                        prop_assert_eq!(scanned, expected);
                    }
                }
                if done % 40 == 39 {
                    let stats = check(&tree, &store, &model);
                    most_long_separators
                        .fetch_max(stats.long_separators, std::sync::atomic::Ordering::Relaxed);
                }
            }
            check(&tree, &store, &model);
            matches(&tree, &store, &model);
            let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
            for key in keys {
                prop_assert!(tree.remove(&mut store, &key).unwrap());
                model.remove(&key);
            }
            check(&tree, &store, &model);
            prop_assert_eq!(store.allocated().len(), empty_pages, "every chain page given back");
            Ok(())
        })
        .unwrap();
    assert!(
        most_long_separators.into_inner() > 0,
        "keys sharing 5,000 bytes leave long separators in interior nodes"
    );
}

/// Most separators stay short: suffix truncation keeps the shortest prefix of a leaf's first key
/// above its left neighbour's last, so long keys that differ early need no separator chain.
#[test]
fn long_keys_that_differ_early_leave_short_separators() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    let mut model = Model::new();
    for number in 0..300u32 {
        let mut key = number.wrapping_mul(2_654_435_761).to_be_bytes().to_vec();
        key.resize(3000, b'k');
        tree.insert(&mut store, &key, b"v").unwrap();
        model.insert(key, b"v".to_vec());
    }
    let stats = check(&tree, &store, &model);
    assert!(stats.leaves > 30 && stats.height >= 2, "{stats:?}");
    assert_eq!(stats.long_separators, 0, "separators of a few bytes");
    matches(&tree, &store, &model);
}

/// A bulk load of long keys in one ascending run, on 64 KiB pages (an inline limit of 8 KiB):
/// keys of 9,000 bytes to 64 KiB, all sharing 8,500 bytes.
#[test]
fn long_keys_on_large_pages() {
    let page_size = PageSize::new(65536).unwrap();
    let mut store = MemPageStore::new(page_size);
    let mut tree = Tree::create(&mut store).unwrap();
    let mut model = Model::new();
    for number in 0..60u32 {
        let mut key = vec![b's'; 8500];
        key.extend_from_slice(&number.to_be_bytes());
        key.resize(9000 + number as usize * 900, b't');
        tree.insert(&mut store, &key, &[3u8; 700]).unwrap();
        model.insert(key, vec![3u8; 700]);
    }
    let stats = check(&tree, &store, &model);
    assert_eq!(stats.long_keys, 60);
    matches(&tree, &store, &model);
    tree.destroy(&mut store).unwrap();
    assert!(store.allocated().is_empty(), "destroy frees the key chains too");
}

/// `destroy` frees every node and every key chain, leaf keys' and separators'.
#[test]
fn destroy_frees_every_key_chain() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    let mut model = Model::new();
    for number in 0..80u8 {
        let key = patterned(2000, 1, number);
        tree.insert(&mut store, &key, &[number; 40]).unwrap();
        model.insert(key, vec![number; 40]);
    }
    let stats = check(&tree, &store, &model);
    assert!(stats.long_separators > 0, "{stats:?}");
    tree.destroy(&mut store).unwrap();
    assert!(store.allocated().is_empty());
}

/// Swapping two long keys that tie on their prefixes leaves a node whose cells look in order
/// (the node checks see prefixes only); the integrity walk reads the tails and finds it.
#[test]
fn long_keys_out_of_order_by_their_tails_fail_the_integrity_walk() {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    for last in [1u8, 2] {
        tree.insert(&mut store, &patterned(700, 9, last), b"v").unwrap();
    }
    let leaf = tree.root();
    let mut page = store.read_page(leaf).unwrap().to_page_buf();
    let slots = redwood_pager::PAGE_HEADER_BYTES + 32;
    let bytes = page.as_mut_bytes();
    let (first, second) = ([bytes[slots], bytes[slots + 1]], [bytes[slots + 2], bytes[slots + 3]]);
    bytes[slots..slots + 2].copy_from_slice(&second);
    bytes[slots + 2..slots + 4].copy_from_slice(&first);
    store.write_page(leaf, page).unwrap();
    match tree.check_invariants(&store, &mut PageClaims::new()) {
        Err(Error::Corrupt { page_id, reason }) => {
            assert_eq!(page_id, leaf);
            assert!(reason.contains("not in order"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// A long-key cell whose tail length is impossible (0, too short to need a tail, past the
/// total limit) or whose prefix length is not the fixed one is `Corrupt` for every operation,
/// never a panic or a read of the chain.
#[test]
fn damaged_long_key_cells_are_corrupt() {
    let page_size = PageSize::DEFAULT;
    let prefix = vec![b'p'; key_prefix_bytes(page_size)];
    let too_long = (KEY_MAX_BYTES_TOTAL - prefix.len() + 1) as u64;
    let cases = [
        (long_key_leaf_cell(&prefix, 500, 0, b"v"), "tail of 0 bytes"),
        (long_key_leaf_cell(&prefix, 500, 16, b"v"), "tail of 16 bytes"),
        (long_key_leaf_cell(&prefix, 500, too_long, b"v"), "tail of 65041 bytes"),
        (long_key_leaf_cell(&prefix, 500, u64::MAX, b"v"), "outside"),
        (long_key_leaf_cell(&prefix[..100], 500, 1000, b"v"), "prefix of 100 bytes"),
    ];
    for (cell, expected) in cases {
        let mut store = MemPageStore::default();
        let root = allocate(&mut store, 1)[0];
        put_leaf(&mut store, root, None, &[leaf_cell(b"a", RawValue::Inline(b"1")), cell]);
        let mut tree = Tree::open(root);
        let key = [prefix.as_slice(), b"tail"].concat();
        let store = bounded("operations on a damaged long key", move || {
            for result in [
                tree.get(&store, &key).map(|_| ()),
                tree.get(&store, b"a").map(|_| ()),
                tree.range(&store, ..).try_for_each(|entry| entry.map(|_| ())),
                tree.range(&store, ..).rev().try_for_each(|entry| entry.map(|_| ())),
                tree.check_invariants(&store, &mut PageClaims::new()).map(|_| ()),
            ] {
                match result {
                    Err(Error::Corrupt { page_id, reason }) => {
                        assert_eq!(page_id, root, "{reason}");
                        assert!(reason.contains(expected), "{reason}");
                    }
                    other => panic!("expected Corrupt, got {other:?}"),
                }
            }
            for result in [
                tree.insert(&mut store, &key, b"new").map(|_| ()),
                tree.remove(&mut store, &key).map(|_| ()),
            ] {
                assert!(matches!(result, Err(Error::Corrupt { page_id, .. }) if page_id == root));
            }
            store
        });
        assert_eq!(store.allocated().len(), 1, "a refused insert writes no chain");
    }
}

/// A well-formed long-key cell whose chain is not one (it names a leaf): reading the tail is
/// `Corrupt` naming that page, for a lookup that ties on the prefix, a scan and the integrity
/// walk; a lookup the prefix decides does not read it; salvage loses that entry alone.
#[test]
fn an_unreadable_tail_is_corrupt_and_costs_salvage_one_entry() {
    let page_size = PageSize::DEFAULT;
    let prefix = vec![b'p'; key_prefix_bytes(page_size)];
    let mut store = MemPageStore::default();
    let [root, not_a_chain] = allocate(&mut store, 2)[..] else { unreachable!() };
    let cell = long_key_leaf_cell(&prefix, not_a_chain.get(), 100, b"v");
    put_leaf(
        &mut store,
        root,
        None,
        &[leaf_cell(b"a", RawValue::Inline(b"1")), cell, leaf_cell(b"z", RawValue::Inline(b"2"))],
    );
    put_leaf(&mut store, not_a_chain, None, &[]);
    let tree = Tree::open(root);
    let corrupt_at_chain = |result: Result<(), Error>| match result {
        Err(Error::Corrupt { page_id, reason }) => {
            assert_eq!(page_id, not_a_chain, "{reason}");
            assert!(reason.contains("long key"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    };
    let tying = [prefix.as_slice(), &[7u8; 100]].concat();
    corrupt_at_chain(tree.get(&store, &tying).map(|_| ()));
    corrupt_at_chain(tree.range(&store, ..).try_for_each(|entry| entry.map(|_| ())));
    corrupt_at_chain(tree.check_invariants(&store, &mut PageClaims::new()).map(|_| ()));
    assert_eq!(tree.get(&store, b"a").unwrap(), Some(b"1".to_vec()), "the prefix decides");
    assert_eq!(tree.get(&store, b"z").unwrap(), Some(b"2".to_vec()));
    let mut salvaged = Vec::new();
    let salvage = tree
        .salvage(&store, |key, _| {
            salvaged.push(key);
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(salvaged, [b"a".to_vec(), b"z".to_vec()]);
    assert_eq!(salvage.lost.len(), 1);
    assert_eq!(salvage.lost[0].from_key.as_deref(), Some(prefix.as_slice()));
}

/// Keys sharing their first 600 bytes, so that every separator is long (a chain of its own)
/// and every comparison reads tails: removing a block of them merges and redistributes leaves
/// and interior nodes, moving, dropping and rebuilding long separators; after every step of the
/// way every chain is owned once and none leaks, and removing the rest gives every page back.
#[test]
fn rebalancing_moves_long_separators_without_leaking_or_sharing_a_chain() {
    use std::sync::{Arc, Mutex};

    use redwood_btree::{NodeKind, TreeEvent, TreeObserver};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<TreeEvent>>);
    impl TreeObserver for Recorder {
        fn on_event(&self, event: TreeEvent) {
            self.0.lock().unwrap().push(event);
        }
    }
    let recorder = Arc::new(Recorder::default());
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap().with_observer(recorder.clone());
    let empty_pages = store.allocated().len();
    let key = |number: u32| [vec![b'q'; 600], number.to_be_bytes().to_vec()].concat();
    let mut model = Model::new();
    for number in 0..1500 {
        tree.insert(&mut store, &key(number), &[5u8; 30]).unwrap();
        model.insert(key(number), vec![5u8; 30]);
    }
    let stats = check(&tree, &store, &model);
    // One separator per leaf but the first, each long.
    assert!(stats.height >= 3 && stats.long_separators == stats.leaves - 1, "{stats:?}");
    for (done, number) in (300..1200).enumerate() {
        assert!(tree.remove(&mut store, &key(number)).unwrap());
        model.remove(&key(number));
        if done % 100 == 0 {
            check(&tree, &store, &model);
        }
    }
    check(&tree, &store, &model);
    matches(&tree, &store, &model);
    let events = recorder.0.lock().unwrap().clone();
    let seen = |wanted: fn(&TreeEvent) -> bool| events.iter().any(wanted);
    assert!(seen(|event| matches!(event, TreeEvent::Merge { kind: NodeKind::Leaf, .. })));
    assert!(seen(|event| matches!(event, TreeEvent::Merge { kind: NodeKind::Interior, .. })));
    assert!(seen(|event| matches!(event, TreeEvent::Redistribute { kind: NodeKind::Leaf, .. })));
    assert!(seen(|event| {
        matches!(event, TreeEvent::Redistribute { kind: NodeKind::Interior, .. })
    }));
    for number in (0..300).chain(1200..1500) {
        assert!(tree.remove(&mut store, &key(number)).unwrap());
        model.remove(&key(number));
    }
    check(&tree, &store, &model);
    assert_eq!(store.allocated().len(), empty_pages);
}
