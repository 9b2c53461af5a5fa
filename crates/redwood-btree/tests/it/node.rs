//! The slotted node page: a leaf driven by random inserts and removes matches a `BTreeMap`, with
//! its invariants holding and a save/load round trip after every step; splits keep every cell
//! and order the halves around the separator; damaged node pages are errors, never panics,
//! through a borrowed view as through an owned buffer; a view copied to an owned node keeps its
//! content and the checks it had.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Deref;

use proptest::prelude::*;
use redwood_btree::{
    Error, Full, KeyTail, KeyTails, NoTails, Node, NodeKind, OwnedKey, StoredKey, Value,
};
use redwood_pager::{Page, PageId, PageRead, PageSize, PageWrite};

use crate::support::runner;

/// Cell `index`'s key, an inline one (no test here stores a long key).
fn key<P: Deref<Target = Page>>(node: &Node<P>, index: usize) -> Vec<u8> {
    node.key(index).inline().expect("an inline key").to_vec()
}

/// Tails for damaged pages, whose bytes may make a long key out of anything: any answer will
/// do, as long as nothing panics or leaves the page.
struct AnyTails;

impl KeyTails for AnyTails {
    fn compare_tail(&mut self, _tail: KeyTail, _rest: &[u8]) -> redwood_btree::Result<Ordering> {
        Ok(Ordering::Less)
    }
}

/// A split's separator, an inline key.
fn inline(separator: OwnedKey) -> Vec<u8> {
    match separator {
        OwnedKey::Inline(bytes) => bytes,
        OwnedKey::Long { .. } => panic!("no long keys here"),
    }
}

/// The leaf's contents in order, inline values only.
fn contents<P: Deref<Target = Page>>(node: &Node<P>) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..node.len())
        .map(|index| match node.value(index) {
            Value::Inline(value) => (key(node, index), value.to_vec()),
            Value::Overflow { .. } => panic!("no overflow values here"),
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Remove(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (proptest::collection::vec(any::<u8>(), 1..40), proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(key, value)| Op::Insert(key, value)),
        1 => any::<usize>().prop_map(Op::Remove),
    ]
}

#[test]
fn a_leaf_matches_a_sorted_map() {
    let strategy = proptest::collection::vec(op(), 1..200);
    runner("a_leaf_matches_a_sorted_map", 128)
        .run(&strategy, |ops| {
            let mut node = Node::new_leaf(PageSize::DEFAULT);
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(key, value) => match node.search(&key, &mut NoTails).unwrap() {
                        Ok(index) => {
                            let old = model[&key].clone();
                            node.remove(index);
                            if node.insert_leaf(index, &key, Value::Inline(&value)).is_ok() {
                                model.insert(key, value);
                            } else {
                                // A larger value may not fit where the old one was: a tree
                                // splits here; a lone node keeps the old value.
                                prop_assert!(
                                    value.len() > old.len(),
                                    "the old value's room was freed"
                                );
                                node.insert_leaf(index, &key, Value::Inline(&old))
                                    .expect("the old value fits again");
                            }
                        }
                        Err(index) => {
                            if node.insert_leaf(index, &key, Value::Inline(&value)).is_ok() {
                                model.insert(key, value);
                            } else {
                                prop_assert!(
                                    node.free_bytes() < key.len() + value.len() + 8,
                                    "Full only when full"
                                );
                            }
                        }
                    },
                    Op::Remove(index) if !model.is_empty() => {
                        let index = index % node.len();
                        let key = key(&node, index);
                        node.remove(index);
                        model.remove(&key);
                    }
                    Op::Remove(_) => {}
                }
                node.check_invariants().map_err(TestCaseError::fail)?;
                let expected: Vec<_> = model.clone().into_iter().collect();
                prop_assert_eq!(contents(&node), expected.clone());
                let reloaded = Node::load(node.clone().into_page(), PageId::new(9)).unwrap();
                prop_assert_eq!(contents(&reloaded), expected);
            }
            Ok(())
        })
        .unwrap();
}

fn full_leaf(page_size: PageSize, seed: u8) -> (Node, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut node = Node::new_leaf(page_size);
    let mut model = BTreeMap::new();
    for number in 0u32.. {
        let key = format!("key-{seed}-{:08}", number.wrapping_mul(2_654_435_761) % 1_000_000)
            .into_bytes();
        let value = vec![seed; 10 + (number as usize * 37) % 120];
        let Err(index) = node.search(&key, &mut NoTails).unwrap() else { continue };
        if node.insert_leaf(index, &key, Value::Inline(&value)) == Err(Full) {
            break;
        }
        model.insert(key, value);
    }
    (node, model)
}

