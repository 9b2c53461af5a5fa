//! `PageFile` on the simulated disk, under every fault it models: a crash at every sync point of
//! a workload (with dropped, torn and reordered sectors) reopens to a completed sync's state; a
//! failed sync or write poisons the handle; bit-rot and misdirected writes are detected, never
//! returned as data; and the same seed reproduces the same bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use redwood_pager::io::Vfs;
use redwood_pager::io::sim::{CrashMode, Fault, FaultConfig, OpKind, Repeat, SimVfs, Trigger};
use redwood_pager::{Error, PageClaims, PageFile, PageId, Result};

use crate::support::{create, open, page_with, read_fill, seed, tiny_options};

/// What a completed sync left: the meta generation, each live page's fill and the root.
#[derive(Clone, Debug, PartialEq)]
struct Synced {
    generation: u64,
    pages: BTreeMap<PageId, u64>,
    root: Option<PageId>,
}

impl Synced {
    fn claims(&self) -> PageClaims {
        let mut claims = PageClaims::new();
        for &page_id in self.pages.keys() {
            claims.claim(page_id, "workload");
        }
        claims
    }
}

/// Rounds of: allocate and write new pages, free an older page, move the root, sync. Pages are
/// never overwritten, so every acknowledged page must survive any crash (overwrites in place are
/// the write-ahead log's business). Returns every completed sync's state; stops at the first
/// error, as a process would die.
fn workload(vfs: &Arc<dyn Vfs>, rounds: u64) -> (Vec<Synced>, Option<Error>) {
    let mut file = match PageFile::create(Arc::clone(vfs), "db".as_ref(), &tiny_options()) {
        Ok(file) => file,
        Err(error) => return (Vec::new(), Some(error)),
    };
    let mut state = Synced { generation: file.generation(), pages: BTreeMap::new(), root: None };
    let mut synced = vec![state.clone()];
    let step = |file: &mut PageFile, state: &mut Synced, round: u64| -> Result<()> {
        for _ in 0..3 + round % 4 {
            let page_id = file.allocate()?;
            let fill = round * 100 + page_id.get();
            file.write_page(&page_with(file.page_size(), page_id, fill))?;
            state.pages.insert(page_id, fill);
        }
        if round % 2 == 1 {
            let victim = *state.pages.keys().find(|&&page| Some(page) != state.root).unwrap();
            file.free(victim)?;
            state.pages.remove(&victim);
        }
        let root = *state.pages.keys().next_back().unwrap();
        file.set_root(0, Some(root))?;
        state.root = Some(root);
        file.sync()?;
        state.generation = file.generation();
        Ok(())
    };
    for round in 0..rounds {
        if let Err(error) = step(&mut file, &mut state, round) {
            return (synced, Some(error));
        }
        synced.push(state.clone());
    }
    (synced, None)
}

/// The reopened database must be exactly one of the completed syncs, at or after the last one
/// acknowledged (a sync interrupted after its meta write may have completed on disk).
fn verify_recovered(vfs: &Arc<dyn Vfs>, synced: &[Synced], context: &str) {
    let Some(acked) = synced.last() else {
        return verify_unacknowledged_create(vfs, context);
    };
    let file = open(vfs, "db").unwrap_or_else(|error| panic!("{context}: reopen failed: {error}"));
    assert!(
        file.generation() == acked.generation || file.generation() == acked.generation + 1,
        "{context}: generation {} after acknowledging {}",
        file.generation(),
        acked.generation
    );
    if file.generation() == acked.generation {
        assert_eq!(file.root(0), acked.root, "{context}: root");
        for (&page_id, &fill) in &acked.pages {
            let read = read_fill(&file, page_id);
            assert_eq!(read.ok(), Some(fill), "{context}: acknowledged {page_id}");
        }
        if let Err(error) = file.check_invariants(&acked.claims()) {
            panic!("{context}: {error}");
        }
    }
}

/// A crash inside `create` may leave no file, a file that is not yet a database, or a complete
/// empty database; never a panic, and never pages.
fn verify_unacknowledged_create(vfs: &Arc<dyn Vfs>, context: &str) {
    match open(vfs, "db") {
        Ok(file) => {
            assert_eq!(file.free_page_count(), 0, "{context}");
            file.check_invariants(&PageClaims::new()).unwrap();
        }
        Err(Error::NotFound { .. } | Error::NotADatabase { .. }) => {}
        Err(error) => assert!(error.is_corruption(), "{context}: {error}"),
    }
}

fn sim(seed: u64) -> (SimVfs, Arc<dyn Vfs>) {
    let vfs = SimVfs::new(seed);
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    (vfs, shared)
}

