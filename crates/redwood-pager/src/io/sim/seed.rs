//! The seed of a randomized test, shared by every test crate so the `REDWOOD_SEED` convention
//! lives in one place.

/// The seed for the randomized test `test`: `REDWOOD_SEED` if it is set, otherwise a fresh one
/// from the clock. Printed either way, so a failure can be replayed with the same seed.
///
/// # Panics
/// If `REDWOOD_SEED` is set but is not a `u64` (a test-setup mistake, not input data).
pub fn test_seed(test: &str) -> u64 {
    let seed = match std::env::var("REDWOOD_SEED") {
        Ok(value) => value.parse().expect("REDWOOD_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64),
    };
    println!("{test}: seed {seed} (replay with REDWOOD_SEED={seed})");
    seed
}
