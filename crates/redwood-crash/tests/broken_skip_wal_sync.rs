//! A log that never fsyncs (but believes it did): the harness must report acknowledged commits
//! lost after power loss. Its own test binary, since the defect is switched on process-wide.

use redwood_crash::{Fault, Options, run};
use redwood_pager::engine_faults::{EngineFault, set};

#[test]
fn the_harness_reports_lost_acknowledged_commits() {
    set(EngineFault::SkipWalSync, true);
    let options = Options {
        cycles: 300,
        seed: 11,
        faults: vec![Fault::Drop, Fault::Reorder],
        steps_per_cycle: 12,
    };
    let report = run(&options, |_| {});
    let violation = report.violations.first().expect("the harness catches a log that never syncs");
    assert!(
        violation.message.contains("not a committed state at or after the last acknowledged"),
        "{violation:?}"
    );
    println!(
        "caught in cycle {} ({}): {}",
        violation.cycle,
        violation.fault.name(),
        violation.message
    );
}
