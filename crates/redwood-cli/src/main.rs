//! The `redwood` command-line tool (issue 9, not built yet).
//!
//! Its role: `demo`, `put`/`get`/`del`/`scan`, `tables`, `stats`, `check` and `checkpoint` over a
//! database file, built on the `redwood` facade only. Until the facade exists it only says so.

fn main() {
    eprintln!(
        "redwood: the command-line tool is not built yet (issue 9); \
         run `cargo run -p redwood-pager --example pager_demo` for the pager demo"
    );
    std::process::exit(2);
}
