//! Real-process mode: a child process does durable commits on the real file system and prints
//! each acknowledged one; the parent SIGKILLs it at a seeded moment, reopens the database and
//! verifies it. No simulation: the kernel, the page cache and the file system are real (a killed
//! process loses nothing the kernel has accepted, so this mode proves the engine never
//! acknowledges early and that recovery handles whatever a killed writer leaves).
//!
//! The child's workload is a function of the commit number `n`: commit `n` inserts key `n`
//! (every seventeenth value long enough for an overflow chain) and removes key `n - WINDOW`;
//! every 64th commit is followed by a full checkpoint. So the state after commit `m` is known
//! exactly, and the parent checks the database holds the state of a commit at or after the last
//! one the child acknowledged (at most one later: the commit in flight).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood::{CheckpointMode, Database, Durability};

use crate::{Fault, Report, Violation};

/// The table the child writes.
const TABLE: &str = "real";
/// Keys kept: commit `n` removes key `n - WINDOW`.
const WINDOW: u64 = 50;

/// Opens the database with a small cache: each child and each verification opens it anew, and
/// a large cache's arena costs more to set up than the work it would speed up.
fn open(path: &Path) -> redwood::Result<Database> {
    Database::builder().cache_bytes(1 << 20).open(path)
}

fn key(n: u64) -> Vec<u8> {
    format!("{n:012}").into_bytes()
}

fn value(n: u64) -> Vec<u8> {
    let length = if n.is_multiple_of(17) { 20_000 } else { 100 };
    (0..length).map(|index| (n as usize).wrapping_add(index).wrapping_mul(31) as u8).collect()
}

/// The table's entries after commit `m` (or before any, for `None`).
fn state_after(m: Option<u64>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let Some(m) = m else { return BTreeMap::new() };
    (m.saturating_sub(WINDOW - 1)..=m).map(|n| (key(n), value(n))).collect()
}

/// The child: commits forever from where the database left off, printing `acked N` after each
/// durable commit returns. Runs until killed (or an error, which it prints and exits on).
pub fn child(path: &Path) -> std::io::Result<()> {
    let fail = |error: redwood::Error| std::io::Error::other(error.to_string());
    let db = open(path).map_err(fail)?;
    let next = {
        let read = db.begin_read().map_err(fail)?;
        let last = match read.open_table(TABLE) {
            Ok(table) => table.range(..).next_back().transpose().map_err(fail)?,
            Err(redwood::Error::TableNotFound(_)) => None,
            Err(error) => return Err(fail(error)),
        };
        last.map_or(0, |(key, _)| String::from_utf8_lossy(&key).parse::<u64>().map_or(0, |n| n + 1))
    };
    let mut stdout = std::io::stdout().lock();
    for n in next.. {
        let mut write = db.begin_write().map_err(fail)?;
        write.set_durability(Durability::Immediate);
        {
            let mut table = write.open_table(TABLE).map_err(fail)?;
            table.insert(key(n), value(n)).map_err(fail)?;
            if n >= WINDOW {
                table.remove(key(n - WINDOW)).map_err(fail)?;
            }
        }
        write.commit().map_err(fail)?;
        writeln!(stdout, "acked {n}")?;
        stdout.flush()?;
        if n % 64 == 63 {
            db.checkpoint(CheckpointMode::Full).map_err(fail)?;
        }
    }
    Ok(())
}

