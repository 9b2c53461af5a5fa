//! `cargo xtask miri`: runs the tests of Redwood's `unsafe` code under miri, the interpreter
//! that catches undefined behaviour: `CountingAllocator` (ADR-10), through
//! `crates/redwood-telemetry/tests/heap.rs`, and the buffer pool's slab and pin protocol
//! (ADR-12), through the unit tests of `slab`, `frame` and `pool` in `redwood-bufpool` (small
//! slabs: the huge-page advice, a system call, starts at 32 MiB), and the pager's prefetch of a
//! write transaction's page (`page::prefetch`, through `page::tests::a_prefetch`). (io_uring's
//! submissions cannot run under miri: it does not model the kernel.)
//!
//! It installs what it needs: a nightly toolchain (minimal profile) with the `miri` and
//! `rust-src` components, through rustup.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The test runs under miri: the arguments after `cargo +nightly miri test`.
const TARGETS: &[&[&str]] = &[
    &["-p", "redwood-telemetry", "--test", "heap"],
    &["-p", "redwood-bufpool", "--lib", "--", "slab", "frame::tests", "pool::tests"],
    &["-p", "redwood-pager", "--lib", "--", "page::tests::a_prefetch"],
];

/// Installs nightly with miri if missing, then runs each target under it.
pub(crate) fn run(root: &Path) -> Result<()> {
    let has_miri = Command::new("cargo")
        .args(["+nightly", "miri", "--version"])
        .current_dir(root)
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_miri {
        println!("xtask miri: installing nightly with miri (rustup)");
        status(
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
                "--component",
                "miri",
                "--component",
                "rust-src",
            ]),
            "rustup toolchain install nightly",
        )?;
    }
    for args in TARGETS {
        println!("xtask miri: cargo +nightly miri test {}", args.join(" "));
        status(
            Command::new("cargo").args(["+nightly", "miri", "test"]).args(*args).current_dir(root),
            "cargo miri test",
        )?;
    }
    Ok(())
}

fn status(command: &mut Command, what: &str) -> Result<()> {
    let status = command.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed with {status}");
    }
    Ok(())
}
