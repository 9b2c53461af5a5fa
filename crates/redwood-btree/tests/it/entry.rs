//! Borrowed entries (`Entry`): a lookup's and a scan's cells are read where the store holds the
//! leaf (their bytes lie inside the store's own page, so nothing was copied), match what was
//! stored, and stay valid while held, however far the scan moves on; `get` and `get_value` are
//! owned copies of the same cells.

use std::collections::BTreeMap;

use redwood_btree::{Entry, OwnedValue, Tree, Value};
use redwood_pager::testing::MemPageStore;
use redwood_pager::{PageClaims, PageId, PageRead};

/// A tree of `count` keys `key-000000`, ... with values of varying lengths (several leaves and
/// at least two levels for a few thousand keys).
fn build(count: u32) -> (MemPageStore, Tree, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut store = MemPageStore::default();
    let mut tree = Tree::create(&mut store).unwrap();
    let mut model = BTreeMap::new();
    for number in 0..count {
        let key = format!("key-{number:06}").into_bytes();
        let value = vec![(number % 251) as u8; 20 + (number as usize * 13) % 150];
        tree.insert(&mut store, &key, &value).unwrap();
        model.insert(key, value);
    }
    (store, tree, model)
}

/// Whether `bytes` lie inside one of the pages `store` holds: a view of the store's page, not a
/// copy (`MemPageStore` hands out guards over the pages it keeps).
fn borrowed_from_store(store: &MemPageStore, bytes: &[u8]) -> bool {
    let range = bytes.as_ptr_range();
    store.allocated().iter().any(|&page_id| {
        let page = store.read_page(page_id).unwrap().as_bytes().as_ptr_range();
        page.start <= range.start && range.end <= page.end
    })
}

fn inline_value<'a>(entry: &'a Entry<'_>) -> &'a [u8] {
    match entry.value() {
        Value::Inline(bytes) => bytes,
        Value::Overflow { .. } => panic!("inline values only here"),
    }
}

#[test]
fn a_lookup_returns_the_cell_borrowed_from_its_leaf() {
    let (mut store, mut tree, model) = build(3000);
    let reference = Value::Overflow { first_page: PageId::new(9999), length: 1 << 20 };
    tree.insert_value(&mut store, b"key-001500x", reference).unwrap();
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert!(stats.height >= 2, "{stats:?}");

    for (key, value) in model.iter().step_by(97) {
        store.reset_reads();
        let entry = tree.get_entry(&store, key).unwrap().expect("stored");
        assert_eq!(store.reads(), stats.height as u64, "one read per level");
        assert_eq!(entry.key(), key.as_slice());
        assert_eq!(inline_value(&entry), value.as_slice());
        assert!(borrowed_from_store(&store, entry.key()), "the key is not a copy");
        assert!(borrowed_from_store(&store, inline_value(&entry)), "the value is not a copy");
        // The owned forms are copies of the same cell.
        assert_eq!(tree.get(&store, key).unwrap().as_ref(), Some(value));
        assert_eq!(tree.get_value(&store, key).unwrap(), Some(OwnedValue::Inline(value.clone())));
        assert_eq!(entry.clone().into_owned(), (key.clone(), OwnedValue::Inline(value.clone())));
    }

    let entry = tree.get_entry(&store, b"key-001500x").unwrap().expect("stored");
    assert_eq!(entry.key(), b"key-001500x");
    assert_eq!(entry.value(), reference);
    assert_eq!(entry.into_owned().1, OwnedValue::from(reference));

    for missing in [&b""[..], b"key-001500y", b"key-999999", b"~"] {
        assert!(tree.get_entry(&store, missing).unwrap().is_none(), "{missing:?}");
    }
}

#[test]
fn scan_entries_stay_valid_after_the_scan_moves_on() {
    let (store, tree, model) = build(5000);
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert!(stats.leaves > 20, "{stats:?}");

    // Every entry of the scan held at once, across all the leaves.
    let entries: Vec<Entry<'_>> = tree.range(&store, ..).map(Result::unwrap).collect();
    assert_eq!(entries.len(), model.len());
    for (entry, (key, value)) in entries.iter().zip(&model) {
        assert_eq!(entry.key(), key.as_slice());
        assert_eq!(inline_value(entry), value.as_slice());
    }
    assert!(entries.iter().all(|entry| borrowed_from_store(&store, entry.key())), "no copies");

    // A few entries from each end, held while the scan runs to the middle from both sides.
    let mut scan = tree.range(&store, b"key-000100".as_slice()..b"key-004900".as_slice());
    let front: Vec<Entry<'_>> = scan.by_ref().take(3).map(Result::unwrap).collect();
    let back: Vec<Entry<'_>> = scan.by_ref().rev().take(3).map(Result::unwrap).collect();
    let (mut middle, mut last) = (0, None);
    while let Some(entry) = if middle % 2 == 0 { scan.next() } else { scan.next_back() } {
        last = Some(entry.unwrap());
        middle += 1;
    }
    assert_eq!(front.len() + back.len() + middle, 4800, "each entry once");
    let key = |number: u32| format!("key-{number:06}").into_bytes();
    for (entry, number) in front.iter().zip(100..) {
        assert_eq!(entry.key(), key(number));
        assert_eq!(inline_value(entry), model[&key(number)].as_slice());
    }
    for (entry, number) in back.iter().zip((0..4900).rev()) {
        assert_eq!(entry.key(), key(number));
        assert_eq!(inline_value(entry), model[&key(number)].as_slice());
    }
    let last = last.expect("the middle is not empty");
    assert_eq!(inline_value(&last), model[last.key()].as_slice());
}
