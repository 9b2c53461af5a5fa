//! Drives the workers: rows in order, engines interleaved within each row, every row repeated.
//!
//! Each repetition starts one fresh worker per engine (a new process and an empty directory)
//! and walks the rows in order, asking every engine for the row before moving to the next, so
//! that a noisy minute on the shared machine hurts all engines alike. The engine order rotates
//! with the repetition, so no engine always goes first.

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::{
    worker::{Measured, Ready, WorkerArgs},
    workload::{Plan, Row},
};

/// One run's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// Engines, in report order (Redwood first).
    pub engines: Vec<String>,
    /// Rows, in run order.
    pub rows: Vec<Row>,
    /// Repetitions of every row.
    pub reps: usize,
    /// The counts.
    pub plan: Plan,
    /// The scale the counts came from.
    pub scale: f64,
    /// The data's seed.
    pub seed: u64,
    /// Every engine's cache budget, in bytes.
    pub cache_bytes: u64,
    /// Where the stores' directories go (on the disk under test, not a tmpfs).
    pub data_dir: PathBuf,
}

/// One engine's outcome for one row and repetition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// The row.
    pub row: Row,
    /// The engine.
    pub engine: String,
    /// The repetition, from 0.
    pub rep: usize,
    /// What the worker measured, or why it failed.
    pub outcome: Result<Measured, String>,
}

/// Flushes every file system's dirty pages (`sync(1)`), so that no engine's row pays for the
/// writeback of the engine before it. The first full run showed it: Redwood's 1,000 values of
/// 2 MB took 6.1 s when it went first and 9.9 to 15 s right after fjall had written its 2 GB.
fn settle_writeback() {
    let _ = Command::new("sync").status();
}

/// A running worker.
struct Worker {
    engine: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    failed: Option<String>,
}

impl Worker {
    fn spawn(args: &WorkerArgs) -> Result<Worker> {
        let exe = std::env::current_exe().context("finding the bench binary")?;
        let mut child = Command::new(exe)
            .arg("worker")
            .arg(serde_json::to_string(args)?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting a worker")?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut worker = Worker { engine: args.engine.clone(), child, stdin, stdout, failed: None };
        let _ready: Ready = worker.answer()?;
        Ok(worker)
    }

    /// Reads the worker's next line as `T`, or its error.
    fn answer<T: for<'de> Deserialize<'de>>(&mut self) -> Result<T> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("{} worker exited without answering ({})", self.engine, self.child.wait()?);
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{} worker said {line:?}", self.engine))?;
        if let Some(error) = value.get("error") {
            bail!("{}", error.as_str().unwrap_or("unknown error"));
        }
        Ok(serde_json::from_value(value)?)
    }

    fn ask(&mut self, row: Row) -> Result<Measured> {
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("worker closed"))?;
        writeln!(stdin, "{}", row.name())?;
        stdin.flush()?;
        self.answer()
    }

    fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = self.child.wait()?;
        if !status.success() && self.failed.is_none() {
            bail!("{} worker exited with {status}", self.engine);
        }
        Ok(())
    }
}

/// Runs every row `config.reps` times on every engine; `progress` sees each sample as it
/// lands. A failed engine records its error and sits out the rest of that repetition.
pub fn run(config: &RunConfig, mut progress: impl FnMut(&Sample)) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for rep in 0..config.reps {
        let mut workers = Vec::new();
        for engine in &config.engines {
            let dir = config.data_dir.join(format!("{engine}-{rep}"));
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::create_dir_all(&dir)?;
            let args = WorkerArgs {
                engine: engine.clone(),
                dir,
                seed: config.seed,
                plan: config.plan,
                cache_bytes: config.cache_bytes,
            };
            workers.push(Worker::spawn(&args)?);
        }
        for &row in &config.rows {
            for offset in 0..workers.len() {
                // The previous engine's writes may still be in the kernel's dirty page cache;
                // flushed during the next engine's row, they would slow its fsyncs.
                settle_writeback();
                let worker = &mut workers[(offset + rep) % config.engines.len()];
                let outcome = match &worker.failed {
                    Some(earlier) => Err(format!("not run: failed earlier ({earlier})")),
                    None => worker.ask(row).map_err(|err| format!("{err:#}")),
                };
                if let (Err(err), None) = (&outcome, &worker.failed) {
                    worker.failed = Some(err.clone());
                }
                let sample = Sample { row, engine: worker.engine.clone(), rep, outcome };
                progress(&sample);
                samples.push(sample);
            }
        }
        for worker in workers {
            worker.finish()?;
        }
        for engine in &config.engines {
            let _ = std::fs::remove_dir_all(config.data_dir.join(format!("{engine}-{rep}")));
        }
    }
    Ok(samples)
}
