//! Structure-aware damage (issue 15): a valid database whose B+Tree node and overflow chain
//! pages are mutated and then re-sealed, so the damage gets past the checksums, and then driven
//! through reads, writes, removes, scans, table deletions, commits, checkpoints and the full
//! integrity check. Only typed errors may come back: a panic, a hang or an unbounded allocation
//! is a bug. The fuzz target `mutated_pages` feeds [`run`] libFuzzer's bytes; the test
//! `tests/mutate.rs` (and so CI) feeds it seeded random inputs.
//!
//! Input layout: a byte `n` (mutations: `n % 9`), then `n` mutations of 6 bytes each (see
//! `Mutation::decode`), then operations, one opcode byte and its operands each (see
//! `Op::decode`), at most [`OPS_MAX`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use redwood::{CheckpointMode, Database};
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{PageId, page_checksum};

/// The database's name in its in-memory file system.
const DATABASE: &str = "mutated.redwood";
/// The fixture's tables and how many keys each gets.
const TABLES: [(&str, u32); 3] = [("small", 320), ("large", 6), ("mixed", 60)];
/// Pages per segment file of the fixture.
const SEGMENT_PAGES: u64 = 64;
/// The most operations one input runs, and the most entries one scan takes.
pub const OPS_MAX: usize = 24;
const SCAN_ENTRIES_MAX: usize = 256;
/// Page types the mutations aim at: B+Tree leaves and interior nodes, overflow chain pages.
const TARGET_TYPES: [u8; 3] = [16, 17, 20];

/// The valid database every input starts from: its files, and the pages worth damaging.
struct Fixture {
    image: BTreeMap<PathBuf, Vec<u8>>,
    /// The node and chain pages.
    targets: Vec<Target>,
    page_bytes: usize,
}

/// A page worth damaging: which file, its id, its byte offset in that file.
struct Target {
    path: PathBuf,
    page_id: PageId,
    at: usize,
}

/// Which segment a file of the database is: 0 for the main file, N for `NAME.segN`.
fn segment_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?.strip_prefix(DATABASE)?;
    match name {
        "" => Some(0),
        _ => name.strip_prefix(".seg")?.parse().ok(),
    }
}

/// Key `index` of the fixture's tables.
fn key(index: u32) -> Vec<u8> {
    format!("key{index:06}").into_bytes()
}

/// The fixture's value under key `index` of table `table`: small, inline, or long enough for a
/// chain of a few pages.
fn value(table: usize, index: u32) -> Vec<u8> {
    let length = match table {
        0 => 20 + (index % 40) as usize,
        1 => 600 + (index as usize * 997) % 9000,
        _ if index.is_multiple_of(7) => 5000,
        _ => 100,
    };
    vec![(index % 251) as u8; length]
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| build_fixture().expect("the fixture database builds"))
}

fn build_fixture() -> redwood::Result<Fixture> {
    let memory = MemVfs::new();
    let vfs: Arc<dyn Vfs> = Arc::new(memory.clone());
    // Small segments: the free-space map of each is one page, so opening is cheap (and the
    // fixture spans several segment files).
    let db = Database::builder()
        .auto_checkpoint(redwood::AutoCheckpoint::OnCommit)
        .cache_bytes(64 * 4096)
        .segment_pages(SEGMENT_PAGES)
        .create_in(vfs, DATABASE)?;
    let write = db.begin_write()?;
    for (table_index, (name, keys)) in TABLES.iter().enumerate() {
        let mut table = write.open_table(name)?;
        for index in 0..*keys {
            table.insert(key(index), value(table_index, index))?;
        }
    }
    write.commit()?;
    // Some removes, so nodes have free space and fragmentation, then everything into the file.
    let write = db.begin_write()?;
    let mut table = write.open_table(TABLES[0].0)?;
    for index in (0..TABLES[0].1).step_by(5) {
        table.remove(key(index))?;
    }
    write.commit()?;
    db.close()?;
    let image = memory.image();
    let page_bytes = 4096;
    let mut targets = Vec::new();
    for (path, bytes) in &image {
        let Some(segment) = segment_of(path) else { continue };
        for (index, page) in bytes.chunks_exact(page_bytes).enumerate() {
            if TARGET_TYPES.contains(&page[4]) {
                let page_id = PageId::new(segment * SEGMENT_PAGES + index as u64);
                targets.push(Target { path: path.clone(), page_id, at: index * page_bytes });
            }
        }
    }
    Ok(Fixture { image, targets, page_bytes })
}

/// One change to one target page.
#[derive(Clone, Copy, Debug)]
struct Mutation {
    /// Which target page (modulo their number).
    target: u16,
    /// Where in the page (modulo the page size; the checksum field is skipped).
    offset: u16,
    /// What to write there.
    kind: u8,
    /// The operand.
    operand: u8,
}

