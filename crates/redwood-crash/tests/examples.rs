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
