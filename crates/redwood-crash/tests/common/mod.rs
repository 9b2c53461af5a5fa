//! What every broken-engine test does: switch one defect on (process-wide, so each test is its
//! own binary), run the harness, and return the first violation, which must exist and say one
//! of the expected things.

use redwood_crash::{Fault, Options, Violation, run};
use redwood_pager::engine_faults::{EngineFault, set};

/// Runs `cycles` cycles of `faults` from `seed` with `defect` on; the harness must report a
/// violation whose message contains one of `expected`.
pub fn caught(
    defect: EngineFault,
    faults: &[Fault],
    seed: u64,
    steps: u32,
    expected: &[&str],
) -> Violation {
    set(defect, true);
    let options = Options {
        cycles: 500,
        seed,
        faults: faults.to_vec(),
        steps_per_cycle: steps,
        archive: false,
    };
    let report = run(&options, |_| {});
    let violation =
        report.violations.first().cloned().unwrap_or_else(|| panic!("{defect:?} went unnoticed"));
    assert!(
        expected.iter().any(|text| violation.message.contains(text)),
        "{defect:?}: unexpected violation {violation:?}"
    );
    println!(
        "{defect:?} caught in cycle {} ({}): {}",
        violation.cycle,
        violation.fault.name(),
        violation.message
    );
    violation
}
