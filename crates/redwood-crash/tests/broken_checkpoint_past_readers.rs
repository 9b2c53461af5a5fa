//! Checkpoints that ignore readers' snapshots: the harness must report a reader whose snapshot
//! changed (or the damage that follows from it).

mod common;

use redwood_crash::Fault;
use redwood_pager::engine_faults::EngineFault;

#[test]
fn the_harness_reports_a_reader_seeing_later_commits() {
    // A table whose length disagrees with its entries is such damage: since truncating
    // checkpoints shrink the files (issue 18), seed 12 meets it first, in cycle 6.
    let expected = ["reader", "no fault explains", "not a committed state", "len() says"];
    common::caught(EngineFault::CheckpointPastReaders, &[Fault::Drop], 12, 20, &expected);
}
