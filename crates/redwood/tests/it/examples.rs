//! Every example of the facade, run as the test suite's own code (R8): an example that stops
//! working fails here, not in a reader's terminal.

#[path = "../../examples/advanced_ops.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod advanced_ops;
#[path = "../../examples/range_scan.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod range_scan;
#[path = "../../examples/restore_point.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod restore_point;

#[test]
fn advanced_ops_runs_in_memory_and_on_a_file() {
    advanced_ops::run(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("advanced.redwood");
    advanced_ops::run(Some(path.to_string_lossy().into_owned())).unwrap();
    redwood::Database::open(&path).unwrap().check_integrity().unwrap();
}

#[test]
fn range_scan_runs() {
    range_scan::run().unwrap();
}

#[test]
fn restore_point_runs() {
    let dir = tempfile::tempdir().unwrap();
    restore_point::run(&dir.path().join("points.redwood")).unwrap();
}