#[test]
fn a_crash_at_every_sync_point_reopens_to_a_completed_sync() {
    let base_seed = seed("a_crash_at_every_sync_point_reopens_to_a_completed_sync");
    let (vfs, shared) = sim(base_seed);
    let (full, error) = workload(&shared, 8);
    assert!(error.is_none());
    let sync_points = vfs.counters().syncs;
    assert!(sync_points >= 20, "the workload has {sync_points} sync points");
    let modes = [CrashMode::dropping(), CrashMode::tearing(), CrashMode::all()];
    let mut damage = [0u64; 3];
    for freeze_at in 1..=sync_points {
        for (mode_index, mode) in modes.iter().enumerate() {
            for attempt in 0..3 {
                let run_seed = base_seed ^ (freeze_at << 20) ^ ((mode_index as u64) << 8) ^ attempt;
                let (vfs, shared) = sim(run_seed);
                vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
                let (synced, error) = workload(&shared, 8);
                assert!(error.is_some(), "freezing at sync {freeze_at} stops the workload");
                assert!(synced.len() <= full.len());
                let report = vfs.crash(*mode);
                damage[0] += report.sectors_dropped;
                damage[1] += report.sectors_torn;
                damage[2] += report.namespace_ops_dropped;
                let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
                verify_recovered(&shared, &synced, &context);
            }
        }
    }
    let [dropped, torn, names_lost] = damage;
    assert!(dropped > 0 && torn > 0 && names_lost > 0, "faults happened: {damage:?}");
}

#[test]
fn a_failed_sync_poisons_the_handle_until_reopened() {
    let (vfs, shared) = sim(seed("a_failed_sync_poisons_the_handle_until_reopened"));
    let mut file = create(&shared, "db");
    let pages: Vec<PageId> = (0..10).map(|_| file.allocate().unwrap()).collect();
    for &page_id in &pages[..5] {
        file.write_page(&page_with(file.page_size(), page_id, 1)).unwrap();
    }
    file.sync().unwrap();
    for &page_id in &pages[5..] {
        file.write_page(&page_with(file.page_size(), page_id, 2)).unwrap();
    }
    vfs.set_faults(FaultConfig::none().with(Fault::eio(
        OpKind::Sync,
        Trigger::Nth(1),
        Repeat::Once,
    )));
    assert!(matches!(file.sync(), Err(Error::Io { operation: "sync_data", .. })));
    assert!(file.is_poisoned());
    assert!(matches!(file.sync(), Err(Error::Poisoned)), "never retried: fsyncgate");
    assert!(matches!(read_fill(&file, pages[0]), Err(Error::Poisoned)));
    assert!(matches!(file.allocate(), Err(Error::Poisoned)));
    assert_eq!(vfs.counters().injected_eio, 1);
    drop(file);
    vfs.crash(CrashMode::all());
    let file = open(&shared, "db").unwrap();
    for &page_id in &pages[..5] {
        assert_eq!(read_fill(&file, page_id).unwrap(), 1, "synced before the failure");
    }
    for &page_id in &pages[5..] {
        match read_fill(&file, page_id) {
            Ok(fill) => assert_eq!(fill, 2),
            Err(error) => assert!(error.is_corruption(), "{page_id}: {error}"),
        }
    }
}

#[test]
fn a_failed_write_poisons_the_handle() {
    let (vfs, shared) = sim(seed("a_failed_write_poisons_the_handle"));
    let mut file = create(&shared, "db");
    let page_id = file.allocate().unwrap();
    vfs.set_faults(FaultConfig::none().with(Fault::eio(
        OpKind::Write,
        Trigger::Nth(1),
        Repeat::Once,
    )));
    let result = file.write_page(&page_with(file.page_size(), page_id, 3));
    assert!(matches!(result, Err(Error::Io { operation: "write", .. })));
    assert!(matches!(file.sync(), Err(Error::Poisoned)));
    drop(file);
    let file = open(&shared, "db").unwrap();
    assert!(!file.is_poisoned(), "reopening clears the poison");
}

#[test]
fn bit_rot_is_always_detected_and_never_returned() {
    let (vfs, shared) = sim(seed("bit_rot_is_always_detected_and_never_returned"));
    let mut file = create(&shared, "db");
    let pages: Vec<PageId> = (0..40).map(|_| file.allocate().unwrap()).collect();
    for &page_id in &pages {
        file.write_page(&page_with(file.page_size(), page_id, page_id.get())).unwrap();
    }
    file.sync().unwrap();
    let rot = Fault::bit_rot(Trigger::Probability(0.25), Repeat::Always);
    vfs.set_faults(FaultConfig::none().with(rot));
    let mut detected = 0;
    for &page_id in &pages {
        match read_fill(&file, page_id) {
            Ok(fill) => assert_eq!(fill, page_id.get()),
            Err(Error::ChecksumMismatch { page_id: named, .. }) => {
                assert_eq!(named, page_id);
                detected += 1;
            }
            Err(error) => panic!("{page_id}: unexpected {error}"),
        }
    }
    let flips = vfs.counters().bitrot_flips;
    assert!(flips > 0, "the seed rotted no page");
    assert_eq!(detected, flips, "every flipped bit was caught on the read that flipped it");
}

