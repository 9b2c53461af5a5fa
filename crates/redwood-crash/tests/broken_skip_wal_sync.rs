//! A log that never fsyncs (but believes it did): the harness must report acknowledged commits
//! lost after power loss, or a log left generations behind the meta data that names it.

mod common;

use redwood_crash::Fault;
use redwood_pager::engine_faults::EngineFault;

#[test]
fn the_harness_reports_lost_acknowledged_commits() {
    let faults = [Fault::Drop, Fault::Reorder];
    // Lost commits, or, when a truncating checkpoint restarted the log, a log whose restarts
    // never reached the disk: older than the generation the synced meta data names.
    let expected = [
        "not a committed state at or after the last acknowledged",
        "the write-ahead log does not belong to this database",
    ];
    common::caught(EngineFault::SkipWalSync, &faults, 11, 12, &expected);
}
