//! Multimap tables through the public API: a model test against `BTreeMap<K, BTreeSet<V>>`
//! (keys and values with zero bytes, so the pair encoding's escapes are exercised), the kind
//! recorded in the catalog across a reopen, and table operations on a multimap table.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood::{Database, Error, ErrorKind, MultimapTableDefinition};

const PAIRS: MultimapTableDefinition<&[u8], &[u8]> = MultimapTableDefinition::new("pairs");
const TAGS: MultimapTableDefinition<&str, u32> = MultimapTableDefinition::new("tags");

type Model = BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>;

/// A short byte string over an alphabet rich in zeros (and `FF`, the escape's second byte).
fn bytes(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let len = rng.random_range(0..4);
    (0..len).map(|_| [0u8, 1, 0xFF, b'a'][rng.random_range(0..4)]).collect()
}

fn flatten<'a>(
    pairs: impl Iterator<Item = (&'a Vec<u8>, &'a BTreeSet<Vec<u8>>)>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs.flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone()))).collect()
}

fn random_bounds(rng: &mut ChaCha8Rng) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let (a, b) = (bytes(rng), bytes(rng));
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let equal = low == high;
    let lower = match rng.random_range(0..3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(low),
        _ => Bound::Excluded(low),
    };
    let upper = match rng.random_range(0..3) {
        0 => Bound::Unbounded,
        // BTreeMap panics on an equal, doubly excluded pair.
        1 => Bound::Included(high),
        _ if equal && matches!(lower, Bound::Excluded(_)) => Bound::Included(high),
        _ => Bound::Excluded(high),
    };
    (lower, upper)
}

fn slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

