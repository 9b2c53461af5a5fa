//! The run's results: medians per row and engine, then markdown, JSON and an SVG chart.

use std::{collections::BTreeMap, fmt::Write as _};

use serde::Serialize;

use crate::{
    engines,
    runner::{RunConfig, Sample},
    workload::Row,
};

/// One engine's figures for one row.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The median time over the repetitions, in seconds; `None` if the engine has no such
    /// operation or failed.
    pub median_secs: Option<f64>,
    /// Every repetition's time, in seconds.
    pub secs: Vec<f64>,
    /// The highest peak RSS over the repetitions, in bytes.
    pub peak_rss_bytes: u64,
    /// The median size of the store's files after the row, in bytes.
    pub disk_bytes: u64,
    /// The median size of the file the row wrote (the backup), in bytes, if it wrote one.
    pub output_bytes: Option<u64>,
    /// The first error, if the engine failed the row.
    pub error: Option<String>,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct RowSummary {
    /// The row.
    pub row: Row,
    /// What it does at this run's counts.
    pub description: String,
    /// Figures per engine, by engine name.
    pub cells: BTreeMap<String, Cell>,
    /// Redwood's median over the best peer's, when both have one.
    pub ratio: Option<f64>,
    /// The best peer, when there is one.
    pub best_peer: Option<String>,
}

/// Where and when the run happened.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// The date and time, UTC.
    pub date: String,
    /// The commit (`git rev-parse --short HEAD`), or "unknown".
    pub commit: String,
    /// The CPU model.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Memory, in GiB.
    pub memory_gib: f64,
    /// The kernel release.
    pub kernel: String,
    /// The file system the stores lived on.
    pub filesystem: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The run's settings.
    pub config: RunConfig,
    /// One entry per row, in run order.
    pub rows: Vec<RowSummary>,
    /// Every sample, for anyone who wants more than medians.
    pub samples: Vec<Sample>,
}

impl Report {
    /// Summarises `samples` of a run with `config` on `machine`.
    pub fn new(machine: Machine, config: RunConfig, samples: Vec<Sample>) -> Report {
        let rows = config.rows.iter().map(|&row| summarise(row, &config, &samples)).collect();
        Report { machine, config, rows, samples }
    }

    /// True when some engine failed some row.
    pub fn has_failures(&self) -> bool {
        self.samples.iter().any(|sample| sample.outcome.is_err())
    }

