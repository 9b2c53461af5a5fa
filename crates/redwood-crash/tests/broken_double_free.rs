//! Freeing a page twice (the first page of every freed overflow chain): the harness must report
//! it. Its own test binary, since the defect is switched on process-wide.

use redwood_crash::{Fault, Options, run};
use redwood_pager::engine_faults::{EngineFault, set};

#[test]
fn the_harness_reports_a_page_freed_twice() {
    set(EngineFault::DoubleFree, true);
    let options =
        Options { cycles: 300, seed: 13, faults: Fault::ALL.to_vec(), steps_per_cycle: 12 };
    let report = run(&options, |_| {});
    let violation = report.violations.first().expect("the harness catches a double free");
    assert!(violation.message.contains("no fault explains"), "{violation:?}");
    assert!(violation.message.contains("not allocated"), "{violation:?}");
    println!(
        "caught in cycle {} ({}): {}",
        violation.cycle,
        violation.fault.name(),
        violation.message
    );
}
