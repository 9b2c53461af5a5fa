//! `cargo xtask miri`: runs the tests of Redwood's `unsafe` code under miri, the interpreter
//! that catches undefined behaviour. Today that is `CountingAllocator` (ADR-10), through
//! `crates/redwood-telemetry/tests/heap.rs`. (io_uring's submissions cannot run under miri: it
//! does not model the kernel.)
//!
//! It installs what it needs: a nightly toolchain (minimal profile) with the `miri` and
//! `rust-src` components, through rustup.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The test targets run under miri: (package, test target).
const TARGETS: &[(&str, &str)] = &[("redwood-telemetry", "heap")];

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
    for (package, test) in TARGETS {
        println!("xtask miri: cargo +nightly miri test -p {package} --test {test}");
        status(
            Command::new("cargo")
                .args(["+nightly", "miri", "test", "-p", package, "--test", test])
                .current_dir(root),
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
