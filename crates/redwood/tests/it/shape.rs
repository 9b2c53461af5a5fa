//! The tree-shape walk (`ReadOnlyTable::shape`, `Database::shape_source`): the levels it reports
//! are the tree's, linked by their parents, bounded by the limits, and taken from the snapshot.

use std::collections::HashSet;

use redwood::{Database, Error, NodeKind, ShapeLimits, TreeShape};

fn load(db: &Database, keys: std::ops::Range<u32>) -> redwood::Result<()> {
    let write = db.begin_write()?;
    let mut table = write.open_table("t")?;
    for key in keys {
        table.insert(key.to_be_bytes().as_slice(), [7u8; 40].as_slice())?;
    }
    drop(table);
    write.commit()
}

/// Every level's nodes name a parent on the level above (and the root none), the last level
/// read is made of the kind its depth says, and no level holds more nodes than the limit.
fn check_links(shape: &TreeShape, limits: ShapeLimits) {
    assert_eq!(shape.levels[0].nodes.len(), 1);
    assert_eq!(shape.levels[0].nodes[0].page_id, shape.root);
    assert_eq!(shape.levels[0].nodes[0].parent, None);
    for pair in shape.levels.windows(2) {
        let above: HashSet<u64> = pair[0].nodes.iter().map(|node| node.page_id).collect();
        assert!(pair[1].nodes.iter().all(|node| above.contains(&node.parent.expect("a parent"))));
    }
    for level in &shape.levels {
        assert!(level.nodes.len() <= limits.nodes_per_level_max);
        let kind =
            if level.depth + 1 == shape.height { NodeKind::Leaf } else { NodeKind::Interior };
        assert!(
            level.nodes.iter().all(|node| node.kind == kind && node.used_bytes <= node.page_bytes)
        );
    }
}

#[test]
fn a_whole_small_tree_is_read_level_by_level() -> redwood::Result<()> {
    let db = Database::in_memory()?;
    load(&db, 0..5_000)?;
    let read = db.begin_read()?;
    let limits = ShapeLimits { levels_max: 8, nodes_per_level_max: 1024 };
    let shape = read.open_table("t")?.shape(limits)?;
    assert!(shape.height >= 2, "5,000 entries fill more than one leaf: {shape:?}");
    assert_eq!(shape.levels.len(), shape.height);
    check_links(&shape, limits);
    let leaves = shape.levels.last().expect("a leaf level");
    assert!(!leaves.truncated);
    assert_eq!(leaves.nodes.iter().map(|leaf| leaf.cells as u64).sum::<u64>(), 5_000);
    assert_eq!(shape.entries, 5_000);
    // The leaves come in key order: their first keys ascend, starting at the smallest key.
    let firsts: Vec<&[u8]> =
        leaves.nodes.iter().map(|leaf| leaf.first_key_prefix.as_slice()).collect();
    assert_eq!(firsts[0], 0u32.to_be_bytes());
    assert!(firsts.windows(2).all(|pair| pair[0] < pair[1]));
    Ok(())
}

#[test]
fn a_big_tree_is_cut_at_the_limits() -> redwood::Result<()> {
    let db = Database::in_memory()?;
    load(&db, 0..40_000)?;
    let limits = ShapeLimits { levels_max: 2, nodes_per_level_max: 2 };
    let shape = db.begin_read()?.open_table("t")?.shape(limits)?;
    assert!(shape.height >= 3, "{shape:?}");
    assert_eq!(shape.levels.len(), 2);
    check_links(&shape, limits);
    // The root has more children than the limit: the level below holds the first two.
    assert!(shape.levels[0].nodes[0].cells + 1 > 2);
    assert_eq!(shape.levels[1].nodes.len(), 2);
    assert!(shape.levels[1].truncated && !shape.levels[0].truncated);
    Ok(())
}

#[test]
fn the_source_sees_the_last_commit_and_lets_go_on_close() -> redwood::Result<()> {
    let db = Database::in_memory()?;
    let source = db.shape_source();
    assert!(matches!(
        source.shape("t", ShapeLimits::default()),
        Some(Err(Error::TableNotFound(_)))
    ));
    load(&db, 0..1)?;
    let one = source.shape("t", ShapeLimits::default()).expect("open")?;
    assert_eq!((one.height, one.entries, one.levels[0].nodes[0].cells), (1, 1, 1));
    let read = db.begin_read()?;
    load(&db, 1..5_000)?;
    let grown = source.shape("t", ShapeLimits::default()).expect("open")?;
    assert!(grown.height >= 2 && grown.entries == 5_000);
    // The snapshot taken before the load still sees one leaf.
    assert_eq!(read.open_table("t")?.shape(ShapeLimits::default())?.height, 1);
    drop(read);
    drop(db);
    assert!(source.shape("t", ShapeLimits::default()).is_none());
    Ok(())
}
