//! The worker process: one engine, one repetition, rows on request.
//!
//! The runner starts `redwood-bench worker ...` once per engine and repetition, and speaks a
//! line protocol with it: the worker prints one JSON [`Ready`] line once the store is open and
//! the data made, then reads one row name per line from stdin and answers each with one JSON
//! [`Measured`] line. It exits at end of input. An error is printed as `{"error": "..."}` and
//! ends the worker with exit code 1.

use std::{
    io::{BufRead, Write},
    path::PathBuf,
};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::{
    data::DataSet,
    engines, proc,
    workload::{Bench, Plan, Row},
};

/// What a worker needs to know.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerArgs {
    /// The engine's name (see [`engines::available`]).
    pub engine: String,
    /// An empty directory for the store's files.
    pub dir: PathBuf,
    /// The data's seed.
    pub seed: u64,
    /// The counts.
    pub plan: Plan,
    /// The cache budget, in bytes.
    pub cache_bytes: u64,
}

/// The worker's first line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ready {
    /// The worker's process id (for `perf record -p`).
    pub pid: u32,
}

/// One row's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// The row's time in seconds, or `None` when the engine has no such operation.
    pub secs: Option<f64>,
    /// The worker's peak RSS during the row, in bytes (the data set's ~50 MB included).
    pub peak_rss_bytes: u64,
    /// The store's files after the row, in bytes.
    pub disk_bytes: u64,
    /// Whether the peak was reset before the row; if not, it covers the worker's life so far.
    pub peak_rss_reset: bool,
    /// The size of the file the row wrote (the backup), in bytes, when it wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
}

/// Runs a worker on stdin and stdout.
pub fn run(args: &WorkerArgs) -> Result<()> {
    let stdout = std::io::stdout();
    let result = serve(args, &mut stdout.lock());
    if let Err(err) = &result {
        let line = serde_json::json!({ "error": format!("{err:#}") });
        let _ = writeln!(stdout.lock(), "{line}");
    }
    result
}

fn serve(args: &WorkerArgs, out: &mut impl Write) -> Result<()> {
    let data = DataSet::new(args.seed, args.plan.entries);
    let engine = engines::open(&args.engine, &args.dir, args.cache_bytes)
        .with_context(|| format!("opening {}", args.engine))?;
    let mut bench = Bench::new(engine, &data, args.plan, &args.dir);
    writeln!(out, "{}", serde_json::to_string(&Ready { pid: std::process::id() })?)?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let row = Row::parse(line.trim()).ok_or_else(|| anyhow!("unknown row `{line}`"))?;
        let peak_rss_reset = proc::reset_peak_rss();
        let elapsed =
            bench.run(row).with_context(|| format!("{} on {}", row.name(), args.engine))?;
        let measured = Measured {
            secs: elapsed.map(|elapsed| elapsed.as_secs_f64()),
            peak_rss_bytes: proc::peak_rss_bytes().unwrap_or(0),
            disk_bytes: engines::disk_bytes(&args.dir)?,
            peak_rss_reset,
            output_bytes: bench.output_bytes(),
        };
        writeln!(out, "{}", serde_json::to_string(&measured)?)?;
        out.flush()?;
    }
    Ok(())
}
