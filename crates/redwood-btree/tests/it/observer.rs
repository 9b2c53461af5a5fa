//! Structural events: an observer hears every split, merge, root growth and root shrinkage, so
//! that replaying the events accounts exactly for the tree's shape (leaves, interior nodes,
//! height) after random inserts and removes, and every root event names the tree's current root.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use redwood_btree::{NodeKind, Tree, TreeEvent, TreeObserver, TreeStats};
use redwood_pager::PageClaims;

use crate::support::runner;
use redwood_pager::testing::MemPageStore;

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<TreeEvent>>,
}

impl TreeObserver for Recorder {
    fn on_event(&self, event: TreeEvent) {
        self.events.lock().unwrap().push(event);
    }
}

/// The shape the events predict, starting from one empty leaf.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    leaves: i64,
    interiors: i64,
    height: i64,
}

fn replay(events: &[TreeEvent]) -> Shape {
    let mut shape = Shape { leaves: 1, interiors: 0, height: 1 };
    for event in events {
        match event {
            TreeEvent::Split { kind: NodeKind::Leaf, .. } => shape.leaves += 1,
            TreeEvent::Split { kind: NodeKind::Interior, .. } => shape.interiors += 1,
            TreeEvent::Merge { kind: NodeKind::Leaf, .. } => shape.leaves -= 1,
            TreeEvent::Merge { kind: NodeKind::Interior, .. } => shape.interiors -= 1,
            TreeEvent::Redistribute { .. } => {}
            TreeEvent::RootGrow { .. } => {
                shape.interiors += 1;
                shape.height += 1;
            }
            TreeEvent::RootShrink { .. } => {
                shape.interiors -= 1;
                shape.height -= 1;
            }
        }
    }
    shape
}

/// A 100-byte key, long enough that interior nodes fill and split within a few thousand keys.
fn long_key(number: u16) -> Vec<u8> {
    let mut key = number.to_be_bytes().to_vec();
    key.resize(100, b'k');
    key
}

/// Which of the eight kinds of event (leaf/interior split, merge and redistribution, grow,
/// shrink).
fn kind_index(event: &TreeEvent) -> usize {
    match event {
        TreeEvent::Split { kind: NodeKind::Leaf, .. } => 0,
        TreeEvent::Split { kind: NodeKind::Interior, .. } => 1,
        TreeEvent::Merge { kind: NodeKind::Leaf, .. } => 2,
        TreeEvent::Merge { kind: NodeKind::Interior, .. } => 3,
        TreeEvent::RootGrow { .. } => 4,
        TreeEvent::RootShrink { .. } => 5,
        TreeEvent::Redistribute { kind: NodeKind::Leaf, .. } => 6,
        TreeEvent::Redistribute { kind: NodeKind::Interior, .. } => 7,
    }
}

fn stats(tree: &Tree, store: &MemPageStore) -> TreeStats {
    tree.check_invariants(store, &mut PageClaims::new()).unwrap()
}

#[test]
fn replaying_the_events_accounts_for_the_shape() {
    let keys = proptest::collection::vec((0u16..3000, any::<bool>()), 200..2500);
    let seen = Mutex::new([false; 8]);
    runner("replaying_the_events_accounts_for_the_shape", 12)
        .run(&keys, |ops| {
            let recorder = Arc::new(Recorder::default());
            let mut store = MemPageStore::default();
            let mut tree = Tree::create(&mut store).unwrap().with_observer(recorder.clone());
            let value = [7u8; 200];
            for (index, (key, insert)) in ops.iter().enumerate() {
                let key = long_key(*key);
                if *insert || index % 3 == 0 {
                    tree.insert(&mut store, &key, &value).unwrap();
                } else {
                    tree.remove(&mut store, &key).unwrap();
                }
                if index % 100 == 99 {
                    check(&tree, &store, &recorder.events.lock().unwrap())?;
                }
            }
            // Remove everything: the tree shrinks back to one leaf, and the events say so.
            for (key, _) in &ops {
                tree.remove(&mut store, &long_key(*key)).unwrap();
            }
            let events = recorder.events.lock().unwrap();
            for event in events.iter() {
                seen.lock().unwrap()[kind_index(event)] = true;
            }
            check(&tree, &store, &events)?;
            prop_assert_eq!(replay(&events), Shape { leaves: 1, interiors: 0, height: 1 });
            Ok(())
        })
        .unwrap();
    // Not vacuous: the workload drove every kind of event but interior redistribution (which
    // `removing_a_block_redistributes_interior_nodes` drives).
    assert_eq!(
        seen.lock().unwrap()[..7],
        [true; 7],
        "leaf/interior split, leaf/interior merge, grow, shrink, leaf redistribution"
    );
}

