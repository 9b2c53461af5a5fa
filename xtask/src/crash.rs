//! `cargo xtask crash-harness ARGS`: builds the harness (`crates/redwood-crash`, binary
//! `crash-harness`) in release mode and runs it with ARGS from the workspace root, so reports
//! and traces land under `target/crash-harness/`. The harness parses its own options
//! (`--help` lists them); its exit code is passed on.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::ci::StepFailed;

/// Runs the harness with `args`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut command = Command::new(crate::cargo());
    command
        .current_dir(root)
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "redwood-crash",
            "--bin",
            "crash-harness",
            "--",
        ])
        .args(args);
    let status = command.status().context("running cargo")?;
    if status.success() {
        return Ok(());
    }
    let command = format!("crash-harness {}", args.join(" "));
    Err(StepFailed { step: "crash-harness", command, code: status.code() }.into())
}
