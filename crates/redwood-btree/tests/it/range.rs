//! Streaming range scans against `BTreeMap::range`: random trees, random bounds of every kind,
//! forward, reverse and both ends at once; a full forward scan reads each leaf exactly once
//! (it follows the sibling link of the leaf in hand, P1).

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use redwood_btree::{OwnedValue, Tree};
use redwood_pager::PageClaims;

use crate::store::MemStore;
use crate::support::runner;

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    let key = proptest::collection::vec(0u8..8, 0..4);
    prop_oneof![
        Just(Bound::Unbounded),
        key.clone().prop_map(Bound::Included),
        key.prop_map(Bound::Excluded),
    ]
}

fn build(keys: &[Vec<u8>]) -> (MemStore, Tree, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut store = MemStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    let mut model = BTreeMap::new();
    for key in keys {
        let value = [key.as_slice(), &[0x55; 120]].concat();
        tree.insert(&mut store, key, &value).unwrap();
        model.insert(key.clone(), value);
    }
    (store, tree, model)
}

/// BTreeMap panics on inverted or empty-excluded ranges; our scan yields nothing for them.
fn expected(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    lower: &Bound<Vec<u8>>,
    upper: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(key, _)| {
            let above = match lower {
                Bound::Unbounded => true,
                Bound::Included(low) => *key >= low,
                Bound::Excluded(low) => *key > low,
            };
            let below = match upper {
                Bound::Unbounded => true,
                Bound::Included(high) => *key <= high,
                Bound::Excluded(high) => *key < high,
            };
            above && below
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// An item of a scan over inline values, as plain bytes.
fn inline(item: redwood_btree::Result<(Vec<u8>, OwnedValue)>) -> (Vec<u8>, Vec<u8>) {
    let (key, value) = item.unwrap();
    (key, value.into_inline().expect("inline values only here"))
}

fn as_slices(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

#[test]
fn scans_match_a_sorted_map_in_both_directions() {
    let keys = proptest::collection::vec(proptest::collection::vec(0u8..8, 1..5), 0..400);
    let strategy = (keys, bound(), bound(), proptest::collection::vec(any::<bool>(), 0..64));
    runner("scans_match_a_sorted_map_in_both_directions", 128)
        .run(&strategy, |(keys, lower, upper, sides)| {
            let (store, tree, model) = build(&keys);
            let want = expected(&model, &lower, &upper);
            let range = (as_slices(&lower), as_slices(&upper));
            let forward: Vec<_> = tree.range(&store, range).map(inline).collect();
            prop_assert_eq!(&forward, &want);
            let backward: Vec<_> = tree.range(&store, range).rev().map(inline).collect();
            prop_assert_eq!(backward, want.iter().rev().cloned().collect::<Vec<_>>());
            // Both ends at once, in a random order of sides: together they give each entry once.
            let mut scan = tree.range(&store, range);
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for from_front in sides.into_iter().chain(std::iter::repeat_n(true, want.len() + 1)) {
                let item = if from_front { scan.next() } else { scan.next_back() };
                match (item, from_front) {
                    (Some(item), true) => front.push(inline(item)),
                    (Some(item), false) => back.push(inline(item)),
                    (None, _) => break,
                }
            }
            front.extend(back.into_iter().rev());
            prop_assert_eq!(front, want);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_full_scan_reads_each_leaf_once() {
    let keys: Vec<Vec<u8>> =
        (0..5000u32).map(|number| format!("{number:06}").into_bytes()).collect();
    let (store, tree, model) = build(&keys);
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert!(stats.leaves > 50 && stats.height >= 2, "{stats:?}");
    store.reads.set(0);
    let count = tree.range(&store, ..).count();
    assert_eq!(count, model.len());
    let descent = stats.height as u64 - 1;
    assert_eq!(store.reads.get(), descent + stats.leaves, "the descent, then each leaf once");
}
