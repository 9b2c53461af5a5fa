//! `TreeBuilder`: a tree built bottom up from ascending entries is the tree an ascending load
//! through `insert` leaves (level by level, the same nodes equally full), passes the integrity
//! walk and reads back; out-of-order and long keys are refused with typed errors.

use redwood_btree::{Error, Tree, TreeBuilder, Value};
use redwood_pager::PageClaims;
use redwood_pager::testing::MemPageStore;

use crate::bulk::{ascending_key, levels};

/// A value whose length varies with `number` (8 to 207 bytes), so leaves cut at uneven places.
fn value(number: u32) -> Vec<u8> {
    vec![(number % 251) as u8; 8 + (number as usize * 37) % 200]
}

#[test]
fn a_built_tree_is_the_tree_an_ascending_load_leaves() {
    for count in [0u32, 1, 40, 20_000] {
        let mut built_store = MemPageStore::default();
        let mut builder = TreeBuilder::new(&mut built_store).unwrap();
        for number in 0..count {
            builder
                .push(&mut built_store, &ascending_key(number), Value::Inline(&value(number)))
                .unwrap();
        }
        assert_eq!(builder.entries(), u64::from(count));
        let built = builder.finish(&mut built_store).unwrap();

        let mut loaded_store = MemPageStore::default();
        let mut loaded = Tree::create(&mut loaded_store).unwrap();
        for number in 0..count {
            loaded.insert(&mut loaded_store, &ascending_key(number), &value(number)).unwrap();
        }
        let stats = built.check_invariants(&built_store, &mut PageClaims::new()).unwrap();
        let expected = loaded.check_invariants(&loaded_store, &mut PageClaims::new()).unwrap();
        assert_eq!(stats, expected, "{count} entries");
        assert_eq!((stats.entries, stats.underfull_nodes), (u64::from(count), 0), "{stats:?}");
        let fills = |levels: Vec<Vec<(redwood_pager::PageId, f64)>>| -> Vec<Vec<f64>> {
            levels.into_iter().map(|level| level.into_iter().map(|(_, f)| f).collect()).collect()
        };
        assert_eq!(
            fills(levels(&built, &built_store)),
            fills(levels(&loaded, &loaded_store)),
            "{count} entries: the same nodes, equally full"
        );
        for number in 0..count {
            let found = built.get(&built_store, &ascending_key(number)).unwrap();
            assert_eq!(found, Some(value(number)), "key {number}");
        }
        assert_eq!(built.range(&built_store, ..).count(), count as usize);
        if count == 20_000 {
            assert!(stats.height >= 3, "deep enough to fill interior nodes: {stats:?}");
        }
    }
}

#[test]
fn keys_out_of_order_or_past_the_inline_limit_are_refused_and_change_nothing() {
    let mut store = MemPageStore::default();
    let mut builder = TreeBuilder::new(&mut store).unwrap();
    builder.push(&mut store, b"b", Value::Inline(b"1")).unwrap();
    for key in [&b"b"[..], b"a"] {
        let error = builder.push(&mut store, key, Value::Inline(b"2")).unwrap_err();
        assert!(matches!(error, Error::Corrupt { .. }), "{error}");
    }
    let long = vec![7u8; 5_000];
    let error = builder.push(&mut store, &long, Value::Inline(b"3")).unwrap_err();
    assert!(matches!(error, Error::KeyTooLarge { .. }), "{error}");
    let error = builder.push(&mut store, b"c", Value::Inline(&[0u8; 5_000])).unwrap_err();
    assert!(matches!(error, Error::ValueTooLarge { .. }), "{error}");
    builder.push(&mut store, b"c", Value::Inline(b"4")).unwrap();
    assert_eq!(builder.entries(), 2);
    let tree = builder.finish(&mut store).unwrap();
    let stats = tree.check_invariants(&store, &mut PageClaims::new()).unwrap();
    assert_eq!(stats.entries, 2);
    assert_eq!(tree.get(&store, b"b").unwrap(), Some(b"1".to_vec()));
    assert_eq!(tree.get(&store, b"c").unwrap(), Some(b"4".to_vec()));
}

