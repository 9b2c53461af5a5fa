//! Arbitrary bytes as a log file: recovery returns a valid prefix or a typed error, never a
//! panic; and a real log with random bytes changed recovers a prefix of its transactions.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use redwood_pager::Durability;
use redwood_pager::io::Vfs;
use redwood_pager::io::sim::SimVfs;

use crate::support::{open, seed, transaction};

fn runner(test: &str, cases: u32) -> TestRunner {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed(test).to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes))
}

fn with_file(bytes: &[u8]) -> SimVfs {
    let vfs = SimVfs::new(0);
    (&vfs as &dyn Vfs).create(Path::new("db.wal")).unwrap().write_at(0, bytes).unwrap();
    vfs
}

#[test]
fn arbitrary_bytes_never_panic() {
    let strategy = proptest::collection::vec(any::<u8>(), 0..12_000);
    runner("arbitrary_bytes_never_panic", 256)
        .run(&strategy, |bytes| {
            let _ = open(&with_file(&bytes));
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_mangled_log_recovers_a_prefix_or_reports_corruption() {
    let vfs = SimVfs::new(1);
    let (mut wal, _) = open(&vfs).unwrap();
    for number in 1..=6 {
        transaction(&mut wal, number, Durability::Immediate).unwrap();
    }
    drop(wal);
    let image = vfs.live_image()[Path::new("db.wal")].clone();
    let edits = proptest::collection::vec((0..image.len(), any::<u8>()), 1..4);
    runner("a_mangled_log_recovers_a_prefix_or_reports_corruption", 256)
        .run(&(edits, proptest::option::of(0..image.len())), |(edits, cut)| {
            let mut mangled = image.clone();
            for (offset, byte) in edits {
                mangled[offset] = byte;
            }
            mangled.truncate(cut.unwrap_or(mangled.len()));
            if let Ok((_, recovery)) = open(&with_file(&mangled)) {
                let numbers: Vec<u64> =
                    recovery.transactions.iter().map(|t| t.changes.timestamp_ms).collect();
                prop_assert_eq!(numbers.clone(), (1..=numbers.len() as u64).collect::<Vec<_>>());
            }
            Ok(())
        })
        .unwrap();
}