#[test]
fn a_leaf_split_keeps_every_cell_and_orders_the_halves() {
    for page_size in [PageSize::DEFAULT, PageSize::new(65536).unwrap()] {
        let (mut left, model) = full_leaf(page_size, 3);
        assert!(model.len() > 20, "{} cells", model.len());
        let (separator, right) = left.split(PageId::new(9)).unwrap();
        let separator = inline(separator);
        left.check_invariants().unwrap();
        right.check_invariants().unwrap();
        assert_eq!(key(&right, 0), separator, "a leaf keeps its separator");
        assert!(key(&left, left.len() - 1) < separator);
        let mut all = contents(&left);
        all.extend(contents(&right));
        assert_eq!(all, model.into_iter().collect::<Vec<_>>(), "no cell lost or duplicated");
        let (small, large) =
            (left.free_bytes().min(right.free_bytes()), left.free_bytes().max(right.free_bytes()));
        assert!(large - small < page_size.bytes() / 4, "halves balanced by bytes");
        // Both halves have room again: the next insert fits.
        assert!(
            left.free_bytes() > page_size.bytes() / 3 && right.free_bytes() > page_size.bytes() / 3
        );
    }
}

#[test]
fn an_interior_split_moves_the_middle_key_up() {
    let mut node = Node::new_interior(PageSize::DEFAULT, PageId::new(1000));
    let mut number = 0u64;
    loop {
        let key = format!("separator-{number:06}").into_bytes();
        if node.insert_interior(node.len(), &key, PageId::new(2000 + number)) == Err(Full) {
            break;
        }
        number += 1;
    }
    let count = node.len();
    let children: Vec<PageId> = (0..=count).map(|index| node.child(index)).collect();
    let (separator, right) = node.split(PageId::new(9)).unwrap();
    let separator = inline(separator);
    node.check_invariants().unwrap();
    right.check_invariants().unwrap();
    assert_eq!(node.len() + right.len() + 1, count, "the separator moved up");
    assert!(key(&node, node.len() - 1) < separator && separator < key(&right, 0));
    let mut after: Vec<PageId> = (0..=node.len()).map(|index| node.child(index)).collect();
    after.extend((0..=right.len()).map(|index| right.child(index)));
    assert_eq!(after, children, "every child is still reachable, in order");
    let child_index = node.child_index_for_checked(&separator, PageId::new(9), &mut NoTails);
    assert_eq!(child_index.unwrap(), node.len(), "keys at the separator go right");
    assert_eq!(right.kind(), NodeKind::Interior);
}

#[test]
fn overflow_references_round_trip() {
    let mut node = Node::new_leaf(PageSize::DEFAULT);
    let reference = Value::Overflow { first_page: PageId::new(77), length: 8 << 20 };
    node.insert_leaf(0, b"big", reference).unwrap();
    node.insert_leaf(1, b"small", Value::Inline(b"v")).unwrap();
    let node = Node::load(node.into_page(), PageId::new(3)).unwrap();
    assert_eq!(node.value(0), reference);
    assert_eq!(node.value(1), Value::Inline(b"v"));
}

