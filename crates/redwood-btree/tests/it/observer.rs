//! Structural events: an observer hears every split, merge, root growth and root shrinkage, so
//! that replaying the events accounts exactly for the tree's shape (leaves, interior nodes,
//! height) after random inserts and removes, and every root event names the tree's current root.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use redwood_btree::{NodeKind, Tree, TreeEvent, TreeObserver, TreeStats};
use redwood_pager::PageClaims;

use crate::store::MemStore;
use crate::support::runner;

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

/// Which of the six kinds of event (leaf/interior split, leaf/interior merge, grow, shrink).
fn kind_index(event: &TreeEvent) -> usize {
    match event {
        TreeEvent::Split { kind: NodeKind::Leaf, .. } => 0,
        TreeEvent::Split { kind: NodeKind::Interior, .. } => 1,
        TreeEvent::Merge { kind: NodeKind::Leaf, .. } => 2,
        TreeEvent::Merge { kind: NodeKind::Interior, .. } => 3,
        TreeEvent::RootGrow { .. } => 4,
        TreeEvent::RootShrink { .. } => 5,
    }
}

fn stats(tree: &Tree, store: &MemStore) -> TreeStats {
    tree.check_invariants(store, &mut PageClaims::new()).unwrap()
}

#[test]
fn replaying_the_events_accounts_for_the_shape() {
    let keys = proptest::collection::vec((0u16..3000, any::<bool>()), 200..2500);
    let seen = Mutex::new([false; 6]);
    runner("replaying_the_events_accounts_for_the_shape", 12)
        .run(&keys, |ops| {
            let recorder = Arc::new(Recorder::default());
            let mut store = MemStore::default();
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
    // Not vacuous: the workload drove every kind of event.
    assert_eq!(
        *seen.lock().unwrap(),
        [true; 6],
        "leaf/interior split, leaf/interior merge, grow, shrink"
    );
}

fn check(tree: &Tree, store: &MemStore, events: &[TreeEvent]) -> Result<(), TestCaseError> {
    let stats = stats(tree, store);
    let actual = Shape {
        leaves: stats.leaves as i64,
        interiors: stats.interiors as i64,
        height: stats.height as i64,
    };
    prop_assert_eq!(replay(events), actual);
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
    let mut observed_store = MemStore::default();
    let mut plain_store = MemStore::default();
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
