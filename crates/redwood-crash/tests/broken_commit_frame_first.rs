//! A commit whose commit frame is made durable before its page frames (which are written after
//! it, unsynced, and the commit acknowledged): the harness must report acknowledged commits
//! lost after power loss. Its own test binary, since the defect is switched on process-wide.

use redwood_crash::{Fault, Options, run};
use redwood_pager::engine_faults::{EngineFault, set};

#[test]
fn the_harness_reports_a_commit_durable_before_its_pages() {
    set(EngineFault::CommitFrameFirst, true);
    let options = Options {
        cycles: 300,
        seed: 14,
        faults: vec![Fault::Drop, Fault::Reorder],
        steps_per_cycle: 12,
    };
    let report = run(&options, |_| {});
    let violation =
        report.violations.first().expect("the harness catches a commit durable before its data");
    // Either the lost page frames lose an acknowledged commit, or a later commit vouches for
    // them and recovery refuses the log as corrupt: both break the durability promise.
    assert!(
        violation.message.contains("not a committed state at or after the last acknowledged")
            || violation.message.contains("reopening failed"),
        "{violation:?}"
    );
    println!(
        "caught in cycle {} ({}): {}",
        violation.cycle,
        violation.fault.name(),
        violation.message
    );
}
