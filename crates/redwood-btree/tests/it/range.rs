//! Streaming range scans against `BTreeMap::range`: random trees, random bounds of every kind,
//! forward, reverse and both ends at once; a full forward scan reads each leaf exactly once
//! (it follows the sibling link of the leaf in hand, P1), and hints each next leaf before
//! reading it (R5).

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use redwood_btree::{Entry, Tree};
use redwood_pager::PageClaims;

use crate::support::runner;
use redwood_pager::testing::{Access, MemPageStore};

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    let key = proptest::collection::vec(0u8..8, 0..4);
    prop_oneof![
        Just(Bound::Unbounded),
        key.clone().prop_map(Bound::Included),
        key.prop_map(Bound::Excluded),
    ]
}

fn build(keys: &[Vec<u8>]) -> (MemPageStore, Tree, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut store = MemPageStore::default();
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
fn inline(item: redwood_btree::Result<Entry<'_>>) -> (Vec<u8>, Vec<u8>) {
    let (key, value) = item.unwrap().into_owned();
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
    store.reset_reads();
    let count = tree.range(&store, ..).count();
    assert_eq!(count, model.len());
    let descent = stats.height as u64 - 1;
    assert_eq!(store.reads(), descent + stats.leaves, "the descent, then each leaf once");
}

/// Prefetch (R5): a full forward scan hints every leaf after the first just before it needs it,
/// and hints nothing it does not read; a reverse scan hints only leaves it goes on to read, and
/// a scan whose bound ends inside its first leaf hints nothing.
#[test]
fn scans_hint_the_next_leaf_before_reading_it() {
    let keys: Vec<Vec<u8>> =
        (0..5000u32).map(|number| format!("{number:06}").into_bytes()).collect();
    let (store, tree, _) = build(&keys);
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    let scan = |reverse: bool, upper: &[u8]| {
        store.record_accesses(true);
        let range = tree.range(&store, ..upper);
        let count = if reverse { range.rev().count() } else { range.count() };
        let accesses = store.accesses();
        store.record_accesses(false);
        (count, accesses)
    };
    let hinted_then_read = |accesses: &[Access]| {
        accesses.iter().enumerate().all(|(at, access)| match access {
            Access::Hint(page_id) => accesses[at + 1..].first() == Some(&Access::Read(*page_id)),
            Access::Read(_) | Access::Stream(..) => true,
        })
    };

    let (count, accesses) = scan(false, b"999999");
    assert_eq!(count, keys.len());
    let hints = accesses.iter().filter(|access| matches!(access, Access::Hint(_))).count();
    assert_eq!(hints as u64, stats.leaves - 1, "every leaf after the first is hinted");
    assert!(hinted_then_read(&accesses), "each hint comes just before its read: {accesses:?}");

    let (count, accesses) = scan(true, b"999999");
    assert_eq!(count, keys.len());
    let hints = accesses.iter().filter(|access| matches!(access, Access::Hint(_))).count();
    assert!(hints as u64 > stats.leaves / 2, "most leaves share a parent with their left one");
    let read_later = accesses.iter().enumerate().all(|(at, access)| match access {
        Access::Hint(page_id) => accesses[at + 1..].contains(&Access::Read(*page_id)),
        Access::Read(_) | Access::Stream(..) => true,
    });
    assert!(read_later, "a reverse scan reads every leaf it hints");

    let (count, accesses) = scan(false, b"000002");
    assert_eq!(count, 2);
    assert!(!accesses.iter().any(|access| matches!(access, Access::Hint(_))), "{accesses:?}");
}
