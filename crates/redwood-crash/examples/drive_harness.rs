//! Driving the crash harness from code (R8): run seeded crash cycles against the engine on the
//! simulated disk, watch progress, and read the verdict. `cargo xtask crash-harness` is the same
//! harness behind a command line.
//!
//! `cargo run -p redwood-crash --example drive_harness -- [SEED] [CYCLES]`

use redwood_crash::{Fault, Options, Report};

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|seed| seed.parse().ok()).unwrap_or(2026);
    let cycles = args.next().and_then(|cycles| cycles.parse().ok()).unwrap_or(200);
    let report = run(seed, cycles);
    println!("{}", report.summary());
    if !report.violations.is_empty() {
        std::process::exit(1);
    }
}

/// Runs `cycles` cycles of every fault from `seed` (the test suite calls this).
pub fn run(seed: u64, cycles: u64) -> Report {
    let options =
        Options { cycles, seed, faults: Fault::ALL.to_vec(), steps_per_cycle: 12, archive: false };
    let report = redwood_crash::run(&options, |progress| {
        if progress.cycles % 50 == 0 {
            println!(
                "{} cycles, {} crashes, {} acknowledged commits verified",
                progress.cycles, progress.crashes, progress.acked_commits_verified
            );
        }
    });
    for violation in &report.violations {
        println!("cycle {} ({}): {}", violation.cycle, violation.fault.name(), violation.message);
    }
    report
}