/// Removing a contiguous block of keys empties the subtrees of one interior node while its
/// neighbour stays full: the two share their children (an interior redistribution), and the
/// fill bound and the shape accounting hold throughout.
#[test]
fn removing_a_block_redistributes_interior_nodes() {
    let recorder = Arc::new(Recorder::default());
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap().with_observer(recorder.clone());
    let key = |number: u32| {
        let mut key = number.to_be_bytes().to_vec();
        key.resize(400, b'k');
        key
    };
    for number in 0..3000 {
        tree.insert(&mut store, &key(number), &[7u8; 100]).unwrap();
    }
    for (done, number) in (600..2400).enumerate() {
        tree.remove(&mut store, &key(number)).unwrap();
        if done % 50 == 0 {
            check(&tree, &store, &recorder.events.lock().unwrap()).unwrap();
        }
    }
    check(&tree, &store, &recorder.events.lock().unwrap()).unwrap();
    let events = recorder.events.lock().unwrap();
    assert!(
        events.iter().any(|event| kind_index(event) == 7),
        "an interior redistribution happened"
    );
    let remaining: Vec<_> =
        tree.range(&store, ..).map(|entry| entry.unwrap().key().to_vec()).collect();
    let expected: Vec<_> = (0..600).chain(2400..3000).map(key).collect();
    assert_eq!(remaining, expected);
}

fn check(tree: &Tree, store: &MemPageStore, events: &[TreeEvent]) -> Result<(), TestCaseError> {
    let stats = stats(tree, store);
    let actual = Shape {
        leaves: stats.leaves as i64,
        interiors: stats.interiors as i64,
        height: stats.height as i64,
    };
    prop_assert_eq!(replay(events), actual);
    prop_assert_eq!(stats.underfull_nodes, 0, "every node but the root is a quarter full");
    let last_root = events.iter().rev().find_map(|event| match event {
        TreeEvent::RootGrow { new_root, .. } | TreeEvent::RootShrink { new_root, .. } => {
            Some(*new_root)
        }
        _ => None,
    });
    if let Some(root) = last_root {
        prop_assert_eq!(root, tree.root());
    }
    Ok(())
}

#[test]
fn an_unobserved_tree_behaves_the_same() {
    // The same inserts with and without an observer build the same shape.
    let mut observed_store = MemPageStore::default();
    let mut plain_store = MemPageStore::default();
    let recorder = Arc::new(Recorder::default());
    let mut observed = Tree::create(&mut observed_store).unwrap().with_observer(recorder.clone());
    let mut plain = Tree::create(&mut plain_store).unwrap();
    for key in 0u32..5000 {
        observed.insert(&mut observed_store, &key.to_be_bytes(), &[1; 100]).unwrap();
        plain.insert(&mut plain_store, &key.to_be_bytes(), &[1; 100]).unwrap();
    }
    let events = recorder.events.lock().unwrap();
    assert!(events.iter().any(|event| matches!(event, TreeEvent::RootGrow { .. })));
    assert_eq!(stats(&observed, &observed_store), stats(&plain, &plain_store));
    assert_eq!(observed.root(), plain.root());
}

/// Keys of very different lengths: a redistribution can replace a short separator with a long
/// one that no longer fits in the parent, which then splits during a removal. The tree still
/// matches a sorted map, keeps its fill bound, and its events still account for its shape.
#[test]
fn a_longer_separator_after_redistribution_splits_the_parent() {
    let key = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..4),
        (any::<u8>(), 300usize..512).prop_map(|(byte, length)| vec![byte; length]),
    ];
    // Keys to insert, each with a random rank that orders the removals.
    let keys = proptest::collection::vec((key, any::<u32>()), 1000..3000);
    let split_on_remove = std::sync::atomic::AtomicBool::new(false);
    // A random seed for coverage, then a fixed one known to drive a removal that splits (about
    // one random case in fifteen does), so the assertion below cannot pass vacuously.
    let fixed_seed = [0x5e; 32];
    let fixed = TestRunner::new_with_rng(
        Config { cases: 20, failure_persistence: None, ..Config::default() },
        TestRng::from_seed(RngAlgorithm::ChaCha, &fixed_seed),
    );
    for mut runner in
        [runner("a_longer_separator_after_redistribution_splits_the_parent", 20), fixed]
    {
        runner
            .run(&keys, |mut keys| {
                let recorder = Arc::new(Recorder::default());
                let mut store = MemPageStore::default();
                let mut tree = Tree::create(&mut store).unwrap().with_observer(recorder.clone());
                let mut model = std::collections::BTreeSet::new();
                for (key, _) in &keys {
                    tree.insert(&mut store, key, &[1u8; 20]).unwrap();
                    model.insert(key.clone());
                }
                keys.sort_by_key(|&(_, rank)| rank);
                for (done, (key, _)) in keys.iter().enumerate() {
                    let events_before = recorder.events.lock().unwrap().len();
                    prop_assert_eq!(tree.remove(&mut store, key).unwrap(), model.remove(key));
                    let events = recorder.events.lock().unwrap();
                    if events[events_before..]
                        .iter()
                        .any(|event| matches!(event, TreeEvent::Split { .. }))
                    {
                        split_on_remove.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if done % 100 == 0 {
                        check(&tree, &store, &events)?;
                        let scanned: Vec<_> = tree
                            .range(&store, ..)
                            .map(|entry| entry.unwrap().key().to_vec())
                            .collect();
                        prop_assert_eq!(scanned, model.iter().cloned().collect::<Vec<_>>());
                    }
                }
                check(&tree, &store, &recorder.events.lock().unwrap())?;
                prop_assert_eq!(
                    replay(&recorder.events.lock().unwrap()),
                    Shape { leaves: 1, interiors: 0, height: 1 }
                );
                Ok(())
            })
            .unwrap();
    }
    assert!(split_on_remove.into_inner(), "some removal split a parent");
}
