//! A table's tree shape in one snapshot: its top levels, node by node, for the dashboard's
//! visualizer and for anyone who wants to see how a tree is laid out. The walk reads at most
//! `levels_max × nodes_per_level_max` nodes plus one descent (for the height), whatever the
//! tree's size, and checks every node it reads as the read paths do (`Node::load_for_read`), so
//! a damaged page is a `Corrupt` error, never a panic or an unbounded walk.
//!
//! [`ShapeSource`] takes the same walk from outside the database's owner, holding the database
//! weakly as a [`crate::telemetry::DiagnosticsSource`] does: once the database is closed it
//! yields nothing and keeps no file open.

use std::sync::{Arc, PoisonError, Weak};

use redwood_btree::Node;
use redwood_btree::limits::TREE_HEIGHT_MAX;
use redwood_pager::{PageId, PageRead};

use crate::NodeKind;
use crate::catalog::{self, TableEntry};
use crate::database::Database;
use crate::diagnostics::Hub;
use crate::error::{Error, Result};

/// The bytes of a node's first key a [`ShapeNode`] keeps, at most.
pub const SHAPE_KEY_PREFIX_MAX_BYTES: usize = 16;
/// The most levels a shape walk takes, whatever it is asked for.
pub const SHAPE_LEVELS_MAX: usize = 8;
/// The most nodes per level a shape walk takes, whatever it is asked for.
pub const SHAPE_NODES_PER_LEVEL_MAX: usize = 1024;

/// How much of a tree a shape walk reads: the top `levels_max` levels, at most
/// `nodes_per_level_max` nodes of each (the leftmost ones, in key order). Both are clamped to
/// `1..=`[`SHAPE_LEVELS_MAX`] and `1..=`[`SHAPE_NODES_PER_LEVEL_MAX`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShapeLimits {
    /// Levels to read, from the root down.
    pub levels_max: usize,
    /// Nodes to read per level, at most.
    pub nodes_per_level_max: usize,
}

impl Default for ShapeLimits {
    /// Four levels of at most 64 nodes: what the dashboard draws.
    fn default() -> Self {
        ShapeLimits { levels_max: 4, nodes_per_level_max: 64 }
    }
}

impl ShapeLimits {
    fn clamped(self) -> ShapeLimits {
        ShapeLimits {
            levels_max: self.levels_max.clamp(1, SHAPE_LEVELS_MAX),
            nodes_per_level_max: self.nodes_per_level_max.clamp(1, SHAPE_NODES_PER_LEVEL_MAX),
        }
    }
}

/// The top levels of one table's B+Tree in one snapshot ([`crate::ReadOnlyTable::shape`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TreeShape {
    /// The tree's root page.
    pub root: u64,
    /// The tree's levels, leaves included (a tree of one leaf has height 1).
    pub height: usize,
    /// The table's entries.
    pub entries: u64,
    /// The levels read, from the root down: at most the limits' `levels_max`, and never more
    /// than `height`.
    pub levels: Vec<ShapeLevel>,
}

/// One level of a [`TreeShape`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ShapeLevel {
    /// Its distance from the root (the root's level is 0).
    pub depth: usize,
    /// The nodes read, in key order.
    pub nodes: Vec<ShapeNode>,
    /// Whether the level has more nodes than were read (the walk stopped at the limit, or a
    /// parent on the level above was not read).
    pub truncated: bool,
}

/// One node of a [`TreeShape`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ShapeNode {
    /// Its page.
    pub page_id: u64,
    /// Leaf or interior.
    pub kind: NodeKind,
    /// Its cells: entries in a leaf, separators in an interior node (which has one child
    /// more).
    pub cells: usize,
    /// Bytes of the page in use (the page size less the free bytes).
    pub used_bytes: usize,
    /// The page size, for the fill ratio.
    pub page_bytes: usize,
    /// Its parent's page (`None` for the root).
    pub parent: Option<u64>,
    /// The first bytes of its first key (at most [`SHAPE_KEY_PREFIX_MAX_BYTES`]), empty for an
    /// empty leaf.
    pub first_key_prefix: Vec<u8>,
}

