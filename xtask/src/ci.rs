//! `cargo xtask ci`: the whole check that CI runs (`.ci/run`), one step after another.
//!
//! The steps, in order, stopping at the first that fails:
//!
//! 1. `tools`: make sure the rustfmt and clippy components exist (`rustup component add` if not);
//! 2. `fmt`: `cargo fmt --all -- --check`;
//! 3. `clippy`: `cargo clippy --workspace --all-targets --all-features -- -D warnings`
//!    (skipped by `--quick`);
//! 4. `loom`: the loom models, `RUSTFLAGS="--cfg loom" cargo test -p redwood-pager -p
//!    redwood-bufpool --lib loom` in `target/loom`;
//! 5. `doc-tests`: `cargo test --workspace --all-features --doc`;
//! 6. `tests`: `cargo nextest run --workspace --all-features` when `cargo nextest` is installed,
//!    else `cargo test --workspace --all-features` (which runs the doc tests itself, so step 4 is
//!    then skipped);
//! 7. `crash-harness`: a smoke run of the crash harness, 1,000 cycles of every fault with a fresh
//!    seed (or `REDWOOD_SEED`), each seed run twice to prove the trace deterministic;
//!    `crash-harness-archive`: 500 cycles with the log archived, restoring from the archive
//!    every 10 cycles and comparing; `crash-harness-real`: 20 SIGKILLs of a child process
//!    committing on a real file;
//! 8. `bench`: `cargo xtask bench --quick --dev`, the side-by-side benchmark at scale 0.01 (in
//!    the dev profile the tests built), a smoke test that every engine runs every row and reads
//!    back what it wrote;
//! 9. `fuzz`: `cargo check --manifest-path fuzz/Cargo.toml`, only when the fuzz crate exists.
//!
//! The doc tests run before the main test run, not after it, so that the last lines a CI log
//! shows are the test runner's real summary rather than a doc-test run of zero tests.
//!
//! Each step prints its command and its wall time; the run ends with one summary line. A failed
//! step becomes a [`StepFailed`] error that names the step, and its exit code is propagated.

use std::{
    ffi::OsString,
    fmt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// The options of `cargo xtask ci`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// `--quick`: skip clippy, the slowest step that tests nothing.
    pub(crate) quick: bool,
}

impl Options {
    /// Parses the arguments that follow `cargo xtask ci`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut options = Options::default();
        for arg in args {
            match arg.as_str() {
                "--quick" => options.quick = true,
                other => bail!("unknown option `{other}` for `ci` (known: --quick)"),
            }
        }
        Ok(options)
    }
}

/// A step whose command exited unsuccessfully; `cargo xtask` exits with [`Self::exit_code`].
#[derive(Debug)]
pub(crate) struct StepFailed {
    /// The step's name, as printed in its header.
    pub(crate) step: &'static str,
    /// The command line that failed, as printed.
    pub(crate) command: String,
    /// The command's exit code; `None` when a signal ended it.
    pub(crate) code: Option<i32>,
}

impl StepFailed {
    /// The exit code to leave with: the child's own when it fits in 1..=255, else 1.
    pub(crate) fn exit_code(&self) -> u8 {
        self.code.and_then(|code| u8::try_from(code).ok()).filter(|&code| code != 0).unwrap_or(1)
    }
}

impl fmt::Display for StepFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "step `{}` failed (exit code {code})", self.step)?,
            None => write!(f, "step `{}` was killed by a signal", self.step)?,
        }
        write!(f, ": {}", self.command)
    }
}

