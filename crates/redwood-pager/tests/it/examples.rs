//! The crate's examples, run as the test suite's own code: the pager demo creates and then
//! verifies a database, and the fuzz-seed generator still writes exactly the committed seed.

#[path = "../../examples/fuzz_seed.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod fuzz_seed;
#[path = "../../examples/pager_demo.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod pager_demo;

#[test]
fn pager_demo_creates_then_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.redwood");
    pager_demo::run(&path).unwrap();
    pager_demo::run(&path).unwrap(); // the second run verifies the existing database
}

#[test]
fn fuzz_seed_regenerates_the_committed_seed() {
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/seeds/open_database/tiny_two_segments"
    ))
    .unwrap();
    assert_eq!(fuzz_seed::seed().unwrap(), committed);
}