impl Mutation {
    /// Six bytes: target (2), offset (2), kind, operand.
    fn decode(input: &mut &[u8]) -> Option<Mutation> {
        let bytes = take_n(input, 6)?;
        Some(Mutation {
            target: u16::from_le_bytes([bytes[0], bytes[1]]),
            offset: u16::from_le_bytes([bytes[2], bytes[3]]),
            kind: bytes[4],
            operand: bytes[5],
        })
    }

    /// Applies the change to `page` (which is page `page_id`).
    fn apply(self, page: &mut [u8], page_id: PageId, targets: &[Target]) {
        let offset = 4 + usize::from(self.offset) % (page.len() - 4);
        let write = |page: &mut [u8], bytes: &[u8]| {
            let end = (offset + bytes.len()).min(page.len());
            page[offset..end].copy_from_slice(&bytes[..end - offset]);
        };
        let other_target = targets[usize::from(self.operand) % targets.len()].page_id.get();
        match self.kind % 8 {
            0 => page[offset] ^= 1 << (self.operand % 8),
            1 => page[offset] = self.operand,
            2 => write(page, &u16::from(self.operand).to_le_bytes()),
            3 => write(page, &(u16::MAX - u16::from(self.operand)).to_le_bytes()),
            // Page ids: this page itself, another node or chain page, nothing, out of range.
            4 => write(page, &page_id.get().to_le_bytes()),
            5 => write(page, &other_target.to_le_bytes()),
            6 => write(page, &(u64::MAX - u64::from(self.operand)).to_le_bytes()),
            _ => write(page, &(1u64 << (self.operand % 64)).to_le_bytes()),
        }
    }
}

/// One operation on the damaged database.
#[derive(Clone, Copy, Debug)]
enum Op {
    Get { table: u8, key: u32 },
    Scan { table: u8, from: u32, reverse: bool },
    Insert { table: u8, key: u32, value_bytes: u16 },
    Remove { table: u8, key: u32 },
    DeleteTable { table: u8 },
    ListTables,
    Commit,
    Abort,
    Checkpoint,
    Check,
}

impl Op {
    /// An opcode byte, then (for keyed operations) a table byte and two key bytes, and for
    /// inserts two length bytes.
    fn decode(input: &mut &[u8]) -> Option<Op> {
        let opcode = take_n(input, 1)?[0];
        let mut keyed = || {
            let bytes = take_n(input, 3)?;
            Some((bytes[0], u32::from(u16::from_le_bytes([bytes[1], bytes[2]])) % 1400))
        };
        Some(match opcode % 16 {
            0..=2 => keyed().map(|(table, key)| Op::Get { table, key })?,
            3 | 4 => {
                keyed().map(|(table, from)| Op::Scan { table, from, reverse: opcode & 16 != 0 })?
            }
            5..=7 => {
                let (table, key) = keyed()?;
                let length = take_n(input, 2)?;
                Op::Insert { table, key, value_bytes: u16::from_le_bytes([length[0], length[1]]) }
            }
            8 | 9 => keyed().map(|(table, key)| Op::Remove { table, key })?,
            10 => Op::DeleteTable { table: take_n(input, 1)?[0] },
            11 => Op::ListTables,
            12 => Op::Commit,
            13 => Op::Abort,
            14 => Op::Checkpoint,
            _ => Op::Check,
        })
    }
}

fn take_n<'a>(input: &mut &'a [u8], count: usize) -> Option<&'a [u8]> {
    if input.len() < count {
        return None;
    }
    let (head, rest) = input.split_at(count);
    *input = rest;
    Some(head)
}

fn table_name(table: u8) -> &'static str {
    TABLES[usize::from(table) % TABLES.len()].0
}

/// What one input did, for the tests' statistics: how many calls ended in a corruption error,
/// in another error, or in success.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Pages mutated (and re-sealed).
    pub mutated: u64,
    /// Calls that returned a corruption error.
    pub corrupt: u64,
    /// Calls that returned another error.
    pub other_errors: u64,
    /// Calls that succeeded.
    pub ok: u64,
}

impl Outcome {
    fn count<T>(&mut self, result: &redwood::Result<T>) {
        match result {
            Ok(_) => self.ok += 1,
            Err(error) if error.is_corruption() => self.corrupt += 1,
            Err(_) => self.other_errors += 1,
        }
    }
}

