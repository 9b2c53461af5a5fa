//! Model-based test of `PageFile`: random sequences of allocate, free, write, read, root changes,
//! sync and reopen are run against a plain in-memory model, and after every step the file must
//! agree with the model and pass `check_invariants` with the model's pages as the claims.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{Error, PageClaims, PageFile, PageId};

use crate::support::{create, open, page_with, read_fill, run_proptest};

#[derive(Clone, Debug)]
enum Op {
    Allocate,
    /// Indexes pick among the live pages, modulo their count.
    Free(usize),
    Write(usize, u64),
    Read(usize),
    SetRoot(usize, Option<usize>),
    Sync,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Allocate),
        3 => any::<usize>().prop_map(Op::Free),
        5 => (any::<usize>(), 1..u64::MAX).prop_map(|(index, fill)| Op::Write(index, fill)),
        3 => any::<usize>().prop_map(Op::Read),
        1 => (0..8usize, proptest::option::of(any::<usize>())).prop_map(|(slot, page)| Op::SetRoot(slot, page)),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

/// What the file should contain: each live page with the fill last written (None: not written
/// since it was allocated).
#[derive(Default)]
struct Model {
    pages: BTreeMap<PageId, Option<u64>>,
    roots: [Option<PageId>; 8],
}

impl Model {
    fn pick(&self, index: usize) -> Option<PageId> {
        (!self.pages.is_empty()).then(|| *self.pages.keys().nth(index % self.pages.len()).unwrap())
    }

    fn claims(&self) -> PageClaims {
        let mut claims = PageClaims::new();
        for &page_id in self.pages.keys() {
            claims.claim(page_id, "model");
        }
        claims
    }
}

fn apply(
    _vfs: &Arc<dyn Vfs>,
    file: &mut PageFile,
    model: &mut Model,
    op: &Op,
) -> Result<(), TestCaseError> {
    match *op {
        Op::Allocate => {
            let page_id = file.allocate().unwrap();
            prop_assert!(!model.pages.contains_key(&page_id), "{page_id} handed out twice");
            model.pages.insert(page_id, None);
        }
        Op::Free(index) => {
            let Some(page_id) = model.pick(index) else {
                return Ok(());
            };
            if model.roots.contains(&Some(page_id)) {
                prop_assert!(file.free(page_id).is_err(), "rooted pages cannot be freed");
            } else {
                file.free(page_id).unwrap();
                model.pages.remove(&page_id);
                let double_free = matches!(file.free(page_id), Err(Error::NotAllocated { .. }));
                prop_assert!(double_free, "a double free must be refused");
            }
        }
        Op::Write(index, fill) => {
            let Some(page_id) = model.pick(index) else {
                return Ok(());
            };
            file.write_page(&page_with(file.page_size(), page_id, fill)).unwrap();
            model.pages.insert(page_id, Some(fill));
        }
        Op::Read(index) => {
            let Some(page_id) = model.pick(index) else {
                return Ok(());
            };
            check_page(file, page_id, model.pages[&page_id])?;
        }
        Op::SetRoot(slot, page) => {
            let page_id = page.and_then(|index| model.pick(index));
            file.set_root(slot, page_id).unwrap();
            model.roots[slot] = page_id;
        }
        Op::Sync => file.sync().unwrap(),
        // The caller closed and reopened the file (one handle at a time: the file is locked).
        Op::Reopen => {
            for (&page_id, &fill) in &model.pages {
                check_page(file, page_id, fill)?;
            }
        }
    }
    Ok(())
}

fn check_page(file: &PageFile, page_id: PageId, fill: Option<u64>) -> Result<(), TestCaseError> {
    match (fill, read_fill(file, page_id)) {
        (Some(expected), Ok(actual)) => prop_assert_eq!(expected, actual),
        // Unwritten since allocation: the contents are undefined (a reused page still holds its
        // old image), but reading must never panic, and an error must name the page.
        (None, Ok(_)) => {}
        (None, Err(Error::Corrupt { page_id: named, .. })) => prop_assert_eq!(named, page_id),
        (fill, result) => prop_assert!(false, "{page_id}: model {fill:?}, file {result:?}"),
    }
    Ok(())
}

#[test]
fn page_file_matches_a_model() {
    let strategy = proptest::collection::vec(op(), 1..120);
    run_proptest("page_file_matches_a_model", 256, strategy, |ops| {
        let vfs: Arc<dyn Vfs> = Arc::new(MemVfs::new());
        let mut file = create(&vfs, "db");
        let mut model = Model::default();
        for op in &ops {
            if matches!(op, Op::Reopen) {
                file.sync().unwrap();
                drop(file);
                file = open(&vfs, "db").unwrap();
            }
            apply(&vfs, &mut file, &mut model, op)?;
            prop_assert_eq!(
                file.free_page_count() + model.pages.len() as u64 + reserved(&file),
                file.page_count()
            );
            for slot in 0..8 {
                prop_assert_eq!(file.root(slot), model.roots[slot]);
            }
            if let Err(error) = file.check_invariants(&model.claims()) {
                prop_assert!(false, "after {op:?}: {error}");
            }
        }
        Ok(())
    });
}

/// Pages the pager keeps for itself across all segments begun so far.
fn reserved(file: &PageFile) -> u64 {
    let geometry = file.geometry();
    (0..file.segment_count())
        .map(|segment| {
            geometry.reserved_pages(redwood_pager::SegmentId::new(segment)).count() as u64
        })
        .sum()
}
