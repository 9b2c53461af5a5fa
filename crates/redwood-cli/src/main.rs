//! The `redwood` command-line tool.
//!
//! Its role: `demo` (the README's main job), `put`/`get`/`del`/`scan`, `tables`, `stats`, `check`,
//! `recover`, `backup`, `restore` and `checkpoint` over a database file, and `dashboard` (the live web dashboard of
//! `redwood-dashboard`), built on the `redwood` facade only. Every command
//! prints text for people or, with `--json`, one JSON document for machines; failures are one
//! readable sentence on standard error and an exit code that says what kind of failure it was
//! (`exit.rs`). Long work (the demo's load, the check's scrub) shows a progress bar on a
//! terminal.
//!
//! What it does not do: it reaches the storage only through `redwood`'s public API.

mod backup;
mod commands;
mod dashboard;
mod demo;
mod exit;
mod output;
mod recover;
mod restore_point;
mod when;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Counts the heap, so `stats` and the demo can show it beside RSS (ADR-10).
#[global_allocator]
static ALLOCATOR: redwood::CountingAllocator = redwood::CountingAllocator::system();

/// Redwood: a crash-safe, embedded, transactional B+Tree key-value store.
///
/// Exit codes: 0 success; 1 key not found; 2 bad usage; 3 no such database file; 4 not a
/// Redwood database; 5 damaged data (a corrupt page, or `check` found faults); 6 database in
/// use by another process; 7 no such table; 8 the write-ahead log is missing or not this
/// database's; 10 any other failure (I/O, bad input).
///
/// Commands that only read (`get`, `scan`, `tables`, `stats`, `check`) open the database
/// read-only: they never change a file, not even to recover it.
#[derive(Parser, Debug)]
#[command(name = "redwood", version, about, long_about)]
struct Cli {
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Open the database even if its write-ahead log is missing or emptied, losing the commits
    /// made after the last checkpoint (without it such an open fails with exit code 8 and
    /// changes nothing).
    #[arg(long, global = true)]
    discard_missing_log: bool,
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Create a database at PATH, load keys with a progress bar, run point reads and range
    /// scans, write a restore point, checkpoint, check, and print the figures. A previous demo
    /// database at PATH is replaced; any other file there is left alone.
    Demo {
        /// The database file to create.
        path: PathBuf,
        /// How many keys to load.
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
    },
    /// Store VALUE under KEY in TABLE (creating the database and the table if needed).
    Put {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key (UTF-8).
        key: String,
        /// The value (UTF-8).
        value: String,
    },
    /// Print the value under KEY in TABLE (exit code 1 if there is none).
    Get {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key (UTF-8).
        key: String,
    },
    /// Remove KEY from TABLE (exit code 1 if it was not there).
    Del {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key (UTF-8).
        key: String,
    },
    /// Print the entries of TABLE in key order, streaming.
    Scan {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: String,
        /// Start at this key (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Stop before this key (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Only keys starting with this prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// Print at most this many entries.
        #[arg(long)]
        limit: Option<usize>,
        /// Newest key first: descending order.
        #[arg(long)]
        reverse: bool,
    },
    /// List the tables with their entry counts.
    Tables {
        /// The database file.
        path: PathBuf,
    },
    /// Print the database's statistics: pages, segments, the log, checkpoints.
    Stats {
        /// The database file.
        path: PathBuf,
    },
    /// Run the full integrity check; on damage, name every bad page and exit with code 5.
    Check {
        /// The database file.
        path: PathBuf,
    },
    /// Copy every entry that can still be read out of a damaged database (even one that does
    /// not open) into a new database, and report per table what was recovered and what was
    /// not (page ids, key ranges). The damaged files are never changed. Exit code 5 if
    /// anything could not be recovered.
    Recover {
        /// The damaged database.
        path: PathBuf,
        /// The new database to create (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a consistent snapshot of the database (its last commit) to a new CARv1 archive:
    /// every page content-addressed (CIDv1, sha2-256) under a manifest, verifiable with any CAR
    /// tool. The database is opened read-only.
    Backup {
        /// The database file.
        path: PathBuf,
        /// The archive to create (it must not exist); written as ARCHIVE.partial, then renamed.
        archive: PathBuf,
        /// Write an incremental backup: only the pages this earlier backup (full or
        /// incremental) of the database lacks. A restore then takes the whole chain.
        #[arg(long, value_name = "PREV.car")]
        incremental_from: Option<PathBuf>,
    },
    /// Build a new database from a backup archive, checking every block's hash, every page and
    /// the result's integrity; with --archive, then replay the log archive's commits after the
    /// backup up to a target (--at, --point, --lsn; the newest commit by default). Without a
    /// backup, the log archive alone (when it reaches back to the first commit). A target the
    /// material cannot reach is an error naming the earliest and latest points it can. Nothing
    /// is left at NEW if anything fails.
    Restore {
        /// The new database to create (it must not exist).
        path: PathBuf,
        /// The backup archive (`redwood backup`), or a chain: the full backup, then each
        /// incremental one in the order they were taken.
        #[arg(long, num_args = 1.., required_unless_present = "archive")]
        from: Vec<PathBuf>,
        /// The log archive directory (`DB.archive` beside an archived database).
        #[arg(long, value_name = "DIR")]
        archive: Option<PathBuf>,
        /// Restore to the last commit at or before TIME: `2026-11-24 10:15` (local time),
        /// RFC 3339, `10 minutes ago`, `yesterday 14:00`.
        #[arg(long, value_name = "TIME", conflicts_with_all = ["point", "lsn"])]
        at: Option<String>,
        /// Restore to the commit of this restore point.
        #[arg(long, value_name = "NAME", conflicts_with = "lsn")]
        point: Option<String>,
        /// Restore to every commit up to this LSN of the source.
        #[arg(long, value_name = "N")]
        lsn: Option<u64>,
    },
    /// Named restore points: create one, list them (the log's and those its log archive
    /// `DB.archive` keeps past checkpoints), or build a new database as the database was at one
    /// or at a time.
    #[command(subcommand)]
    RestorePoint(PointCommand),
    /// Serve the live dashboard of the database at PATH (opened read-only) on a web page:
    /// charts of the diagnostics, thrashing pages and alerts, and the top levels of one
    /// table's B+Tree (--table; by default the first table in name order). With --demo, serve
    /// a fresh in-memory database that a teaching workload inserts into, deletes from and
    /// scans, with the demo table's tree drawn and its splits and merges lit up as they
    /// happen. Runs until stopped (Ctrl-C).
    Dashboard {
        /// The database file (not with --demo).
        #[arg(required_unless_present = "demo", conflicts_with = "demo")]
        path: Option<PathBuf>,
        /// Serve a demo database with a teaching workload instead of a file.
        #[arg(long)]
        demo: bool,
        /// The table whose tree the page draws (default: the database's first table in name
        /// order, if it has any; not with --demo, which draws its own table).
        #[arg(long, conflicts_with = "demo")]
        table: Option<String>,
        /// Where to listen. Any address but loopback needs a token (one is generated and
        /// printed if --token is not given).
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// The token every request must present (`?token=T` or `Authorization: Bearer T`).
        #[arg(long)]
        token: Option<String>,
        /// Stop after this many seconds instead of running until killed.
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Copy committed pages from the log into the database file.
    Checkpoint {
        /// The database file.
        path: PathBuf,
        /// How far to go: passive copies what it can; full and truncate also restart the log.
        #[arg(long, value_enum, default_value_t = Mode::Full)]
        mode: Mode,
    },
    /// Rewrite the tables into the lowest free pages and give the space past them back: the
    /// file is cut and emptied segment files are removed.
    Compact {
        /// The database file.
        path: PathBuf,
    },
}

/// `redwood restore-point ...`.
#[derive(Subcommand, Debug)]
enum PointCommand {
    /// Record a restore point named NAME at the database's newest commit.
    Create {
        /// The database file.
        path: PathBuf,
        /// The restore point's name.
        name: String,
    },
    /// List the restore points, oldest first.
    List {
        /// The database file.
        path: PathBuf,
    },
    /// Build a new database (--out) as this one was at restore point NAME, or at --at TIME,
    /// from its log archive (`DB.archive`, on since the database was created). The database
    /// is not changed beyond shipping its log to the archive.
    Apply {
        /// The database file.
        path: PathBuf,
        /// The restore point's name.
        #[arg(required_unless_present = "at", conflicts_with = "at")]
        name: Option<String>,
        /// The time instead: `2026-11-24 10:15` (local time), RFC 3339, `10 minutes ago`,
        /// `yesterday 14:00`.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// The new database to create (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

/// A checkpoint mode as the command line spells it.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum Mode {
    /// Copy what no reader holds back; never wait.
    Passive,
    /// Copy everything, then restart the log if no reader needs it.
    Full,
    /// As full, and shrink the log file to its header.
    Truncate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json);
    let open = commands::Opener { discard_missing_log: cli.discard_missing_log };
    let result = match cli.command {
        Command::Demo { path, keys } => demo::run(&out, &path, keys),
        Command::Put { path, table, key, value } => {
            commands::put(&out, open, &path, &table, &key, &value)
        }
        Command::Get { path, table, key } => commands::get(&out, open, &path, &table, &key),
        Command::Del { path, table, key } => commands::del(&out, open, &path, &table, &key),
        Command::Scan { path, table, from, to, prefix, limit, reverse } => {
            let scan = commands::ScanArgs { from, to, prefix, limit, reverse };
            commands::scan(&out, open, &path, &table, &scan)
        }
        Command::Tables { path } => commands::tables(&out, open, &path),
        Command::Stats { path } => commands::stats(&out, open, &path),
        Command::Check { path } => commands::check(&out, open, &path),
        Command::Recover { path, out: destination } => recover::run(&out, &path, &destination),
        Command::Backup { path, archive, incremental_from } => {
            backup::backup(&out, open, &path, &archive, incremental_from.as_deref())
        }
        Command::Restore { path, from, archive, at, point, lsn } => {
            let target = restore_point::TargetArgs { point, at, lsn };
            if archive.is_none() && target.point.is_none() && target.at.is_none() && lsn.is_none() {
                backup::restore(&out, &path, &from)
            } else {
                restore_point::restore(&out, &path, &from, archive.as_deref(), &target)
            }
        }
        Command::RestorePoint(command) => match command {
            PointCommand::Create { path, name } => restore_point::create(&out, open, &path, &name),
            PointCommand::List { path } => restore_point::list(&out, open, &path),
            PointCommand::Apply { path, name, at, out: destination } => {
                let target = restore_point::TargetArgs { point: name, at, lsn: None };
                restore_point::apply(&out, open, &path, &target, &destination)
            }
        },
        Command::Dashboard { path, demo: _, table, addr, token, seconds } => {
            dashboard::run(&out, dashboard::Args { path, table, addr, token, seconds })
        }
        Command::Checkpoint { path, mode } => {
            let mode = match mode {
                Mode::Passive => redwood::CheckpointMode::Passive,
                Mode::Full => redwood::CheckpointMode::Full,
                Mode::Truncate => redwood::CheckpointMode::Truncate,
            };
            commands::checkpoint(&out, open, &path, mode)
        }
        Command::Compact { path } => commands::compact(&out, open, &path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("redwood: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}