    /// The markdown report: the time table with ratios, then RSS and file sizes.
    pub fn markdown(&self) -> String {
        let engines = &self.config.engines;
        let m = &self.machine;
        let c = &self.config;
        let mut out = String::new();
        let _ = writeln!(out, "Commit `{}`, {}.", m.commit, m.date);
        let _ = writeln!(
            out,
            "Machine: {}, {} cores, {:.0} GiB, Linux {}, stores on {}.",
            m.cpu, m.cores, m.memory_gib, m.kernel, m.filesystem
        );
        let _ = writeln!(
            out,
            "Scale {} ({} entries), seed {}, cache budget {} MiB per engine, median of {} \
             repetitions. Every write transaction is durable (fsynced) in every engine.\n",
            c.scale,
            c.plan.entries,
            c.seed,
            c.cache_bytes >> 20,
            c.reps
        );
        let _ = writeln!(out, "| row | {} | redwood / best peer |", engines.join(" | "));
        let _ = writeln!(out, "|---|{}---|", "---:|".repeat(engines.len()));
        for row in &self.rows {
            let best = fastest(row);
            let cells: Vec<String> = engines
                .iter()
                .map(|engine| {
                    let cell = &row.cells[engine];
                    match (cell.median_secs, &cell.error) {
                        (_, Some(_)) => "failed".to_string(),
                        (None, None) => "n/a".to_string(),
                        (Some(secs), None) if best.as_deref() == Some(engine.as_str()) => {
                            format!("**{}**", duration(secs))
                        }
                        (Some(secs), None) => duration(secs),
                    }
                })
                .collect();
            let ratio = match (row.ratio, &row.best_peer) {
                (Some(ratio), Some(peer)) => format!("{ratio:.2} ({peer})"),
                _ => "n/a".to_string(),
            };
            let _ = writeln!(out, "| {} | {} | {ratio} |", row.row.name(), cells.join(" | "));
        }
        let _ = writeln!(out, "\nRows:\n");
        for row in &self.rows {
            let _ = writeln!(out, "- `{}`: {}", row.row.name(), row.description);
        }
        let _ = writeln!(out, "\nCompaction:\n");
        for engine in engines {
            let _ = writeln!(out, "- {engine}: {}", engines::compaction_note(engine));
        }
        if let Some(backup) = self.rows.iter().find(|row| row.row == Row::Backup) {
            let _ = writeln!(out, "\nBackup (how each store makes one; the file's size):\n");
            for engine in engines {
                let size = backup.cells[engine]
                    .output_bytes
                    .map_or(String::new(), |bytes| format!(" ({:.1} MiB)", bytes as f64 / MIB));
                let _ = writeln!(out, "- {engine}: {}{size}", engines::backup_note(engine));
            }
        }
        self.write_memory_and_disk(&mut out);
        let failures: Vec<&Sample> =
            self.samples.iter().filter(|sample| sample.outcome.is_err()).collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "\nFailures:\n");
            for sample in failures {
                if let Err(err) = &sample.outcome {
                    let _ = writeln!(
                        out,
                        "- {} on {}, repetition {}: {err}",
                        sample.row.name(),
                        sample.engine,
                        sample.rep
                    );
                }
            }
        }
        out
    }

    fn write_memory_and_disk(&self, out: &mut String) {
        let engines = &self.config.engines;
        let _ = writeln!(
            out,
            "\nPeak RSS per engine and row (MiB, the worker process, ~50 MiB of it the data set):\n"
        );
        let reset_failed =
            self.samples.iter().any(|s| s.outcome.as_ref().is_ok_and(|m| !m.peak_rss_reset));
        if reset_failed {
            let _ = writeln!(
                out,
                "(The kernel refused to reset the peak for some rows: those cover the worker's life.)\n"
            );
        }
        let _ = writeln!(out, "| row | {} |", engines.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(engines.len()));
        for row in &self.rows {
            let cells: Vec<String> = engines
                .iter()
                .map(|engine| format!("{:.0}", row.cells[engine].peak_rss_bytes as f64 / MIB))
                .collect();
            let _ = writeln!(out, "| {} | {} |", row.row.name(), cells.join(" | "));
        }
        let _ = writeln!(out, "\nFile size after the row (MiB):\n");
        let _ = writeln!(out, "| after | {} |", engines.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(engines.len()));
        for row in &self.rows {
            if !matches!(
                row.row,
                Row::BulkLoad | Row::YcsbF | Row::RemoveHalf | Row::Compact | Row::LargeWrites
            ) {
                continue;
            }
            let cells: Vec<String> = engines
                .iter()
                .map(|engine| format!("{:.1}", row.cells[engine].disk_bytes as f64 / MIB))
                .collect();
            let _ = writeln!(out, "| {} | {} |", row.row.name(), cells.join(" | "));
        }
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises")
    }

    /// A horizontal bar chart: each engine's time relative to the row's fastest, log scale.
    pub fn svg(&self) -> String {
        crate::chart::svg(self)
    }
}

const MIB: f64 = (1 << 20) as f64;