impl std::error::Error for StepFailed {}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// Ensure the rustfmt component, and clippy's when `clippy` is set.
    Tools {
        /// Whether clippy is needed too.
        clippy: bool,
    },
    /// Run `cargo` with these arguments.
    Cargo(Vec<&'static str>),
    /// Run `cargo` with these environment variables and arguments.
    CargoWithEnv(Vec<(&'static str, &'static str)>, Vec<&'static str>),
    /// Do nothing, for this reason.
    Skip(&'static str),
}

/// The `ipfs-car` release the backup test verifies archives with.
const IPFS_CAR_VERSION: &str = "3.1.0";

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    /// Short name, used in headers, the summary and errors.
    name: &'static str,
    /// What the step does.
    action: Action,
}

/// The steps to run, in order, given the options and what the machine and the tree have.
fn plan(options: Options, nextest: bool, fuzz_crate: bool) -> Vec<Step> {
    let step = |name, action| Step { name, action };
    vec![
        step("tools", Action::Tools { clippy: !options.quick }),
        step("fmt", Action::Cargo(vec!["fmt", "--all", "--", "--check"])),
        if options.quick {
            step("clippy", Action::Skip("--quick"))
        } else {
            step(
                "clippy",
                Action::Cargo(vec![
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--all-features",
                    "--",
                    "-D",
                    "warnings",
                ]),
            )
        },
        // Every crate's documentation builds without a warning (broken or private links).
        if options.quick {
            step("docs", Action::Skip("--quick"))
        } else {
            step(
                "docs",
                Action::CargoWithEnv(
                    vec![("RUSTDOCFLAGS", "-D warnings")],
                    vec!["doc", "--workspace", "--no-deps"],
                ),
            )
        },
        // The loom models rebuild the pager with `--cfg loom` in a target directory of their
        // own, so the main build cache stays valid. They run before the main test step, so the
        // last test summary in a log is the whole suite's.
        step(
            "loom",
            Action::CargoWithEnv(
                vec![("RUSTFLAGS", "--cfg loom"), ("CARGO_TARGET_DIR", "target/loom")],
                vec!["test", "-p", "redwood-pager", "-p", "redwood-bufpool", "--lib", "loom"],
            ),
        ),
        // The unsafe code's tests under miri (`cargo xtask miri` installs nightly with miri).
        if options.quick {
            step("miri", Action::Skip("--quick"))
        } else {
            step("miri", Action::Cargo(vec!["xtask", "miri"]))
        },
        if nextest {
            step("doc-tests", Action::Cargo(vec!["test", "--workspace", "--all-features", "--doc"]))
        } else {
            step("doc-tests", Action::Skip("`cargo test` below runs them"))
        },
        if nextest {
            step("tests", Action::Cargo(vec!["nextest", "run", "--workspace", "--all-features"]))
        } else {
            step("tests", Action::Cargo(vec!["test", "--workspace", "--all-features"]))
        },
        // A smoke run of the crash harness (dev build, which the tests above already built);
        // the long runs are `cargo xtask crash-harness --cycles 1000` and beyond.
        step(
            "crash-harness",
            harness(&[
                "--cycles",
                "1000",
                "--doublecheck",
                "--json",
                "target/crash-harness/ci.json",
            ]),
        ),
        step(
            "crash-harness-archive",
            harness(&[
                "--archive",
                "--cycles",
                "500",
                "--json",
                "target/crash-harness/ci-archive.json",
            ]),
        ),
        step(
            "crash-harness-real",
            harness(&["--real", "--cycles", "20", "--json", "target/crash-harness/ci-real.json"]),
        ),
        // The benchmark's smoke run: tiny scale, every engine, every row, in the dev profile
        // the tests already built (a release build compiled every peer again: about 2 minutes).
        step("bench", Action::Cargo(vec!["xtask", "bench", "--quick", "--dev"])),
        if fuzz_crate {
            step("fuzz", Action::Cargo(vec!["check", "--manifest-path", "fuzz/Cargo.toml"]))
        } else {
            step("fuzz", Action::Skip("no fuzz/Cargo.toml"))
        },
    ]
}

/// Runs the crash harness binary (dev build, which the tests already built) with `args`.
fn harness(args: &[&'static str]) -> Action {
    let mut command = vec!["run", "--quiet", "-p", "redwood-crash", "--bin", "crash-harness", "--"];
    command.extend_from_slice(args);
    Action::Cargo(command)
}

/// How a step ended, for the summary.
enum Outcome {
    /// It ran and succeeded, taking this long.
    Passed(Duration),
    /// It did not run, for this reason.
    Skipped(&'static str),
}

/// Runs `cargo xtask ci` in the workspace at `root`.
pub(crate) fn run(root: &Path, options: Options) -> Result<()> {
    let started = Instant::now();
    let runner = Runner { root, cargo: crate::cargo() };
    let nextest = runner.succeeds(&["nextest", "--version"]);
    let fuzz_crate = root.join("fuzz/Cargo.toml").is_file();
    say(&format!(
        "tests will run with {}",
        if nextest { "cargo nextest (found)" } else { "cargo test (cargo nextest not found)" }
    ));
    let steps = plan(options, nextest, fuzz_crate);
    let mut outcomes: Vec<(&'static str, Outcome)> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let label = format!("[{}/{}] {}", index + 1, steps.len(), step.name);
        match runner.run_step(step, &label) {
            Ok(outcome) => outcomes.push((step.name, outcome)),
            Err(err) => {
                let passed: Vec<&str> = outcomes.iter().map(|(name, _)| *name).collect();
                let not_run: Vec<&str> = steps[index + 1..].iter().map(|s| s.name).collect();
                say(&format!(
                    "FAILED at step `{}` after {}; done: {}; not run: {}",
                    step.name,
                    secs(started.elapsed()),
                    list_or_none(&passed),
                    list_or_none(&not_run),
                ));
                return Err(err);
            }
        }
    }
    let timings: Vec<String> = outcomes
        .iter()
        .map(|(name, outcome)| match outcome {
            Outcome::Passed(took) => format!("{name} {}", secs(*took)),
            Outcome::Skipped(reason) => format!("{name} skipped: {reason}"),
        })
        .collect();
    say(&format!("all steps ok in {} ({})", secs(started.elapsed()), timings.join(", ")));
    Ok(())
}

/// Runs the commands of the steps, from the workspace root.
struct Runner<'a> {
    /// The workspace root, the children's working directory.
    root: &'a Path,
    /// The `cargo` to run.
    cargo: OsString,
}

impl Runner<'_> {
    /// Runs one step, printing its header and how it ended.
    fn run_step(&self, step: &Step, label: &str) -> Result<Outcome> {
        let started = Instant::now();
        match &step.action {
            Action::Skip(reason) => {
                say(&format!("{label}: skipped ({reason})"));
                return Ok(Outcome::Skipped(reason));
            }
            Action::Tools { clippy } => self.ensure_tools(step.name, label, *clippy)?,
            Action::Cargo(args) => self.cargo(step.name, label, &[], args)?,
            Action::CargoWithEnv(env, args) => self.cargo(step.name, label, env, args)?,
        }
        let took = started.elapsed();
        say(&format!("{label}: ok in {}", secs(took)));
        Ok(Outcome::Passed(took))
    }

    /// Runs `cargo ARGS` with `env` set, printing the command first.
    fn cargo(
        &self,
        step: &'static str,
        label: &str,
        env: &[(&'static str, &'static str)],
        args: &[&'static str],
    ) -> Result<()> {
        let settings: Vec<String> =
            env.iter().map(|(key, value)| format!("{key}=\"{value}\" ")).collect();
        let command = format!("{}cargo {}", settings.concat(), args.join(" "));
        say(&format!("{label}: {command}"));
        let mut child = Command::new(&self.cargo);
        child.args(args).envs(env.iter().copied());
        self.check(step, &command, child)
    }

    /// The `tools` step: adds the rustfmt and clippy components if either is missing, then
    /// the tests' outside tools (see [`Runner::ensure_test_tools`]).
    fn ensure_tools(&self, step: &'static str, label: &str, clippy: bool) -> Result<()> {
        let mut missing = Vec::new();
        if !self.succeeds(&["fmt", "--version"]) {
            missing.push("rustfmt");
        }
        if clippy && !self.succeeds(&["clippy", "--version"]) {
            missing.push("clippy");
        }
        if missing.is_empty() {
            let needed = if clippy { "rustfmt and clippy" } else { "rustfmt" };
            say(&format!("{label}: {needed} present"));
        } else {
            let command = "rustup component add rustfmt clippy";
            say(&format!("{label}: {} missing: {command}", missing.join(" and ")));
            let mut child = Command::new("rustup");
            child.args(["component", "add", "rustfmt", "clippy"]);
            self.check(step, command, child)?;
        }
        self.ensure_test_tools(step, label)
    }

    /// The tools tests drive from outside: Debian's `chromium` (the dashboard's browser test)
    /// and the npm package `ipfs-car` (the backup test verifies archives with it), installed
    /// into `target/npm-tools` at a pinned version. Each is installed when missing (apt-get
    /// needs root, as on CI's machine); a test whose tool is missing fails under `CI=true`
    /// and skips loudly otherwise.
    fn ensure_test_tools(&self, step: &'static str, label: &str) -> Result<()> {
        let shell = |command: &str| {
            let mut child = Command::new("sh");
            child.args(["-c", command]);
            child
        };
        let present = |command: &str| {
            shell(command)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        if present("command -v chromium") {
            say(&format!("{label}: chromium present"));
        } else {
            let command = "apt-get update && apt-get install -y --no-install-recommends chromium";
            say(&format!("{label}: chromium missing: {command}"));
            self.check(step, command, shell(command))?;
        }
        let ipfs_car = self.root.join("target/npm-tools/node_modules/.bin/ipfs-car");
        if ipfs_car.exists() {
            say(&format!("{label}: ipfs-car present"));
            return Ok(());
        }
        if !present("command -v npm") {
            let command = "apt-get update && apt-get install -y --no-install-recommends npm";
            say(&format!("{label}: npm missing: {command}"));
            self.check(step, command, shell(command))?;
        }
        let command = format!(
            "npm install --prefix target/npm-tools --no-audit --no-fund --loglevel=error ipfs-car@{IPFS_CAR_VERSION}"
        );
        say(&format!("{label}: ipfs-car missing: {command}"));
        self.check(step, &command, shell(&command))
    }

    /// Runs `child` in the workspace root with inherited output; an unsuccessful exit is a
    /// [`StepFailed`].
    fn check(&self, step: &'static str, command: &str, mut child: Command) -> Result<()> {
        let status = child
            .current_dir(self.root)
            .status()
            .with_context(|| format!("step `{step}`: could not start `{command}`"))?;
        if status.success() {
            Ok(())
        } else {
            Err(StepFailed { step, command: command.to_owned(), code: status.code() }.into())
        }
    }

    /// Whether `cargo ARGS` runs and exits successfully; its output is discarded.
    fn succeeds(&self, args: &[&str]) -> bool {
        Command::new(&self.cargo)
            .args(args)
            .current_dir(self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

/// Prints one progress line. Everything goes to stderr, beside cargo's own progress, so that
/// the lines keep their order in a log that merges both streams.
fn say(line: &str) {
    eprintln!("xtask ci: {line}");
}

/// Formats a duration as seconds with one decimal.
fn secs(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Joins names with commas, or says "none".
fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_commands(steps: &[Step]) -> Vec<(&'static str, String)> {
        steps
            .iter()
            .map(|step| {
                let what = match &step.action {
                    Action::Tools { clippy } => format!("tools clippy={clippy}"),
                    Action::Cargo(args) => format!("cargo {}", args.join(" ")),
                    Action::CargoWithEnv(env, args) => {
                        let settings: Vec<String> =
                            env.iter().map(|(key, value)| format!("{key}=\"{value}\" ")).collect();
                        format!("{}cargo {}", settings.concat(), args.join(" "))
                    }
                    Action::Skip(reason) => format!("skip: {reason}"),
                };
                (step.name, what)
            })
            .collect()
    }

    #[test]
    fn full_plan_with_nextest_and_fuzz() {
        let steps = plan(Options { quick: false }, true, true);
        let expected = [
            ("tools", "tools clippy=true"),
            ("fmt", "cargo fmt --all -- --check"),
            ("clippy", "cargo clippy --workspace --all-targets --all-features -- -D warnings"),
            ("docs", "RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps"),
            (
                "loom",
                "RUSTFLAGS=\"--cfg loom\" CARGO_TARGET_DIR=\"target/loom\" cargo test -p redwood-pager -p redwood-bufpool --lib loom",
            ),
            ("miri", "cargo xtask miri"),
            ("doc-tests", "cargo test --workspace --all-features --doc"),
            ("tests", "cargo nextest run --workspace --all-features"),
            (
                "crash-harness",
                "cargo run --quiet -p redwood-crash --bin crash-harness -- --cycles 1000 --doublecheck --json target/crash-harness/ci.json",
            ),
            (
                "crash-harness-archive",
                "cargo run --quiet -p redwood-crash --bin crash-harness -- --archive --cycles 500 --json target/crash-harness/ci-archive.json",
            ),
            (
                "crash-harness-real",
                "cargo run --quiet -p redwood-crash --bin crash-harness -- --real --cycles 20 --json target/crash-harness/ci-real.json",
            ),
            ("bench", "cargo xtask bench --quick --dev"),
            ("fuzz", "cargo check --manifest-path fuzz/Cargo.toml"),
        ];
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(name, what)| (*name, what.to_string())).collect();
        assert_eq!(names_and_commands(&steps), expected);
    }

    #[test]
    fn quick_plan_without_nextest_or_fuzz() {
        let steps = plan(Options { quick: true }, false, false);
        let got = names_and_commands(&steps);
        assert_eq!(got[0].1, "tools clippy=false");
        assert_eq!(got[2].1, "skip: --quick");
        assert_eq!(got[3].1, "skip: --quick", "no doc build in the quick check");
        assert_eq!(got[5].1, "skip: --quick", "no miri in the quick check");
        assert!(got[6].1.starts_with("skip:"), "cargo test runs doc tests itself");
        assert_eq!(got[7].1, "cargo test --workspace --all-features");
        assert_eq!(got.last().unwrap().1, "skip: no fuzz/Cargo.toml");
    }

    #[test]
    fn failed_step_names_itself_and_keeps_the_exit_code() {
        let failed =
            StepFailed { step: "clippy", command: "cargo clippy".to_owned(), code: Some(101) };
        assert_eq!(failed.exit_code(), 101);
        assert_eq!(failed.to_string(), "step `clippy` failed (exit code 101): cargo clippy");
        let killed = StepFailed { code: None, ..failed };
        assert_eq!(killed.exit_code(), 1);
        let odd = StepFailed { step: "fmt", command: String::new(), code: Some(-3) };
        assert_eq!(odd.exit_code(), 1);
    }
}
