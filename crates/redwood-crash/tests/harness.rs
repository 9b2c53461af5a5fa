//! The harness on the real engine: a seeded run of every fault passes with acknowledged commits
//! verified, and the same seed gives the same trace.

use redwood_crash::{Fault, Options, run};

fn options(seed: u64, cycles: u64) -> Options {
    Options { cycles, seed, faults: Fault::ALL.to_vec(), steps_per_cycle: 10, archive: false }
}

#[test]
fn every_fault_kind_passes_and_the_run_is_deterministic() {
    let seed = redwood_pager::io::sim::test_seed("crash harness");
    let report = run(&options(seed, 80), |_| {});
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:#?}\n{}",
        report.violations,
        report.trace.join("\n")
    );
    assert_eq!(report.cycles, 80);
    assert!(report.crashes >= 20, "{}", report.summary());
    assert!(report.acked_commits_verified >= 20, "{}", report.summary());
    let grew = report.trace.iter().any(|line| {
        line.split(" in ").nth(1).and_then(|rest| rest.split(' ').next()?.parse::<u64>().ok())
            > Some(1)
    });
    assert!(grew, "seed {seed}: the database grew past its first segment");
    for fault in Fault::ALL {
        let ran = report.trace.iter().any(|line| line.ends_with(&format!(": {}", fault.name())));
        assert!(ran, "seed {seed}: no {} cycle in 80", fault.name());
    }
    println!("seed {seed}: {}", report.summary());
    let again = run(&options(seed, 80), |_| {});
    assert_eq!(again.digest(), report.digest(), "seed {seed}: the same seed gave another trace");
    assert_eq!(again.summary(), report.summary());
}

/// With the log archived (`--archive`), every fault kind still passes, and every tenth cycle a
/// database restored from the archive alone equals the database.
#[test]
fn an_archived_run_restores_to_the_database_every_tenth_cycle() {
    let seed = redwood_pager::io::sim::test_seed("crash harness archive");
    let report = run(&Options { archive: true, ..options(seed, 60) }, |_| {});
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:#?}\n{}",
        report.violations,
        report.trace.join("\n")
    );
    assert_eq!(report.archive_restores, 6, "{}", report.summary());
    assert!(report.trace.iter().any(|line| line.starts_with("archive: restored")));
}
