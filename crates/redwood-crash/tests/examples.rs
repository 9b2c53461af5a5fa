//! The crate's example, run as the test suite's own code.

#[path = "../examples/drive_harness.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod drive_harness;

#[test]
fn drive_harness_runs_and_passes() {
    let report = drive_harness::run(2026, 60);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.cycles, 60);
    assert!(report.acked_commits_verified > 0);
}

#[path = "../examples/mutate_seeds.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod mutate_seeds;

/// The committed corpus of the `mutated_pages` fuzz target is what the example writes, and
/// each seed runs through the harness without a panic.
#[test]
fn mutate_seeds_regenerate_the_committed_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/mutated_pages");
    for (name, bytes) in mutate_seeds::seeds() {
        let committed = std::fs::read(std::path::Path::new(dir).join(&name)).unwrap();
        assert_eq!(committed, bytes, "{name}");
        let outcome = redwood_crash::mutate::run(&bytes);
        assert!(outcome.mutated > 0, "{name}");
    }
}