/// Builds a tree of `count` ascending entries with `push`.
fn built(store: &mut MemPageStore, count: u32) -> Tree {
    let mut builder = TreeBuilder::new(store).unwrap();
    for number in 0..count {
        builder.push(store, &ascending_key(number), Value::Inline(&value(number))).unwrap();
    }
    builder.finish(store).unwrap()
}

#[test]
fn a_tree_rebuilt_from_whole_leaves_is_the_tree_they_came_from() {
    use redwood_pager::PageRead;
    for count in [0u32, 1, 40, 20_000] {
        let mut store = MemPageStore::default();
        let source = built(&mut store, count);
        let leaves: Vec<_> =
            levels(&source, &store).pop().unwrap().into_iter().map(|(id, _)| id).collect();
        let mut builder = TreeBuilder::new(&mut store).unwrap();
        for &leaf in &leaves {
            let page = store.read_page(leaf).unwrap().to_page_buf();
            assert!(builder.push_leaf(&mut store, &page, leaf).unwrap(), "taken whole");
        }
        assert_eq!(builder.entries(), u64::from(count));
        let copy = builder.finish(&mut store).unwrap();
        let fills = |levels: Vec<Vec<(redwood_pager::PageId, f64)>>| -> Vec<Vec<f64>> {
            levels.into_iter().map(|level| level.into_iter().map(|(_, f)| f).collect()).collect()
        };
        assert_eq!(
            fills(levels(&copy, &store)),
            fills(levels(&source, &store)),
            "{count} entries: the same nodes, equally full"
        );
        let mut claims = PageClaims::new();
        let stats = copy.check_invariants(&store, &mut claims).unwrap();
        assert_eq!(stats.entries, u64::from(count));
        for number in (0..count).step_by(97) {
            assert_eq!(copy.get(&store, &ascending_key(number)).unwrap(), Some(value(number)));
        }
        assert_eq!(copy.range(&store, ..).count(), count as usize, "the sibling links hold");
    }
}

#[test]
fn whole_leaves_mix_with_entries_and_refuse_what_they_cannot_take() {
    use redwood_pager::PageRead;
    let mut store = MemPageStore::default();
    let source = built(&mut store, 200);
    let leaves: Vec<_> =
        levels(&source, &store).pop().unwrap().into_iter().map(|(id, _)| id).collect();
    let page = |store: &MemPageStore, id| store.read_page(id).unwrap().to_page_buf();
    let mut builder = TreeBuilder::new(&mut store).unwrap();
    builder.push(&mut store, b"a", Value::Inline(b"first")).unwrap();
    let first = page(&store, leaves[0]);
    assert!(builder.push_leaf(&mut store, &first, leaves[0]).unwrap());
    // The same leaf again: keys out of order.
    let error = builder.push_leaf(&mut store, &first, leaves[0]).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error}");
    builder.push(&mut store, &ascending_key(199_999), Value::Inline(b"last")).unwrap();
    // An interior node is no leaf.
    let root = page(&store, source.root());
    let error = builder.push_leaf(&mut store, &root, source.root()).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error}");
    // A leaf holding an overflow value is left to the caller, unchanged.
    let mut chained = MemPageStore::default();
    let mut tree = Tree::create(&mut chained).unwrap();
    let chain = Value::Overflow { first_page: redwood_pager::PageId::new(7), length: 3000 };
    tree.insert_value(&mut chained, b"zz", chain).unwrap();
    let leaf = chained.read_page(tree.root()).unwrap().to_page_buf();
    assert!(!builder.push_leaf(&mut store, &leaf, tree.root()).unwrap());
    let entries = builder.entries();
    assert_eq!(entries, 2 + first_len(&store, leaves[0]), "the refused leaf added nothing");
    let copy = builder.finish(&mut store).unwrap();
    assert_eq!(copy.range(&store, ..).count() as u64, entries);
    assert_eq!(copy.get(&store, b"a").unwrap(), Some(b"first".to_vec()));
    assert_eq!(copy.get(&store, &ascending_key(0)).unwrap(), Some(value(0)));
    copy.check_invariants(&store, &mut PageClaims::new()).unwrap();
}

/// Entries in the leaf `page_id`.
fn first_len(store: &MemPageStore, page_id: redwood_pager::PageId) -> u64 {
    use redwood_pager::PageRead;
    redwood_btree::Node::load(store.read_page(page_id).unwrap(), page_id).unwrap().len() as u64
}
