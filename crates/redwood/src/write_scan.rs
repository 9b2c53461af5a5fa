//! `Scan`: a write transaction's scan of one table, a batch at a time. Each refill borrows the
//! transaction's state, copies up to a batch of entries (keys, and values when asked for) out of
//! the tree, and lets go, so no borrow of the state (and no pin of a page the transaction may
//! change) outlives a call to `next`. The two ends keep their own buffers; a refill of one end
//! stops at the nearest entry the other end holds, so an entry is returned once.

use std::collections::VecDeque;
use std::ops::Bound;

use redwood_btree::Tree;

use crate::error::Result;
use crate::read::{as_slice, bytes_of};
use crate::write::WriteTransaction;

/// Entries a refill copies at most.
const BATCH_ENTRIES: usize = 64;

/// Value bytes a refill copies at most (past the first entry): large values come a few at a
/// time.
const BATCH_VALUE_BYTES: usize = 1 << 20;

/// One entry a scan copied out.
pub(crate) struct ScanItem {
    pub key: Vec<u8>,
    /// The value, if the scan reads values.
    pub value: Option<Vec<u8>>,
}

/// A batched scan over the keys between `lower` and `upper` of one table.
pub(crate) struct Scan<'t, 'db> {
    txn: &'t WriteTransaction<'db>,
    name: String,
    /// Where the next front refill starts (after the last key the front buffered).
    lower: Bound<Vec<u8>>,
    /// Where the next back refill starts (before the last key the back buffered).
    upper: Bound<Vec<u8>>,
    /// Buffered entries in ascending order, for `next`.
    front: VecDeque<ScanItem>,
    /// Buffered entries in descending order, for `next_back`.
    back: VecDeque<ScanItem>,
    with_values: bool,
    /// Set once a refill found fewer entries than it could take: every entry between the two
    /// ends is buffered, and no refill is needed.
    met: bool,
    failed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Front,
    Back,
}

impl<'t, 'db> Scan<'t, 'db> {
    pub(crate) fn new(
        txn: &'t WriteTransaction<'db>,
        name: &str,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        with_values: bool,
    ) -> Self {
        let empty = match (&lower, &upper) {
            (
                Bound::Included(low) | Bound::Excluded(low),
                Bound::Included(high) | Bound::Excluded(high),
            ) => low > high,
            _ => false,
        };
        Self {
            txn,
            name: name.to_owned(),
            lower,
            upper,
            front: VecDeque::new(),
            back: VecDeque::new(),
            with_values,
            met: empty,
            failed: false,
        }
    }

    /// Copies the next batch from `end` into its buffer.
    fn refill(&mut self, end: End) -> Result<()> {
        let state = self.txn.state.borrow();
        let entry = state.open_entry(&self.name)?;
        // The other end's nearest buffered key bounds this refill.
        let (lower, upper) = match end {
            End::Front => {
                let upper = match self.back.back() {
                    Some(item) => Bound::Excluded(item.key.as_slice()),
                    None => as_slice(&self.upper),
                };
                (as_slice(&self.lower), upper)
            }
            End::Back => {
                let lower = match self.front.back() {
                    Some(item) => Bound::Excluded(item.key.as_slice()),
                    None => as_slice(&self.lower),
                };
                (lower, as_slice(&self.upper))
            }
        };
        let range = Tree::open(entry.root).range(&state.txn, (lower, upper));
        let mut batch = Vec::new();
        let mut value_bytes = 0;
        let mut take =
            |item: Result<redwood_btree::Entry<'_>, redwood_btree::Error>| -> Result<bool> {
                let (key, value) = item?.into_owned();
                let value =
                    if self.with_values { Some(bytes_of(&state.txn, value)?) } else { None };
                value_bytes += value.as_ref().map_or(0, Vec::len);
                batch.push(ScanItem { key, value });
                Ok(batch.len() < BATCH_ENTRIES && value_bytes < BATCH_VALUE_BYTES)
            };
        let mut full = false;
        match end {
            End::Front => {
                for item in range {
                    if !take(item)? {
                        full = true;
                        break;
                    }
                }
            }
            End::Back => {
                for item in range.rev() {
                    if !take(item)? {
                        full = true;
                        break;
                    }
                }
            }
        }
        drop(state);
        if !full {
            self.met = true;
        }
        if let Some(last) = batch.last() {
            let bound = Bound::Excluded(last.key.clone());
            match end {
                End::Front => self.lower = bound,
                End::Back => self.upper = bound,
            }
        }
        match end {
            End::Front => self.front.extend(batch),
            End::Back => self.back.extend(batch),
        }
        Ok(())
    }

    fn step(&mut self, end: End) -> Option<Result<ScanItem>> {
        if self.failed {
            return None;
        }
        let own_empty = match end {
            End::Front => self.front.is_empty(),
            End::Back => self.back.is_empty(),
        };
        if own_empty
            && !self.met
            && let Err(error) = self.refill(end)
        {
            self.failed = true;
            return Some(Err(error));
        }
        // This end's buffer first; once it is empty and the ends have met, the other end's
        // buffer holds the rest, nearest last.
        let item = match end {
            End::Front => self.front.pop_front().or_else(|| self.back.pop_back()),
            End::Back => self.back.pop_front().or_else(|| self.front.pop_back()),
        };
        item.map(Ok)
    }
}

impl Iterator for Scan<'_, '_> {
    type Item = Result<ScanItem>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(End::Front)
    }
}

impl DoubleEndedIterator for Scan<'_, '_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(End::Back)
    }
}