/// Walks the tree `entry` names in `store`.
pub(crate) fn walk(
    store: &impl PageRead,
    entry: TableEntry,
    limits: ShapeLimits,
) -> Result<TreeShape> {
    let limits = limits.clamped();
    let height = height(store, entry.root)?;
    let mut levels = Vec::with_capacity(limits.levels_max.min(height));
    let mut frontier: Vec<(PageId, Option<u64>)> = vec![(entry.root, None)];
    let mut truncated = false;
    for depth in 0..limits.levels_max.min(height) {
        let mut nodes = Vec::with_capacity(frontier.len());
        let mut next = Vec::new();
        let mut next_truncated = truncated;
        for (page_id, parent) in frontier {
            let page = store.read_page(page_id)?;
            let node = Node::load_for_read(page, page_id).map_err(Error::Tree)?;
            let expected = if depth + 1 == height { NodeKind::Leaf } else { NodeKind::Interior };
            if node.kind() != expected {
                let kind = node.kind();
                let reason =
                    format!("a {kind:?} node at depth {depth} of a tree of height {height}");
                return Err(Error::Tree(redwood_btree::Error::Corrupt { page_id, reason }));
            }
            if node.kind() == NodeKind::Interior {
                let room = limits.nodes_per_level_max - next.len().min(limits.nodes_per_level_max);
                let children = node.len() + 1;
                next_truncated |= children > room;
                for child in 0..children.min(room) {
                    let child = node.child_checked(child, page_id).map_err(Error::Tree)?;
                    next.push((child, Some(page_id.get())));
                }
            }
            let first_key_prefix = if node.is_empty() {
                Vec::new()
            } else {
                // A long key's inline prefix is longer than the prefix kept here.
                let key = node.key(0).visible();
                key[..key.len().min(SHAPE_KEY_PREFIX_MAX_BYTES)].to_vec()
            };
            let page_bytes = node.page_size().bytes();
            nodes.push(ShapeNode {
                page_id: page_id.get(),
                kind: node.kind(),
                cells: node.len(),
                used_bytes: page_bytes.saturating_sub(node.free_bytes()),
                page_bytes,
                parent,
                first_key_prefix,
            });
        }
        levels.push(ShapeLevel { depth, nodes, truncated });
        frontier = next;
        truncated = next_truncated;
    }
    debug_assert!(levels.len() <= limits.levels_max && levels.len() <= height);
    Ok(TreeShape { root: entry.root.get(), height, entries: entry.len, levels })
}

/// The tree's height, by its leftmost descent (bounded by `TREE_HEIGHT_MAX`).
fn height(store: &impl PageRead, root: PageId) -> Result<usize> {
    let mut page_id = root;
    for depth in 1..=TREE_HEIGHT_MAX {
        let page = store.read_page(page_id)?;
        let node = Node::load_for_lookup(page, page_id).map_err(Error::Tree)?;
        if node.kind() == NodeKind::Leaf {
            return Ok(depth);
        }
        page_id = node.child_checked(0, page_id).map_err(Error::Tree)?;
    }
    let reason = format!("the leftmost descent is deeper than {TREE_HEIGHT_MAX} levels");
    Err(Error::Tree(redwood_btree::Error::Corrupt { page_id: root, reason }))
}

/// Takes shape walks of a database's tables from anywhere (a dashboard's thread), holding the
/// database weakly ([`Database::shape_source`]).
#[derive(Clone)]
pub struct ShapeSource(Weak<Hub>);

impl std::fmt::Debug for ShapeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShapeSource").field("open", &(self.0.strong_count() > 0)).finish()
    }
}

impl ShapeSource {
    /// The shape of `table` as of the last commit, or `None` if the database is closed.
    /// `TableNotFound` if the table does not exist. The walk holds a read snapshot for its
    /// duration (bounded by the limits), which a closing database waits for.
    pub fn shape(&self, table: &str, limits: ShapeLimits) -> Option<Result<TreeShape>> {
        let hub = self.0.upgrade()?;
        let pager = hub.pager.read().unwrap_or_else(PoisonError::into_inner);
        let pager: &Arc<_> = pager.as_ref()?;
        Some(pager.begin_read().map_err(Error::from).and_then(|txn| {
            let entry = catalog::lookup(&txn, table)?
                .ok_or_else(|| Error::TableNotFound(table.to_owned()))?;
            walk(&txn, entry, limits)
        }))
    }
}

impl Database {
    /// A source of shape walks of this database's tables that holds the database weakly: once
    /// the database is dropped, [`ShapeSource::shape`] yields `None` and keeps no file open.
    ///
    /// ```
    /// use redwood::ShapeLimits;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let source = db.shape_source();
    /// let shape = source.shape("t", ShapeLimits::default()).expect("open")?;
    /// assert_eq!((shape.height, shape.entries, shape.levels[0].nodes[0].cells), (1, 1, 1));
    /// drop(db);
    /// assert!(source.shape("t", ShapeLimits::default()).is_none());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn shape_source(&self) -> ShapeSource {
        ShapeSource(Arc::downgrade(&self.hub))
    }
}