#[test]
fn multimap_tables_match_a_model_of_sorted_sets() -> redwood::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(redwood_pager::io::sim::test_seed("multimap_model"));
    let db = Database::in_memory()?;
    let mut model = Model::new();
    for _round in 0..6 {
        let write = db.begin_write()?;
        let mut table = write.open_multimap_table(PAIRS)?;
        for _ in 0..150 {
            let (key, value) = (bytes(&mut rng), bytes(&mut rng));
            match rng.random_range(0..10) {
                0..6 => {
                    let had = !model.entry(key.clone()).or_default().insert(value.clone());
                    assert_eq!(table.insert(key.as_slice(), value.as_slice())?, had);
                }
                6..9 => {
                    let had = model.get_mut(&key).is_some_and(|values| values.remove(&value));
                    assert_eq!(table.remove(key.as_slice(), value.as_slice())?, had);
                }
                _ => {
                    let had = model.remove(&key).map_or(0, |values| values.len() as u64);
                    assert_eq!(table.remove_all(key.as_slice())?, had);
                }
            }
            model.retain(|_, values| !values.is_empty());
        }
        let pairs: u64 = model.values().map(|values| values.len() as u64).sum();
        assert_eq!(table.len(), pairs);
        // Within the transaction: every key's values, and a random range both ways.
        for (key, values) in &model {
            let got: Vec<Vec<u8>> = table
                .get(key.as_slice())?
                .map(|v| v.map(|v| v.to_vec()))
                .collect::<Result<_, _>>()?;
            assert_eq!(got, values.iter().cloned().collect::<Vec<_>>());
        }
        assert_eq!(table.get(b"absent key".as_slice())?.count(), 0);
        let bounds = random_bounds(&mut rng);
        let expected = flatten(model.range(bounds.clone()));
        let forward: Vec<_> = table
            .range((slice(&bounds.0), slice(&bounds.1)))
            .map(|pair| pair.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()?;
        assert_eq!(forward, expected, "range {bounds:?}");
        drop(table);
        write.commit()?;

        // In a snapshot: everything, and a random range backwards.
        let read = db.begin_read()?;
        let table = read.open_multimap_table(PAIRS)?;
        assert_eq!(table.len(), pairs);
        let all: Vec<_> = table
            .range(..)
            .map(|pair| pair.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()?;
        assert_eq!(all, flatten(model.iter()));
        let bounds = random_bounds(&mut rng);
        let mut expected = flatten(model.range(bounds.clone()));
        expected.reverse();
        let backward: Vec<_> = table
            .range((slice(&bounds.0), slice(&bounds.1)))
            .rev()
            .map(|pair| pair.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()?;
        assert_eq!(backward, expected, "range {bounds:?} backwards");
    }
    db.check_integrity()?;
    Ok(())
}

#[test]
fn the_kind_is_recorded_and_checked_across_a_reopen() -> redwood::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("db.redwood");
    {
        let db = Database::create(&path)?;
        let write = db.begin_write()?;
        let mut tags = write.open_multimap_table(TAGS)?;
        for (tag, id) in [("b", 2), ("a", 9), ("b", 1), ("a", 3)] {
            tags.insert(tag, id)?;
        }
        drop(tags);
        write.open_table("plain")?.insert(b"k", b"v")?;
        let mismatch = write.open_table("tags").expect_err("a multimap table");
        assert!(matches!(&mismatch, Error::TableKindMismatch { .. }), "{mismatch}");
        assert_eq!(mismatch.kind(), ErrorKind::InvalidInput);
        write.commit()?;
    }
    let db = Database::open(&path)?;
    let read = db.begin_read()?;
    let tags = read.open_multimap_table(TAGS)?;
    let b: Vec<u32> = tags.get("b")?.map(|id| id.map(|id| id.value())).collect::<Result<_, _>>()?;
    assert_eq!(b, [1, 2]);
    let pairs: Vec<(String, u32)> = tags
        .range("a".."b")
        .map(|p| p.map(|(k, v)| (k.value().to_owned(), v.value())))
        .collect::<Result<_, _>>()?;
    assert_eq!(pairs, [("a".to_owned(), 3), ("a".to_owned(), 9)]);
    let as_plain = read.open_table("tags").expect_err("a multimap table");
    assert_eq!(as_plain.to_string(), r#""tags" is a multimap table, not a table"#);
    let as_multimap =
        read.open_multimap_table(MultimapTableDefinition::<&[u8], &[u8]>::new("plain"));
    assert!(matches!(as_multimap, Err(Error::TableKindMismatch { .. })));
    drop(read);

    // Rename and delete treat it as any table; the renamed table is still a multimap table.
    let write = db.begin_write()?;
    assert!(write.rename_table("tags", "labels")?);
    let labels = MultimapTableDefinition::<&str, u32>::new("labels");
    assert_eq!(write.open_multimap_table(labels)?.len(), 4);
    write.commit()?;
    let write = db.begin_write()?;
    assert!(write.delete_table("labels")?);
    write.commit()?;
    assert_eq!(db.begin_read()?.list_tables()?, ["plain"]);
    db.check_integrity()?;
    Ok(())
}

#[test]
fn recover_copies_a_multimap_table_as_one() -> redwood::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (path, out) = (dir.path().join("db.redwood"), dir.path().join("copy.redwood"));
    {
        let db = Database::create(&path)?;
        let write = db.begin_write()?;
        let mut tags = write.open_multimap_table(TAGS)?;
        for id in [5, 1, 3] {
            tags.insert("x", id)?;
        }
        drop(tags);
        write.commit()?;
    }
    let report = redwood::recover(&path, &out, |_, _| {})?;
    assert_eq!(report.tables.iter().map(|t| t.entries_recovered).sum::<u64>(), 3);
    let db = Database::open(&out)?;
    let read = db.begin_read()?;
    let tables = read.tables()?;
    assert_eq!((tables[0].kind, tables[0].entries), (redwood::TableKind::Multimap, 3));
    let ids: Vec<u32> = read
        .open_multimap_table(TAGS)?
        .get("x")?
        .map(|id| id.map(|id| id.value()))
        .collect::<Result<_, _>>()?;
    assert_eq!(ids, [1, 3, 5]);
    Ok(())
}