#[test]
fn keys_out_of_order_fail_the_full_checks_but_not_the_read_checks() {
    let mut node = Node::new_leaf(PageSize::DEFAULT);
    node.insert_leaf(0, b"apple", Value::Inline(b"1")).unwrap();
    node.insert_leaf(1, b"melon", Value::Inline(b"2")).unwrap();
    let mut page = node.into_page();
    // Swap the two slots: every cell is still in bounds, but the keys now descend.
    let slots = redwood_pager::PAGE_HEADER_BYTES + 32;
    let bytes = page.as_mut_bytes();
    let (first, second) = ([bytes[slots], bytes[slots + 1]], [bytes[slots + 2], bytes[slots + 3]]);
    bytes[slots..slots + 2].copy_from_slice(&second);
    bytes[slots + 2..slots + 4].copy_from_slice(&first);
    let read = Node::load_for_read(&*page, PageId::new(4)).unwrap();
    assert_eq!(read.key(0), StoredKey::Inline(b"melon"));
    match Node::load(page, PageId::new(4)) {
        Err(Error::Corrupt { page_id, reason }) => {
            assert_eq!(page_id, PageId::new(4));
            assert!(reason.contains("ascending"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn damaged_node_pages_are_errors_never_panics() {
    let (leaf, _) = full_leaf(PageSize::DEFAULT, 5);
    let image = leaf.into_page();
    let strategy = proptest::collection::vec((0..image.as_bytes().len(), any::<u8>()), 1..6);
    runner("damaged_node_pages_are_errors_never_panics", 512)
        .run(&strategy, |edits| {
            let mut page = image.clone();
            for (offset, byte) in edits {
                page.as_mut_bytes()[offset] = byte;
            }
            // The read checks, on a view of the damaged bytes (as the read paths take pages):
            // whatever loads can be read and searched without leaving the page.
            match Node::load_for_read(&*page, PageId::new(12)) {
                Ok(node) => {
                    for index in 0..node.len() {
                        let _ = (node.key(index), node.value(index));
                    }
                    let _ = node.search(b"key-00003", &mut AnyTails);
                }
                Err(Error::Corrupt { page_id, .. }) => prop_assert_eq!(page_id, PageId::new(12)),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
            // The lookup checks, on a view: a checked search, then the cell it names, never leave
            // the page.
            match Node::load_for_lookup(&*page, PageId::new(12)) {
                Ok(node) => {
                    for probe in [&b"key-5-00000000"[..], b"", b"zzzz", b"key-5-00500000"] {
                        match node.search_checked(probe, PageId::new(12), &mut AnyTails) {
                            Ok(Ok(index)) => {
                                let _ = node.value(index);
                            }
                            Ok(Err(_)) => {}
                            Err(Error::Corrupt { page_id, .. }) => {
                                prop_assert_eq!(page_id, PageId::new(12))
                            }
                            Err(other) => prop_assert!(false, "unexpected {other}"),
                        }
                    }
                }
                Err(Error::Corrupt { page_id, .. }) => prop_assert_eq!(page_id, PageId::new(12)),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
            // The full checks, on a view and on an owned buffer: whatever loads is a valid node.
            match Node::load(&*page, PageId::new(12)) {
                Ok(view) => view.check_invariants().map_err(TestCaseError::fail)?,
                Err(Error::Corrupt { page_id, .. }) => prop_assert_eq!(page_id, PageId::new(12)),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
            match Node::load(page, PageId::new(12)) {
                Ok(node) => {
                    for index in 0..node.len() {
                        let _ = (node.key(index), node.value(index));
                    }
                    node.check_invariants().map_err(TestCaseError::fail)?;
                }
                Err(Error::Corrupt { page_id, .. }) => prop_assert_eq!(page_id, PageId::new(12)),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn damaged_interior_pages_never_make_a_lookup_panic() {
    let mut node = Node::new_interior(PageSize::DEFAULT, PageId::new(1000));
    for number in 0u64.. {
        let key = format!("separator-{number:06}").into_bytes();
        if node.insert_interior(node.len(), &key, PageId::new(2000 + number)) == Err(Full) {
            break;
        }
    }
    let image = node.into_page();
    let strategy = proptest::collection::vec((0..image.as_bytes().len(), any::<u8>()), 1..6);
    runner("damaged_interior_pages_never_make_a_lookup_panic", 512)
        .run(&strategy, |edits| {
            let mut page = image.clone();
            for (offset, byte) in edits {
                page.as_mut_bytes()[offset] = byte;
            }
            let Ok(node) = Node::load_for_lookup(&*page, PageId::new(13)) else { return Ok(()) };
            if node.kind() != NodeKind::Interior {
                return Ok(());
            }
            for probe in [&b"separator-000050"[..], b"", b"separator-000050x", b"~"] {
                match node.search_checked(probe, PageId::new(13), &mut AnyTails) {
                    Ok(found) => {
                        let child_index = found.map_or_else(|index| index, |index| index + 1);
                        let _ = node.child(child_index);
                    }
                    Err(Error::Corrupt { page_id, .. }) => {
                        prop_assert_eq!(page_id, PageId::new(13))
                    }
                    Err(other) => prop_assert!(false, "unexpected {other}"),
                }
            }
            Ok(())
        })
        .unwrap();
}

/// `Node::to_owned` copies a view of a store's page: the same cells, kind, sibling link and
/// bytes, no longer borrowing the store; a view with the full checks becomes a node that may be
/// modified, and one with only the read checks stays one that may not (the mutators assert it).
#[test]
fn a_view_copied_to_an_owned_node_keeps_its_content_and_its_checks() {
    let (mut leaf, model) = full_leaf(PageSize::DEFAULT, 7);
    leaf.set_right_sibling(Some(PageId::new(4242)));
    let mut store = redwood_pager::testing::MemPageStore::default();
    let page_id = store.allocate().unwrap();
    store.write_page(page_id, leaf.into_page()).unwrap();

    let view = Node::load(store.read_page(page_id).unwrap(), page_id).unwrap();
    let expected: Vec<_> = model.into_iter().collect();
    assert_eq!(contents(&view), expected);
    let mut owned = view.to_owned();
    assert_eq!(owned.page().as_bytes(), view.page().as_bytes(), "a byte-for-byte copy");
    drop(view);
    assert_eq!(contents(&owned), expected);
    assert_eq!(owned.kind(), NodeKind::Leaf);
    assert_eq!(owned.right_sibling(), Some(PageId::new(4242)));
    // The store is free again (no view holds it), and the copy may be modified.
    store.write_page(page_id, Node::new_leaf(PageSize::DEFAULT).into_page()).unwrap();
    owned.remove(0);
    owned.check_invariants().unwrap();
    assert_eq!(contents(&owned), expected[1..]);

    // A view with only the read checks gives a copy with only the read checks.
    store.write_page(page_id, owned.into_page()).unwrap();
    let view = Node::load_for_read(store.read_page(page_id).unwrap(), page_id).unwrap();
    let mut unchecked = view.to_owned();
    assert_eq!(contents(&unchecked), expected[1..]);
    let modified = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unchecked.remove(0)));
    assert!(modified.is_err(), "a node without the full checks is never modified");
}
