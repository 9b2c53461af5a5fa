//! Four readers against a writer and a checkpointer, through a 16-frame cache: every read a
//! reader makes is checked against the model state of the commit its snapshot sees. The cache
//! is far smaller than the working set, so the readers' hits race evictions, reloads, new
//! versions superseding old ones, and checkpoints copying pages under them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood::{CheckpointMode, Database};

const KEYS: u64 = 3000;
const COMMITS: u64 = 500;
const READERS: u64 = 4;
/// The key whose value names the commit (its index in the model history).
const VERSION_KEY: &[u8] = b"!version";

fn key(index: u64) -> Vec<u8> {
    format!("key{index:05}").into_bytes()
}

/// A value that differs per key and per commit, long enough that leaves split often.
fn value(index: u64, commit: u64) -> Vec<u8> {
    format!("{index}:{commit}:{}", "v".repeat(100 + (index % 40) as usize)).into_bytes()
}

type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// Keys and values are text: failures print them readably.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sets its flag when dropped: the readers and the checkpointer stop even if the writer panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[test]
fn four_readers_see_exactly_their_snapshot_through_a_16_frame_cache() {
    let seed = redwood_pager::io::sim::test_seed("concurrent reads");
    let db = Database::builder().cache_bytes(16 * 4096).in_memory().expect("opens");
    // history[n] is the state after commit n (n = the value under VERSION_KEY).
    let history: Arc<Mutex<Vec<State>>> = Arc::new(Mutex::new(Vec::new()));
    let mut state = State::new();
    {
        let write = db.begin_write().unwrap();
        let mut table = write.open_table("t").unwrap();
        for index in 0..KEYS {
            table.insert(key(index), value(index, 0)).unwrap();
            state.insert(key(index), value(index, 0));
        }
        table.insert(VERSION_KEY, 0u64.to_le_bytes()).unwrap();
        drop(table);
        write.commit().unwrap();
        history.lock().unwrap().push(state.clone());
    }
    let done = AtomicBool::new(false);
    let reads_checked = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for reader in 0..READERS {
            let (db, history, done, reads_checked) = (&db, &history, &done, &reads_checked);
            scope.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (reader + 1));
                while !done.load(Ordering::Acquire) {
                    let read = db.begin_read().unwrap();
                    let table = read.open_table("t").unwrap();
                    let version = table.get(VERSION_KEY).unwrap().expect("always present");
                    let commit = u64::from_le_bytes(version.value().try_into().unwrap());
                    let expected = history.lock().unwrap()[commit as usize].clone();
                    for _ in 0..50 {
                        let index = rng.random_range(0..KEYS + 20);
                        let got = table.get(key(index)).unwrap();
                        let want = expected.get(&key(index));
                        assert_eq!(
                            got.as_deref().map(String::from_utf8_lossy),
                            want.map(|want| String::from_utf8_lossy(want)),
                            "seed {seed}: reader {reader}, commit {commit}, key {index}"
                        );
                    }
                    // A short scan from a random key, both ways: every entry as of the snapshot.
                    let from = key(rng.random_range(0..KEYS));
                    let scanned: Vec<(String, String)> = table
                        .range(from.as_slice()..)
                        .take(30)
                        .map(|entry| entry.map(|(k, v)| (text(&k), text(&v))))
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let want: Vec<(String, String)> = expected
                        .range(from.clone()..)
                        .take(30)
                        .map(|(k, v)| (text(k), text(v)))
                        .collect();
                    assert_eq!(scanned, want, "seed {seed}: reader {reader}, commit {commit}");
                    reads_checked.fetch_add(51, Ordering::Relaxed);
                }
            });
        }
        let (db_ref, done_ref) = (&db, &done);
        let checkpointer = scope.spawn(move || {
            let mut checkpoints = 0u64;
            while !done_ref.load(Ordering::Acquire) {
                let mode = if checkpoints.is_multiple_of(3) {
                    CheckpointMode::Full
                } else {
                    CheckpointMode::Passive
                };
                db_ref.checkpoint(mode).unwrap();
                checkpoints += 1;
                std::thread::yield_now();
            }
            checkpoints
        });
        // Stops the other threads however the writer ends (a failed commit panics here).
        let _stop = StopOnDrop(&done);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for commit in 1..=COMMITS {
            let write = db.begin_write().unwrap();
            let mut table = write.open_table("t").unwrap();
            for _ in 0..rng.random_range(1..40) {
                let index = rng.random_range(0..KEYS + 20);
                if rng.random_bool(0.2) {
                    table.remove(key(index)).unwrap();
                    state.remove(&key(index));
                } else {
                    table.insert(key(index), value(index, commit)).unwrap();
                    state.insert(key(index), value(index, commit));
                }
            }
            table.insert(VERSION_KEY, commit.to_le_bytes()).unwrap();
            drop(table);
            // The model first: a reader that sees this commit finds its state.
            history.lock().unwrap().push(state.clone());
            write.commit().unwrap();
        }
        done.store(true, Ordering::Release);
        let checkpoints = checkpointer.join().unwrap();
        assert!(checkpoints > 0, "the checkpointer ran");
    });
    assert!(reads_checked.load(Ordering::Relaxed) > 0, "the readers checked reads");
    let stats = db.diagnostics().pool;
    assert!(stats.evictions > 0, "a 16-frame cache evicted (seed {seed}): {stats:?}");
    assert!(stats.hits > 0, "and hit: {stats:?}");
    db.check_integrity().unwrap();
}
