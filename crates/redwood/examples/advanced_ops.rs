//! Advanced operations (R8): typed tables, several open in one transaction, a multimap index,
//! an aborted transaction, a large value in an overflow chain, a snapshot that keeps seeing the
//! old state while a writer commits, a table rename, a checkpoint and the integrity check.
//!
//! `cargo run -p redwood --example advanced_ops -- [PATH]` (default: in memory).

use redwood::{CheckpointMode, Database, MultimapTableDefinition, Result, TableDefinition};

/// Account name -> balance in cents.
const ACCOUNTS: TableDefinition<&str, u64> = TableDefinition::new("accounts");
/// Account name -> its tags, a sorted set.
const TAGS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("account_tags");
/// Blob name -> bytes.
const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
const MEDIA: TableDefinition<&str, &[u8]> = TableDefinition::new("media");

fn main() -> Result<()> {
    run(std::env::args().nth(1))
}

/// Runs the example on the database at `path`, or in memory (the test suite calls this).
pub fn run(path: Option<String>) -> Result<()> {
    let db = match path {
        Some(path) => Database::create(path)?,
        None => Database::in_memory()?,
    };
    let write = db.begin_write()?;
    {
        // Three tables open at once; the commit makes all of it visible together.
        let (mut accounts, mut tags) =
            (write.open_table(ACCOUNTS)?, write.open_multimap_table(TAGS)?);
        accounts.insert("alice", 10_000)?;
        accounts.insert("bob", 5_000)?;
        tags.insert("alice", "vip")?;
        tags.insert("alice", "early")?;
        tags.insert("bob", "early")?;
        write.open_table(BLOBS)?.insert("photo", vec![7u8; 2 << 20].as_slice())?;
    }
    write.commit()?;

    // A reader pins this state; the transfer below does not disturb it.
    let before = db.begin_read()?;
    let transfer = db.begin_write()?;
    {
        let mut accounts = transfer.open_table(ACCOUNTS)?;
        accounts.insert("alice", 7_000)?;
        accounts.insert("bob", 8_000)?;
    }
    transfer.commit()?;
    let old = before.open_table(ACCOUNTS)?.get("alice")?.map(|cents| cents.value());
    println!("the old snapshot still sees alice = {old:?} cents");
    drop(before);

    let mistaken = db.begin_write()?;
    mistaken.open_table(ACCOUNTS)?.remove("alice")?;
    mistaken.abort();

    let write = db.begin_write()?;
    write.rename_table(BLOBS.name(), MEDIA.name())?;
    write.commit()?;

    let read = db.begin_read()?;
    let accounts = read.open_table(ACCOUNTS)?;
    let cents = |name: &str| accounts.get(name).map(|cents| cents.map(|cents| cents.value()));
    println!("alice = {:?}, bob = {:?} cents", cents("alice")?, cents("bob")?);
    let alice_tags: Vec<String> = read
        .open_multimap_table(TAGS)?
        .get("alice")?
        .map(|tag| tag.map(|tag| tag.value().to_owned()))
        .collect::<Result<_>>()?;
    println!("alice's tags, sorted: {alice_tags:?}");
    let photo_bytes = read.open_table(MEDIA)?.get("photo")?.map_or(0, |photo| photo.value().len());
    println!("tables {:?}; the photo is {photo_bytes} bytes", read.list_tables()?);
    // A table pins pages of its transaction's snapshot: it goes before the transaction does.
    drop(accounts);
    drop(read);
    let outcome = db.checkpoint(CheckpointMode::Truncate)?;
    db.check_integrity()?;
    println!("checkpointed {} pages; integrity check passed", outcome.pages_written);
    Ok(())
}