/// Damages the fixture as `input` says, opens it and runs the operations. Returns what the calls
/// gave; a panic inside is the bug this looks for.
pub fn run(input: &[u8]) -> Outcome {
    let fixture = fixture();
    let mut input = input;
    let mut outcome = Outcome::default();
    let Some(count) = take_n(&mut input, 1).map(|count| count[0] % 9) else { return outcome };
    let mut image = fixture.image.clone();
    for _ in 0..count {
        let Some(mutation) = Mutation::decode(&mut input) else { break };
        let target = &fixture.targets[usize::from(mutation.target) % fixture.targets.len()];
        let file = image.get_mut(&target.path).expect("the target's file is in the image");
        let (page_id, page) =
            (target.page_id, &mut file[target.at..target.at + fixture.page_bytes]);
        mutation.apply(page, page_id, &fixture.targets);
        let checksum = page_checksum(page_id, page);
        page[..4].copy_from_slice(&checksum.to_le_bytes());
        outcome.mutated += 1;
    }
    let memory = MemVfs::new();
    for (path, bytes) in &image {
        let file = memory.create(path).expect("a new in-memory file");
        file.write_at(0, bytes).expect("an in-memory write");
    }
    let vfs: Arc<dyn Vfs> = Arc::new(memory);
    // Commits unsynced: nothing here survives a crash anyway, and a durable small commit
    // writes a mebibyte of zeros ahead (ADR-9), which would dominate each run.
    let opened = Database::builder()
        .auto_checkpoint(redwood::AutoCheckpoint::OnCommit)
        .cache_bytes(16 * 4096)
        .durability(redwood::Durability::None)
        .create_in(vfs, DATABASE);
    outcome.count(&opened);
    let Ok(db) = opened else { return outcome };
    let mut ops = Vec::new();
    while ops.len() < OPS_MAX {
        let Some(op) = Op::decode(&mut input) else { break };
        ops.push(op);
    }
    drive(&db, &ops, &mut outcome);
    outcome
}

/// Runs `ops` in write transactions (a commit, abort or checkpoint ends one), reading through
/// the open transaction and through read transactions alike.
fn drive(db: &Database, ops: &[Op], outcome: &mut Outcome) {
    let mut write = None;
    for op in ops {
        if write.is_none() {
            let begun = db.begin_write();
            outcome.count(&begun);
            write = begun.ok();
        }
        let Some(txn) = write.as_mut() else { return };
        match *op {
            Op::Get { table, key: index } => {
                let read = db.begin_read().and_then(|read| {
                    Ok(read.open_table(table_name(table))?.get(key(index))?.is_some())
                });
                outcome.count(&read);
                let got = txn
                    .open_table(table_name(table))
                    .and_then(|t| Ok(t.get(key(index))?.is_some()));
                outcome.count(&got);
            }
            Op::Scan { table, from, reverse } => {
                let from = key(from);
                let scanned = txn.open_table(table_name(table)).and_then(|t| {
                    let range = t.range(from.as_slice()..);
                    let entries: Box<dyn Iterator<Item = _>> =
                        if reverse { Box::new(range.rev()) } else { Box::new(range) };
                    entries.take(SCAN_ENTRIES_MAX).try_for_each(|entry| entry.map(drop))
                });
                outcome.count(&scanned);
            }
            Op::Insert { table, key: index, value_bytes } => {
                let value = vec![0x5a; usize::from(value_bytes) % 12_000];
                let inserted = txn
                    .open_table(table_name(table))
                    .and_then(|mut t| t.insert(key(index), &value));
                outcome.count(&inserted);
            }
            Op::Remove { table, key: index } => {
                let removed =
                    txn.open_table(table_name(table)).and_then(|mut t| t.remove(key(index)));
                outcome.count(&removed);
            }
            Op::DeleteTable { table } => outcome.count(&txn.delete_table(table_name(table))),
            Op::ListTables => outcome.count(&txn.list_tables()),
            Op::Commit => outcome.count(&write.take().expect("open").commit()),
            Op::Abort => write.take().expect("open").abort(),
            Op::Checkpoint => {
                outcome.count(&write.take().expect("open").commit());
                outcome.count(&db.checkpoint(CheckpointMode::Truncate));
            }
            Op::Check => {
                drop(write.take());
                outcome.count(&db.check_report(|_, _| {}));
            }
        }
    }
    drop(write);
    outcome.count(&db.check_report(|_, _| {}));
}

/// A seed input for the fuzz corpus and the tests: `mutations` mutations and a mix of
/// operations, all from `seed` (a splitmix64 stream, so no dependency is needed).
pub fn seeded_input(seed: u64, mutations: u8) -> Vec<u8> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (mixed ^ (mixed >> 31)) as u8
    };
    let mut input = vec![mutations];
    input.extend((0..6 * usize::from(mutations) + 4 * OPS_MAX).map(|_| next()));
    input
}
