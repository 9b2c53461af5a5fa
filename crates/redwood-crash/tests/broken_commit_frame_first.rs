//! A commit whose commit frame is made durable before its page frames (written after it,
//! unsynced, and the commit acknowledged): the harness must report the broken durability
//! promise, as lost acknowledged commits or as a log that recovery refuses (a later commit
//! vouching for frames that never reached the disk).

mod common;

use redwood_crash::Fault;
use redwood_pager::engine_faults::EngineFault;

#[test]
fn the_harness_reports_a_commit_durable_before_its_pages() {
    let faults = [Fault::Drop, Fault::Reorder];
    let expected = ["not a committed state at or after the last acknowledged", "reopening failed"];
    common::caught(EngineFault::CommitFrameFirst, &faults, 14, 12, &expected);
}
