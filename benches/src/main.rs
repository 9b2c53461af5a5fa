//! `redwood-bench`: the side-by-side benchmark. Run it through `cargo xtask bench`, which
//! builds it in release mode; see the crate docs for what it measures.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use redwood_benches::{
    engines, report, runner,
    worker::{self, WorkerArgs},
    workload::{Plan, Row},
};

/// Redwood against redb, LMDB, SQLite and fjall: the same data, durability and cache budget.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    worker: Option<Worker>,
    /// A smoke run: scale 0.01 unless --scale says otherwise.
    #[arg(long)]
    quick: bool,
    /// The size of the run: 1.0 loads 1,000,000 entries, and every count scales with it.
    #[arg(long)]
    scale: Option<f64>,
    /// Repetitions of every row; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Engines to run, comma-separated (default: all this build has).
    #[arg(long, value_delimiter = ',')]
    engines: Vec<String>,
    /// Rows to run, comma-separated, in run order (default: all). Later rows expect the
    /// earlier ones: most need `bulk_load` first.
    #[arg(long, value_delimiter = ',')]
    rows: Vec<String>,
    /// Every engine's cache budget, in MiB.
    #[arg(long, default_value_t = 512)]
    cache_mib: u64,
    /// The data's seed.
    #[arg(long, default_value_t = 0x5EED)]
    seed: u64,
    /// Where bench.md, bench.json and bench.svg go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Where the stores live during the run (default: OUT/data). Use a real disk, not tmpfs.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Worker {
    /// Internal: one engine's worker process (arguments as JSON).
    #[command(hide = true)]
    Worker { args: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.worker {
        Some(Worker::Worker { args }) => serde_json::from_str::<WorkerArgs>(args)
            .context("worker arguments")
            .and_then(|args| worker::run(&args)),
        None => run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("redwood-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    let config = config(cli)?;
    std::fs::create_dir_all(&config.data_dir)?;
    let machine = report::machine(&config.data_dir);
    eprintln!(
        "redwood-bench: {} rows x {} engines x {} repetitions, {} entries, stores in {} ({})",
        config.rows.len(),
        config.engines.len(),
        config.reps,
        config.plan.entries,
        config.data_dir.display(),
        machine.filesystem
    );
    let samples = runner::run(&config, |sample| {
        let shown = match &sample.outcome {
            Ok(measured) => measured.secs.map_or("n/a".to_string(), report::duration),
            Err(err) => format!("FAILED: {err}"),
        };
        eprintln!(
            "  rep {} {:<20} {:<8} {shown}",
            sample.rep + 1,
            sample.row.name(),
            sample.engine
        );
    })?;
    let report = report::Report::new(machine, config, samples);
    std::fs::create_dir_all(&cli.out)?;
    let markdown = report.markdown();
    std::fs::write(cli.out.join("bench.md"), &markdown)?;
    std::fs::write(cli.out.join("bench.json"), report.json())?;
    std::fs::write(cli.out.join("bench.svg"), report.svg())?;
    println!("{markdown}");
    eprintln!("redwood-bench: wrote bench.md, bench.json and bench.svg to {}", cli.out.display());
    if report.has_failures() {
        bail!("some engines failed some rows (see the report)");
    }
    Ok(())
}

fn config(cli: &Cli) -> Result<runner::RunConfig> {
    let scale = cli.scale.unwrap_or(if cli.quick { 0.01 } else { 1.0 });
    if !(scale > 0.0 && scale <= 100.0) {
        bail!("--scale must be in (0, 100], not {scale}");
    }
    if cli.reps == 0 {
        bail!("--reps must be at least 1");
    }
    let available = engines::available();
    let engines: Vec<String> = if cli.engines.is_empty() {
        available.iter().map(|name| name.to_string()).collect()
    } else {
        for name in &cli.engines {
            if !available.contains(&name.as_str()) {
                bail!("unknown engine `{name}` (this build has: {})", available.join(", "));
            }
        }
        cli.engines.clone()
    };
    let rows = if cli.rows.is_empty() {
        Row::ALL.to_vec()
    } else {
        cli.rows
            .iter()
            .map(|name| Row::parse(name).with_context(|| format!("unknown row `{name}`")))
            .collect::<Result<_>>()?
    };
    Ok(runner::RunConfig {
        engines,
        rows,
        reps: cli.reps,
        plan: Plan::new(scale),
        scale,
        seed: cli.seed,
        cache_bytes: cli.cache_mib << 20,
        data_dir: cli.data_dir.clone().unwrap_or_else(|| cli.out.join("data")),
    })
}
