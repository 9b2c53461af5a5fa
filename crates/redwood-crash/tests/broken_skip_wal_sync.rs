//! A log that never fsyncs (but believes it did): the harness must report acknowledged commits
//! lost after power loss.

mod common;

use redwood_crash::Fault;
use redwood_pager::engine_faults::EngineFault;

#[test]
fn the_harness_reports_lost_acknowledged_commits() {
    let faults = [Fault::Drop, Fault::Reorder];
    let expected = ["not a committed state at or after the last acknowledged"];
    common::caught(EngineFault::SkipWalSync, &faults, 11, 12, &expected);
}
