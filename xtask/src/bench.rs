//! `cargo xtask bench ARGS`: builds the side-by-side benchmark (`benches/`, binary
//! `redwood-bench`) in release mode and runs it from the workspace root, so that its report
//! lands in `target/bench/` (`target/bench-quick/` for `--quick`). The binary parses its own
//! options (`--help` lists them); its exit code is passed on.
//!
//! Two options are xtask's own: `--rocksdb` adds RocksDB to the peers, by building with
//! `RUSTFLAGS="--cfg redwood_rocksdb"` in `target/rocksdb/`. Its build takes about 14 minutes
//! and needs libclang, which this command installs with apt-get when it is missing. `--dev`
//! builds with the dev profile instead of release (debug assertions on, timings meaningless):
//! what `cargo xtask ci` runs the smoke run with, since the tests' build already compiled most
//! of it in that profile, where a release build compiled every peer again.

use std::{path::Path, process::Command};

use anyhow::{Context, Result, bail};

use crate::ci::StepFailed;

/// Runs the benchmark with `args`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let rocksdb = args.iter().any(|arg| arg == "--rocksdb");
    let dev = args.iter().any(|arg| arg == "--dev");
    let mut passed: Vec<String> =
        args.iter().filter(|arg| *arg != "--rocksdb" && *arg != "--dev").cloned().collect();
    if !passed.iter().any(|arg| arg == "--out" || arg.starts_with("--out=")) {
        let quick = passed.iter().any(|arg| arg == "--quick");
        let out = if quick { "target/bench-quick" } else { "target/bench" };
        passed.extend(["--out".to_string(), out.to_string()]);
    }
    if rocksdb {
        ensure_libclang()?;
    }
    let mut command = Command::new(crate::cargo());
    command.current_dir(root).args(["run", "--quiet", "-p", "redwood-benches"]);
    if !dev {
        command.arg("--release");
    }
    if rocksdb {
        // A cfg, not a feature (see benches/Cargo.toml), in a target directory of its own so
        // the main build cache stays valid.
        command.env("RUSTFLAGS", "--cfg redwood_rocksdb").env("CARGO_TARGET_DIR", "target/rocksdb");
    }
    command.args(["--bin", "redwood-bench", "--"]).args(&passed);
    let status = command.status().context("running cargo")?;
    if status.success() {
        return Ok(());
    }
    let command = format!("redwood-bench {}", passed.join(" "));
    Err(StepFailed { step: "bench", command, code: status.code() }.into())
}

/// Makes sure libclang is installed (librocksdb-sys's bindgen needs it), with apt-get if not.
fn ensure_libclang() -> Result<()> {
    // libclang.so.N or libclang-N.so.M; not libclang-cpp, which bindgen cannot use.
    let is_libclang = |name: &str| {
        name.starts_with("libclang.so")
            || name
                .strip_prefix("libclang-")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    };
    let mut dirs = vec![std::path::PathBuf::from("/usr/lib/x86_64-linux-gnu")];
    dirs.extend(
        std::fs::read_dir("/usr/lib")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("llvm-"))
            .map(|entry| entry.path().join("lib")),
    );
    let found = dirs.iter().any(|dir| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| is_libclang(&entry.file_name().to_string_lossy()))
    });
    if found {
        return Ok(());
    }
    eprintln!("xtask: --rocksdb needs libclang; installing libclang-dev with apt-get");
    for args in [&["update"][..], &["install", "-y", "libclang-dev"][..]] {
        let status = Command::new("apt-get").args(args).status().context("running apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed ({status}); install libclang-dev by hand", args.join(" "));
        }
    }
    Ok(())
}
