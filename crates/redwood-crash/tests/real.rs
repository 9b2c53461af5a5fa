//! Real-process mode end to end: children running the `crash-harness` binary commit durably on
//! a real file and are SIGKILLed at seeded moments; every reopened database holds the state of a
//! commit at or after the last acknowledged one, and passes the full check.

use std::path::Path;
use std::process::Command;

#[test]
fn killed_children_lose_no_acknowledged_commit() {
    let seed = redwood_pager::io::sim::test_seed("real kills");
    let dir = tempfile::tempdir().unwrap();
    let child = |path: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crash-harness"));
        command.arg("--child").arg(path);
        command
    };
    let report =
        redwood_crash::real::run(&dir.path().join("real.redwood"), 12, seed, &child, |_| {});
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:?}\n{}",
        report.violations,
        report.trace.join("\n")
    );
    assert_eq!(report.crashes, 12);
    assert!(report.acked_commits_verified > 0, "the children committed: {}", report.summary());
    println!("seed {seed}: {}", report.summary());
}
