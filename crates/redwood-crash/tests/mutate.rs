//! The smoke run of the structure-aware damage harness (`redwood_crash::mutate`, fuzzed to 10M
//! executions by the `mutated_pages` fuzz target): seeded inputs mutate and re-seal node and
//! chain pages of a valid database and drive it; every call must return, with a typed error at
//! worst. `REDWOOD_SEED` fixes the first seed, `REDWOOD_MUTATE_RUNS` the number of inputs.

use redwood_crash::mutate::{Outcome, run, seeded_input};

#[test]
fn damaged_pages_give_typed_errors_never_a_panic() {
    let first = redwood_pager::io::sim::test_seed("damaged_pages_give_typed_errors_never_a_panic");
    let runs: u64 = std::env::var("REDWOOD_MUTATE_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(2000);
    let mut total = Outcome::default();
    for run_index in 0..runs {
        let seed = first.wrapping_add(run_index);
        let input = seeded_input(seed, 1 + (run_index % 8) as u8);
        let outcome = std::panic::catch_unwind(|| run(&input)).unwrap_or_else(|_| {
            panic!("seed {seed} panicked (REDWOOD_SEED={first}, run {run_index})")
        });
        total.mutated += outcome.mutated;
        total.corrupt += outcome.corrupt;
        total.other_errors += outcome.other_errors;
        total.ok += outcome.ok;
    }
    println!("{runs} inputs from seed {first}: {total:?}");
    assert!(total.mutated >= runs, "every input damaged at least one page");
    assert!(total.corrupt > 0, "the damage was met and reported as corruption");
    assert!(total.ok > 0, "undamaged paths still work");
}