#[test]
fn a_misdirected_write_is_detected_where_it_lands() {
    let (vfs, shared) = sim(seed("a_misdirected_write_is_detected_where_it_lands"));
    let mut file = create(&shared, "db");
    let pages: Vec<PageId> = (0..3).map(|_| file.allocate().unwrap()).collect();
    for &page_id in &pages {
        file.write_page(&page_with(file.page_size(), page_id, 9)).unwrap();
    }
    file.sync().unwrap();
    let page_bytes = file.page_size().bytes() as i64;
    vfs.set_faults(FaultConfig::none().with(Fault::misdirect(
        page_bytes,
        Trigger::Nth(1),
        Repeat::Once,
    )));
    file.write_page(&page_with(file.page_size(), pages[0], 10)).unwrap();
    assert_eq!(vfs.counters().misdirected_writes, 1);
    match read_fill(&file, pages[1]) {
        Err(Error::Misdirected { page_id, found }) => {
            assert_eq!((page_id, found), (pages[1], pages[0]))
        }
        other => panic!("expected Misdirected, got {other:?}"),
    }
    // The intended page kept its previous, valid image: a lost write, which only a log position
    // check above the pager can see (the WAL compares page LSNs; issue 3).
    assert_eq!(read_fill(&file, pages[0]).unwrap(), 9);
}

#[test]
fn the_same_seed_reproduces_the_same_bytes() {
    let base_seed = seed("the_same_seed_reproduces_the_same_bytes");
    let run = |run_seed: u64| {
        let (vfs, shared) = sim(run_seed);
        vfs.set_faults(FaultConfig::none().with_freeze_at_sync(17));
        let (synced, _) = workload(&shared, 8);
        let report = vfs.crash(CrashMode::all());
        (vfs.durable_image(), report, synced)
    };
    let first = run(base_seed);
    assert_eq!(first, run(base_seed), "same seed, same bytes, same crash");
    // Two seeds may happen to crash alike (seed 1795507712837806945 and its eight neighbours
    // all left the same bytes); sixteen others all matching in bytes *and* crash report would
    // mean the seed is ignored.
    let differs = (1..=16).any(|offset| run(base_seed.wrapping_add(offset)) != first);
    assert!(differs, "other seeds crash differently");
}

/// Giving file space back after a shrink: a failed removal only leaves a longer file, but a
/// failed sync of the cut file or of the directory poisons the handle like any failed sync
/// (found by the crash harness: it was logged and the database went on).
#[test]
fn a_failed_sync_while_giving_space_back_poisons_the_handle() {
    for op_number in 1..=2 {
        let (vfs, shared) = sim(seed("a_failed_sync_while_giving_space_back_poisons_the_handle"));
        let mut file = create(&shared, "db");
        let pages: Vec<PageId> = (0..30).map(|_| file.allocate().unwrap()).collect();
        for &page_id in &pages {
            file.write_page(&page_with(file.page_size(), page_id, page_id.get())).unwrap();
        }
        file.sync().unwrap();
        let (kept, freed) = pages.split_at(6);
        for &page_id in freed {
            file.free(page_id).unwrap();
        }
        file.sync().unwrap();
        let page_count_before = file.page_count();
        assert!(file.shrink().unwrap(), "the free tail is cut off the count");
        file.sync().unwrap();
        assert!(file.page_count() < page_count_before);
        vfs.set_faults(FaultConfig::none().with(Fault::eio(
            OpKind::Sync,
            Trigger::Nth(op_number),
            Repeat::Once,
        )));
        match file.release_tail() {
            Err(Error::Io { operation, .. }) => {
                assert!(["sync_data", "sync_dir"].contains(&operation), "{operation}");
            }
            // Only one sync to fail: the second one was never asked for.
            Ok(released) if op_number == 2 && vfs.counters().injected_eio == 0 => {
                assert!(released.segments_removed > 0);
                continue;
            }
            other => panic!("sync {op_number} failed, release_tail gave {other:?}"),
        }
        assert!(file.is_poisoned());
        assert!(matches!(file.sync(), Err(Error::Poisoned)), "never retried: fsyncgate");
        drop(file);
        vfs.crash(CrashMode::all());
        let file = open(&shared, "db").unwrap();
        for &page_id in kept {
            assert_eq!(read_fill(&file, page_id).unwrap(), page_id.get(), "{page_id}");
        }
        let mut claims = PageClaims::new();
        for &page_id in kept {
            claims.claim(page_id, "kept");
        }
        file.check_invariants(&claims).unwrap();
    }
}
