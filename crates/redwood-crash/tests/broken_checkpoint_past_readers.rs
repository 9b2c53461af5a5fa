//! Checkpoints that ignore readers' snapshots: the harness must report a reader whose snapshot
//! changed (or the damage that follows from it).

mod common;

use redwood_crash::Fault;
use redwood_pager::engine_faults::EngineFault;

#[test]
fn the_harness_reports_a_reader_seeing_later_commits() {
    let expected = ["reader", "no fault explains", "not a committed state"];
    common::caught(EngineFault::CheckpointPastReaders, &[Fault::Drop], 12, 20, &expected);
}
