//! Advanced operations (R8): several tables in one transaction, an aborted transaction, a large
//! value in an overflow chain, a snapshot that keeps seeing the old state while a writer commits,
//! a table rename, a checkpoint and the integrity check.
//!
//! `cargo run -p redwood --example advanced_ops -- [PATH]` (default: in memory).

use redwood::{CheckpointMode, Database, Result};

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
        let mut accounts = write.open_table("accounts")?;
        accounts.insert(b"alice", b"100")?;
        accounts.insert(b"bob", b"50")?;
    }
    write.open_table("blobs")?.insert(b"photo", vec![7u8; 2 << 20])?;
    write.commit()?;

    // A reader pins this state; the transfer below does not disturb it.
    let before = db.begin_read()?;
    let transfer = db.begin_write()?;
    {
        let mut accounts = transfer.open_table("accounts")?;
        accounts.insert(b"alice", b"70")?;
        accounts.insert(b"bob", b"80")?;
    }
    transfer.commit()?;
    let old = before.open_table("accounts")?.get(b"alice")?.map(|value| value.to_vec());
    println!(
        "the old snapshot still sees alice = {}",
        String::from_utf8_lossy(&old.unwrap_or_default())
    );
    drop(before);

    let mistaken = db.begin_write()?;
    mistaken.open_table("accounts")?.remove(b"alice")?;
    mistaken.abort();

    let write = db.begin_write()?;
    write.rename_table("blobs", "media")?;
    write.commit()?;

    let read = db.begin_read()?;
    let accounts = read.open_table("accounts")?;
    println!(
        "alice = {:?}, bob = {:?}",
        accounts.get(b"alice")?.map(|value| String::from_utf8(value.to_vec())),
        accounts.get(b"bob")?.map(|value| String::from_utf8(value.to_vec()))
    );
    let photo_bytes = read.open_table("media")?.get(b"photo")?.map_or(0, |photo| photo.len());
    println!("tables {:?}; the photo is {photo_bytes} bytes", read.list_tables()?);
    // A table pins pages of its transaction's snapshot: it goes before the transaction does.
    drop(accounts);
    drop(read);
    let outcome = db.checkpoint(CheckpointMode::Truncate)?;
    db.check_integrity()?;
    println!("checkpointed {} pages; integrity check passed", outcome.pages_written);
    Ok(())
}
