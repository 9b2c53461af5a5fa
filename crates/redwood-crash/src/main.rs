//! `crash-harness`, the binary behind `cargo xtask crash-harness`: runs the harness, shows its
//! progress, writes a JSON report, and on a violation prints the seed, the cycle, the fault and
//! a one-line reproduction command and saves the trace under `target/crash-harness/`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use redwood_crash::{Fault, Options, Report, run};

/// Deterministic crash cycles against the full engine on the simulated disk.
#[derive(Parser, Debug)]
#[command(name = "crash-harness")]
struct Cli {
    /// Cycles to run.
    #[arg(long, default_value_t = 100)]
    cycles: u64,
    /// The seed (default: REDWOOD_SEED if set, else a fresh one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// The faults to choose from, comma-separated: drop, tear, reorder, eio, bitrot.
    #[arg(long, value_delimiter = ',', default_value = "drop,tear,reorder,eio,bitrot")]
    faults: Vec<String>,
    /// Workload steps (transactions, checkpoints, reader actions) per cycle.
    #[arg(long, default_value_t = 12)]
    ops_per_cycle: u32,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/crash-harness/report.json")]
    json: PathBuf,
    /// Archive the log beside the database, and every 10 cycles restore a new database from
    /// the archive alone and compare it with the database (home writes are off with an
    /// archive, so the default run leaves this off).
    #[arg(long)]
    archive: bool,
    /// Run the seed twice and fail unless both traces are identical.
    #[arg(long)]
    doublecheck: bool,
    /// Real-process mode: `--cycles` times, start a child process doing durable commits on the
    /// real file system (under target/crash-harness/), SIGKILL it at a seeded moment, reopen
    /// and verify.
    #[arg(long)]
    real: bool,
    /// Internal: be the real-process mode's child, committing to this database until killed.
    #[arg(long, hide = true)]
    child: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(path) = &cli.child {
        return match redwood_crash::real::child(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("crash-harness child: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let mut faults = Vec::new();
    for name in &cli.faults {
        match Fault::parse(name) {
            Some(fault) => faults.push(fault),
            None => {
                eprintln!(
                    "crash-harness: unknown fault {name:?} (drop, tear, reorder, eio, bitrot)"
                );
                return ExitCode::from(2);
            }
        }
    }
    let seed = cli.seed.unwrap_or_else(|| redwood_pager::io::sim::test_seed("crash-harness"));
    let options = Options {
        cycles: cli.cycles,
        seed,
        faults,
        steps_per_cycle: cli.ops_per_cycle,
        archive: cli.archive,
    };
    let started = Instant::now();
    let report = if cli.real {
        run_real(&options)
    } else {
        run(&options, |report| {
            if report.cycles % 100 == 0 || report.cycles == options.cycles {
                eprintln!(
                    "crash-harness: {}/{} cycles, {} acknowledged commits verified",
                    report.cycles, options.cycles, report.acked_commits_verified
                );
            }
        })
    };
    let elapsed = started.elapsed();
    if let Err(error) = write_json(&cli.json, &report, &options, elapsed.as_secs_f64()) {
        eprintln!("crash-harness: cannot write {}: {error}", cli.json.display());
    }
    let mut failed = !report.violations.is_empty();
    if failed {
        explain(&report, &options, &cli);
    }
    if cli.doublecheck && !failed && !cli.real {
        let again = run(&options, |_| {});
        if again.digest() == report.digest() {
            eprintln!(
                "crash-harness: doublecheck: the rerun gave the same trace ({:016x})",
                report.digest()
            );
        } else {
            eprintln!("crash-harness: doublecheck FAILED: seed {seed} gave two different traces");
            save_trace(&report, "first");
            save_trace(&again, "second");
            failed = true;
        }
    }
    eprintln!("crash-harness: seed {seed}, {:.1} s", elapsed.as_secs_f64());
    println!("{}", report.summary());
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Real-process mode: kills children running this binary with `--child`.
fn run_real(options: &Options) -> Report {
    let dir = PathBuf::from(format!("target/crash-harness/real-{}", options.seed));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("crash-harness: cannot create {}: {error}", dir.display());
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("crash-harness"));
    let child = |path: &std::path::Path| {
        let mut command = std::process::Command::new(&exe);
        command.arg("--child").arg(path);
        command
    };
    let report = redwood_crash::real::run(
        &dir.join("real.redwood"),
        options.cycles,
        options.seed,
        &child,
        |report| {
            if report.cycles % 20 == 0 || report.cycles == options.cycles {
                eprintln!(
                    "crash-harness: {}/{} kills, {} acknowledged commits verified",
                    report.cycles, options.cycles, report.acked_commits_verified
                );
            }
        },
    );
    if report.violations.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    report
}

/// Prints what failed and how to reproduce it, and saves the trace.
fn explain(report: &Report, options: &Options, cli: &Cli) {
    let faults: Vec<&str> = options.faults.iter().map(|fault| fault.name()).collect();
    for violation in &report.violations {
        eprintln!(
            "crash-harness: VIOLATION in cycle {} ({}), seed {}: {}",
            violation.cycle,
            violation.fault.name(),
            report.seed,
            violation.message
        );
    }
    eprintln!(
        "crash-harness: reproduce with: cargo xtask crash-harness --seed {} --cycles {}{}",
        report.seed,
        report.cycles,
        if cli.real {
            " --real".to_owned()
        } else {
            format!(" --faults {} --ops-per-cycle {}", faults.join(","), cli.ops_per_cycle)
        }
    );
    save_trace(report, "trace");
}

fn save_trace(report: &Report, name: &str) {
    let path = PathBuf::from(format!("target/crash-harness/{name}-{}.txt", report.seed));
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, report.trace.join("\n") + "\n"));
    match written {
        Ok(()) => eprintln!("crash-harness: trace saved to {}", path.display()),
        Err(error) => eprintln!("crash-harness: cannot save {}: {error}", path.display()),
    }
}

fn write_json(
    path: &PathBuf,
    report: &Report,
    options: &Options,
    seconds: f64,
) -> std::io::Result<()> {
    let violations: Vec<_> = report
        .violations
        .iter()
        .map(|violation| {
            serde_json::json!({
                "cycle": violation.cycle,
                "fault": violation.fault.name(),
                "message": violation.message,
            })
        })
        .collect();
    let document = serde_json::json!({
        "seed": report.seed,
        "cycles": report.cycles,
        "crashes": report.crashes,
        "acked_commits_verified": report.acked_commits_verified,
        "archive_restores": report.archive_restores,
        "violations": violations,
        "faults": options.faults.iter().map(|fault| fault.name()).collect::<Vec<_>>(),
        "ops_per_cycle": options.steps_per_cycle,
        "trace_digest": format!("{:016x}", report.digest()),
        "seconds": seconds,
    });
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, format!("{document:#}\n"))
}