fn summarise(row: Row, config: &RunConfig, samples: &[Sample]) -> RowSummary {
    let mut cells = BTreeMap::new();
    for engine in &config.engines {
        let mine: Vec<&Sample> =
            samples.iter().filter(|s| s.row == row && &s.engine == engine).collect();
        let error = mine.iter().find_map(|s| s.outcome.as_ref().err().cloned());
        let measured: Vec<_> = mine.iter().filter_map(|s| s.outcome.as_ref().ok()).collect();
        let secs: Vec<f64> = measured.iter().filter_map(|m| m.secs).collect();
        let median_secs = if error.is_none() { median(&secs) } else { None };
        let peak_rss_bytes = measured.iter().map(|m| m.peak_rss_bytes).max().unwrap_or(0);
        let disks: Vec<f64> = measured.iter().map(|m| m.disk_bytes as f64).collect();
        let disk_bytes = median(&disks).unwrap_or(0.0) as u64;
        let outputs: Vec<f64> =
            measured.iter().filter_map(|m| m.output_bytes).map(|bytes| bytes as f64).collect();
        let output_bytes = median(&outputs).map(|bytes| bytes as u64);
        cells.insert(
            engine.clone(),
            Cell { median_secs, secs, peak_rss_bytes, disk_bytes, output_bytes, error },
        );
    }
    let best_peer = cells
        .iter()
        // Redwood's own engines (tuned and defaults) are never the peer it is compared with.
        .filter(|(engine, _)| !engine.starts_with("redwood"))
        .filter_map(|(engine, cell)| cell.median_secs.map(|secs| (engine, secs)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let ratio = match (cells.get("redwood").and_then(|c| c.median_secs), best_peer) {
        (Some(ours), Some((_, theirs))) if theirs > 0.0 => Some(ours / theirs),
        _ => None,
    };
    RowSummary {
        row,
        description: row.describe(&config.plan),
        ratio,
        best_peer: best_peer.map(|(engine, _)| engine.clone()),
        cells,
    }
}

/// The engine with the lowest median in `row`, if any.
pub(crate) fn fastest(row: &RowSummary) -> Option<String> {
    row.cells
        .iter()
        .filter_map(|(engine, cell)| cell.median_secs.map(|secs| (engine, secs)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(engine, _)| engine.clone())
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// A duration for people: µs, ms or s with 3 or 4 significant digits.
pub fn duration(secs: f64) -> String {
    if secs < 1e-3 {
        format!("{:.1} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// Reads the machine's description from `/proc` and git.
pub fn machine(data_dir: &std::path::Path) -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |name| name.trim().to_string());
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find(|line| line.starts_with("MemTotal:"))
        .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or("unknown".to_string(), |out| {
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        });
    Machine {
        date: jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
        commit,
        cpu,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        memory_gib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        filesystem: filesystem_of(data_dir, &read("/proc/mounts")),
    }
}

/// The type of the file system mounted at the longest prefix of `path` in `mounts`.
fn filesystem_of(path: &std::path::Path, mounts: &str) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point).then(|| (point.len(), kind.to_string()))
        })
        .max_by_key(|(length, _)| *length)
        .map_or("unknown".to_string(), |(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_durations() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(duration(0.000_012_34), "12.3 µs");
        assert_eq!(duration(0.25), "250.0 ms");
        assert_eq!(duration(12.345), "12.35 s");
    }

    fn sample(row: Row, engine: &str, rep: usize, secs: Option<f64>) -> Sample {
        let measured = crate::worker::Measured {
            secs,
            peak_rss_bytes: 1 << 20,
            disk_bytes: 0,
            peak_rss_reset: true,
            output_bytes: None,
        };
        Sample { row, engine: engine.into(), rep, outcome: Ok(measured) }
    }

    #[test]
    fn the_ratio_is_redwoods_median_over_the_best_peers() {
        let config = RunConfig {
            engines: vec!["redwood".into(), "redb".into(), "lmdb".into()],
            rows: vec![Row::BulkLoad, Row::Compact],
            reps: 3,
            plan: crate::workload::Plan::new(0.01),
            scale: 0.01,
            seed: 1,
            cache_bytes: 1 << 20,
            data_dir: "/nonexistent".into(),
        };
        let mut samples = Vec::new();
        for (rep, (ours, redb, lmdb)) in
            [(4.0, 2.0, 9.0), (6.0, 3.0, 1.0), (5.0, 100.0, 1.5)].into_iter().enumerate()
        {
            samples.push(sample(Row::BulkLoad, "redwood", rep, Some(ours)));
            samples.push(sample(Row::BulkLoad, "redb", rep, Some(redb)));
            samples.push(sample(Row::BulkLoad, "lmdb", rep, Some(lmdb)));
            samples.push(sample(Row::Compact, "redwood", rep, Some(1.0)));
            samples.push(sample(Row::Compact, "redb", rep, Some(2.0)));
            samples.push(sample(Row::Compact, "lmdb", rep, None));
        }
        let report = Report::new(machine(std::path::Path::new("/")), config, samples);
        // Medians: redwood 5, redb 3, lmdb 1.5.
        let load = &report.rows[0];
        assert_eq!(load.best_peer.as_deref(), Some("lmdb"));
        assert!((load.ratio.unwrap() - 5.0 / 1.5).abs() < 1e-9);
        // LMDB has no compaction: it is no one's best, and its cell reads n/a.
        let compact = &report.rows[1];
        assert_eq!(compact.best_peer.as_deref(), Some("redb"));
        assert!((compact.ratio.unwrap() - 0.5).abs() < 1e-9);
        let markdown = report.markdown();
        assert!(
            markdown.contains("| bulk_load | 5.00 s | 3.00 s | **1.50 s** | 3.33 (lmdb) |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| compact | **1.00 s** | 2.00 s | n/a | 0.50 (redb) |"),
            "{markdown}"
        );
        assert!(report.svg().starts_with("<svg") && report.svg().contains("lmdb"));
        assert!(!report.has_failures());
    }

    /// The backup row: n/a for a store without one, the ratio against the faster of the peers
    /// that have one, and each backup file's size beside its engine's note.
    #[test]
    fn the_backup_row_compares_the_stores_that_have_one() {
        let config = RunConfig {
            engines: vec!["redwood".into(), "redb".into(), "lmdb".into(), "sqlite".into()],
            rows: vec![Row::BulkLoad, Row::Backup],
            reps: 1,
            plan: crate::workload::Plan::new(0.01),
            scale: 0.01,
            seed: 1,
            cache_bytes: 1 << 20,
            data_dir: "/nonexistent".into(),
        };
        let backup = |engine: &str, secs: Option<f64>, bytes: Option<u64>| {
            let mut sample = sample(Row::Backup, engine, 0, secs);
            if let Ok(measured) = &mut sample.outcome {
                measured.output_bytes = bytes;
            }
            sample
        };
        let samples = vec![
            sample(Row::BulkLoad, "redwood", 0, Some(1.0)),
            sample(Row::BulkLoad, "redb", 0, Some(1.0)),
            sample(Row::BulkLoad, "lmdb", 0, Some(1.0)),
            sample(Row::BulkLoad, "sqlite", 0, Some(1.0)),
            backup("redwood", Some(0.3), Some(3 << 20)),
            backup("redb", None, None),
            backup("lmdb", Some(0.4), Some(2 << 20)),
            backup("sqlite", Some(0.2), Some(1 << 20)),
        ];
        let report = Report::new(machine(std::path::Path::new("/")), config, samples);
        let row = &report.rows[1];
        assert_eq!(row.best_peer.as_deref(), Some("sqlite"));
        assert!((row.ratio.unwrap() - 1.5).abs() < 1e-9);
        assert_eq!(row.cells["redwood"].output_bytes, Some(3 << 20));
        assert_eq!(row.cells["redb"].output_bytes, None);
        let markdown = report.markdown();
        assert!(
            markdown
                .contains("| backup | 300.0 ms | n/a | 400.0 ms | **200.0 ms** | 1.50 (sqlite) |"),
            "{markdown}"
        );
        assert!(markdown.contains("- `backup`: back the database up"), "{markdown}");
        assert!(markdown.contains("- redb: none (redb has no backup API"), "{markdown}");
        assert!(markdown.contains("- lmdb: mdb_env_copyfd2") && markdown.contains("(2.0 MiB)"));
        assert!(
            markdown.contains("- redwood: Database::backup_to_file")
                && markdown.contains("(3.0 MiB)")
        );
    }

    #[test]
    fn the_file_system_is_the_longest_mount_prefix() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n";
        assert_eq!(filesystem_of(std::path::Path::new("/tmp/x"), mounts), "tmpfs");
        assert_eq!(filesystem_of(std::path::Path::new("/work/x"), mounts), "ext4");
    }
}
