//! Checkpoints that ignore readers' snapshots: the harness must report a reader whose snapshot
//! changed. Its own test binary, since the defect is switched on process-wide.

use redwood_crash::{Fault, Options, run};
use redwood_pager::engine_faults::{EngineFault, set};

#[test]
fn the_harness_reports_a_reader_seeing_later_commits() {
    set(EngineFault::CheckpointPastReaders, true);
    let options = Options { cycles: 500, seed: 12, faults: vec![Fault::Drop], steps_per_cycle: 20 };
    let report = run(&options, |_| {});
    let violation =
        report.violations.first().expect("the harness catches a checkpoint past a reader");
    assert!(
        violation.message.contains("reader")
            || violation.message.contains("no fault explains")
            || violation.message.contains("not a committed state"),
        "{violation:?}"
    );
    println!(
        "caught in cycle {} ({}): {}",
        violation.cycle,
        violation.fault.name(),
        violation.message
    );
}
