//! Helpers shared by the B+Tree tests: a proptest runner seeded from `REDWOOD_SEED` (or a fresh
//! seed), printing the seed so a failure can be replayed.

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

pub fn runner(test: &str, cases: u32) -> TestRunner {
    let seed = redwood_pager::io::sim::test_seed(test);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes))
}
