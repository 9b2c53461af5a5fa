//! Redwood B+Tree tables (issue 5, in progress).
//!
//! Its role: named tables as B+Trees of slotted pages with right-sibling links, point operations,
//! streaming range scans in both directions, split/merge/rebalance and an invariant checker.
//! Built so far: `node`, the slotted node page (docs/FORMAT.md, "B+Tree node pages"): validated
//! loading, search, insert, remove, compaction and split; `tree`, `Tree` over the pager's
//! `PageRead`/`PageWrite`: get, insert with splits and root growth, remove, and
//! `check_invariants`; `rebalance`, merges and redistribution of underfull nodes and root
//! shrinkage, keeping every node but the root (and the last of each level, which an ascending
//! load fills) a quarter full; `observer`, the structural events (`TreeEvent`) a tree reports
//! to a `TreeObserver`; `salvage`, every readable entry of a damaged tree and the key
//! ranges of the parts that are not; `limits`, the key and inline-value limits per page size;
//! `keys`, long keys (docs/DECISIONS.md, ADR-17): keys up to `limits::KEY_MAX_BYTES_TOTAL`
//! (64 KiB), those past the inline limit stored as a prefix in the cell and a tail in an
//! overflow chain the tree owns, compared by prefix first, long separators suffix-truncated.
//!
//! Malformed pages (checksum-valid, contents wrong) are `Error::Corrupt` naming the page, never a
//! panic, a hang or an unbounded allocation: every cell read is checked against the size limits
//! (`limits`), descents stop at `limits::TREE_HEIGHT_MAX` levels, sibling walks check that keys
//! keep ascending from leaf to leaf, and modifications check the nodes they combine and write
//! nothing until every check has passed.
//!
//! Reads borrow, writes own: lookups ([`Tree::get_entry`]), range scans ([`Range`]), the
//! integrity walk and salvage read each node as a view of the page where the store holds it
//! (`Node<PageGuard>`: a pinned cache frame or a transaction's own page, no copy), and hand out
//! [`Entry`]s, leaf cells borrowed from their pinned leaf. The write path descends the same way
//! (recording page ids, copying nothing), changes a leaf the write transaction already holds
//! in place, and owns a copy (`Node<PageBuf>`) of a page only when it must write a new image:
//! the first change to a leaf in a transaction, and the nodes a split or merge changes (see
//! `tree`). A split at the tree's right edge keeps the full page whole, so an ascending load
//! leaves its pages full. [`Tree::get`] and [`Tree::get_value`] are owned copies of a lookup's
//! entry, for callers that keep the data.
//!
//! What it does not do: it sees pages only through the pager's `PageRead`/`PageWrite`
//! capabilities (and writes, reads, frees and claims its long keys' chains with
//! `redwood-overflow`, over the same capabilities); it knows nothing of the write-ahead log,
//! the buffer pool or files. Overflow values' chains are the caller's.

mod cursor;
mod entry;
mod error;
mod keys;
pub mod limits;
pub mod node;
mod observer;
mod rebalance;
mod salvage;
mod tree;

pub use cursor::Range;
pub use entry::Entry;
pub use error::{Error, Result};
pub use node::{
    Full, KeyTail, KeyTails, NoTails, Node, NodeKind, OwnedKey, OwnedValue, StoredKey, Value,
};
pub use observer::{TreeEvent, TreeObserver};
pub use salvage::{LostRange, Salvage};
pub use tree::{Tree, TreeBuilder, TreeStats};
