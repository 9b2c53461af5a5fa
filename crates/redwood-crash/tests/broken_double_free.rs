//! Freeing a page twice (the first page of every freed overflow chain): the harness must report
//! the error no injected fault explains.

mod common;

use redwood_crash::Fault;
use redwood_pager::engine_faults::EngineFault;

#[test]
fn the_harness_reports_a_page_freed_twice() {
    let violation =
        common::caught(EngineFault::DoubleFree, &Fault::ALL, 13, 12, &["no fault explains"]);
    assert!(violation.message.contains("not allocated"), "{violation:?}");
}