/// The parent: `kills` rounds of start, kill at a seeded moment, verify, on the database at
/// `path` (created fresh). `child_command` starts the child on `path`.
pub fn run(
    path: &Path,
    kills: u64,
    seed: u64,
    child_command: &dyn Fn(&Path) -> Command,
    mut on_kill: impl FnMut(&Report),
) -> Report {
    let mut report = Report { seed, ..Report::default() };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let violation = |report: &mut Report, cycle: u64, message: String| {
        report.trace.push(format!("VIOLATION: {message}"));
        report.violations.push(Violation { cycle, fault: Fault::Kill, message });
    };
    if let Err(error) = Database::create(path) {
        violation(&mut report, 0, format!("creating {} failed: {error}", path.display()));
        return report;
    }
    let mut verified_max: Option<u64> = None;
    for kill in 0..kills {
        let delay = Duration::from_millis(rng.random_range(1..80));
        let acked = match run_child(path, delay, child_command) {
            Ok(acked) => acked,
            Err(message) => {
                violation(&mut report, kill, message);
                return report;
            }
        };
        report.cycles += 1;
        report.crashes += 1;
        report.trace.push(format!("kill {kill}: after {delay:?}, last acknowledged {acked:?}"));
        let floor = acked.or(verified_max);
        match verify(path, floor) {
            Ok(found) => {
                let newly = match (acked, verified_max) {
                    (Some(acked), Some(before)) => acked.saturating_sub(before),
                    (Some(acked), None) => acked + 1,
                    (None, _) => 0,
                };
                report.acked_commits_verified += newly;
                verified_max = found;
                report.trace.push(format!("verified: the state after commit {found:?}"));
            }
            Err(message) => {
                violation(&mut report, kill, message);
                return report;
            }
        }
        on_kill(&report);
    }
    report
}

/// Starts the child, lets it run for `delay`, SIGKILLs it, and returns the last commit it
/// acknowledged.
fn run_child(
    path: &Path,
    delay: Duration,
    child_command: &dyn Fn(&Path) -> Command,
) -> Result<Option<u64>, String> {
    let mut child = child_command(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("starting the child failed: {error}"))?;
    let stdout = child.stdout.take().expect("piped");
    let last = Arc::new(Mutex::new(None::<u64>));
    let reader = {
        let last = Arc::clone(&last);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("acked ").and_then(|n| n.parse().ok()) {
                    *last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(n);
                }
            }
        })
    };
    std::thread::sleep(delay);
    let exited_early = child.try_wait().map_err(|error| error.to_string())?;
    if let Some(status) = exited_early {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        return Err(format!("the child exited by itself ({status}): {}", stderr.trim()));
    }
    child.kill().map_err(|error| format!("killing the child failed: {error}"))?;
    child.wait().map_err(|error| error.to_string())?;
    reader.join().map_err(|_| "the reader thread panicked".to_owned())?;
    let last = *last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(last)
}

/// Reopens the database and checks it holds the state after a commit `m` with
/// `floor <= m <= floor + 1` (the acknowledged one, or the one in flight), and that the full
/// integrity check is clean. Returns `m`.
fn verify(path: &Path, floor: Option<u64>) -> Result<Option<u64>, String> {
    let db = open(path).map_err(|error| format!("reopening failed: {error}"))?;
    let read = db.begin_read().map_err(|error| error.to_string())?;
    let entries: BTreeMap<Vec<u8>, Vec<u8>> = match read.open_table(TABLE) {
        Ok(table) => table
            .range(..)
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.to_vec())))
            .collect::<redwood::Result<_>>()
            .map_err(|error| format!("reading after the kill failed: {error}"))?,
        Err(redwood::Error::TableNotFound(_)) => BTreeMap::new(),
        Err(error) => return Err(error.to_string()),
    };
    let found = entries
        .keys()
        .next_back()
        .map(|key| String::from_utf8_lossy(key).parse::<u64>())
        .transpose()
        .map_err(|_| "a key that no commit wrote".to_owned())?;
    let allowed = match (found, floor) {
        (_, None) => found.is_none_or(|m| m == 0),
        (None, Some(_)) => false,
        (Some(m), Some(floor)) => m == floor || m == floor + 1,
    };
    if !allowed {
        return Err(format!(
            "the database holds the state after commit {found:?}; the child had acknowledged \
             {floor:?}"
        ));
    }
    if entries != state_after(found) {
        return Err(format!("the state after commit {found:?} is not what that commit left"));
    }
    drop(read);
    let report =
        db.check_report(|_, _| {}).map_err(|error| format!("the check failed: {error}"))?;
    if !report.is_clean() {
        return Err(format!("the integrity check found: {:?}", report.problems));
    }
    Ok(found)
}
