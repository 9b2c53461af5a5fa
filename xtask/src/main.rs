//! `cargo xtask`: Redwood's project automation, one small binary with one subcommand per task.
//!
//! The alias in `.cargo/config.toml` turns `cargo xtask ARGS` into
//! `cargo run --package xtask -- ARGS`. Each subcommand lives in its own module (`ci.rs`,
//! `crash.rs`, `bench.rs`, `miri.rs`), one [`Command`] variant each, and works from the workspace root, whatever the caller's current directory. Arguments are parsed by
//! hand to keep the dependencies few.
//!
//! Exit codes: 0 on success; the failing child's exit code when a step of a subcommand fails;
//! 2 for a usage error; 1 for any other error.

mod bench;
mod ci;
mod crash;
mod miri;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, Result, bail};

/// What `cargo xtask help` and a usage error print.
const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  ci [--quick]   the whole check CI runs: fmt, clippy, loom, miri, doc tests, tests, a crash-harness
                 smoke run, the bench smoke run, fuzz build (--quick skips clippy and miri)
  crash-harness [--cycles N] [--seed S] [--faults drop,tear,reorder,eio,bitrot]
                [--ops-per-cycle K] [--json FILE] [--doublecheck] [--real]
                 deterministic crash cycles on the simulated disk, or with --real, SIGKILLs
                 of a child process committing on a real file (release build)
  bench [--quick] [--scale F] [--reps N] [--engines LIST] [--rows LIST] [--rocksdb] [--dev] ...
                 the side-by-side benchmark against redb, LMDB, SQLite and fjall (release
                 build; --dev: the dev profile, for smoke runs); the report goes to
                 target/bench/ (`-- --help` lists every option)
  miri           the tests of the workspace's unsafe code under miri (installs nightly)
  help           print this message";

/// One subcommand of `cargo xtask`, with its parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    /// `cargo xtask ci [--quick]`: see [`ci`].
    Ci(ci::Options),
    /// `cargo xtask crash-harness ARGS`: see [`crash`].
    CrashHarness(Vec<String>),
    /// `cargo xtask bench ARGS`: see [`bench`](mod@bench).
    Bench(Vec<String>),
    /// `cargo xtask miri`: see [`miri`].
    Miri,
    /// `cargo xtask help`: print the usage.
    Help,
}

impl Command {
    /// Parses the arguments that follow `cargo xtask`.
    fn parse(args: &[String]) -> Result<Self> {
        let Some((name, rest)) = args.split_first() else {
            bail!("no command given");
        };
        match name.as_str() {
            "ci" => Ok(Command::Ci(ci::Options::parse(rest)?)),
            "crash-harness" => Ok(Command::CrashHarness(rest.to_vec())),
            "bench" => Ok(Command::Bench(rest.to_vec())),
            "miri" => Ok(Command::Miri),
            "help" | "-h" | "--help" => Ok(Command::Help),
            other => bail!("unknown command `{other}`"),
        }
    }
}

fn main() -> ExitCode {
    let args = match collect_args() {
        Ok(args) => args,
        Err(err) => return usage_error(&err),
    };
    let command = match Command::parse(&args) {
        Ok(command) => command,
        Err(err) => return usage_error(&err),
    };
    let result = match command {
        Command::Ci(options) => ci::run(&workspace_root(), options),
        Command::CrashHarness(args) => crash::run(&workspace_root(), &args),
        Command::Bench(args) => bench::run(&workspace_root(), &args),
        Command::Miri => miri::run(&workspace_root()),
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            match err.downcast_ref::<ci::StepFailed>() {
                Some(failed) => ExitCode::from(failed.exit_code()),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// The command-line arguments after the program name, which must be UTF-8.
fn collect_args() -> Result<Vec<String>> {
    std::env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string().map_err(|arg| anyhow::anyhow!("argument {arg:?} is not UTF-8"))
        })
        .collect::<Result<Vec<_>>>()
        .context("reading the command line")
}

/// Prints a usage error and returns exit code 2.
fn usage_error(err: &anyhow::Error) -> ExitCode {
    eprintln!("xtask: {err:#}\n\n{USAGE}");
    ExitCode::from(2)
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The `cargo` to run children with: the one that started us (`$CARGO`), else `cargo`.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_ci_and_its_options() {
        assert_eq!(
            Command::parse(&args(&["ci"])).unwrap(),
            Command::Ci(ci::Options { quick: false })
        );
        assert_eq!(
            Command::parse(&args(&["ci", "--quick"])).unwrap(),
            Command::Ci(ci::Options { quick: true })
        );
        assert_eq!(Command::parse(&args(&["help"])).unwrap(), Command::Help);
    }

    #[test]
    fn rejects_unknown_commands_and_options() {
        assert!(Command::parse(&args(&[])).is_err());
        assert!(Command::parse(&args(&["deploy"])).is_err());
        assert!(Command::parse(&args(&["ci", "--fast"])).is_err());
    }

    #[test]
    fn workspace_root_holds_the_virtual_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
