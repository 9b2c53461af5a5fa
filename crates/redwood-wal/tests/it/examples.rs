//! The crate's example, run as the test suite's own code: the WAL fuzz-seed generator still
//! writes exactly the committed seed.

#[path = "../../examples/wal_fuzz_seed.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod wal_fuzz_seed;

#[test]
fn wal_fuzz_seed_regenerates_the_committed_seed() {
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/seeds/wal_recovery/three_commits"
    ))
    .unwrap();
    assert_eq!(wal_fuzz_seed::seed().unwrap(), committed);
}
