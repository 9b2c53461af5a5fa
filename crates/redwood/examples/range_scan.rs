//! A streaming range scan (R8): 100,000 entries, scanned forwards and backwards between bounds
//! with memory bounded by the tree's height, whatever the range's size.
//!
//! `cargo run -p redwood --example range_scan`

use redwood::{Database, Result};

fn main() -> Result<()> {
    run()
}

/// Runs the example (the test suite calls this).
pub fn run() -> Result<()> {
    let db = Database::in_memory()?;
    let write = db.begin_write()?;
    {
        let mut events = write.open_table("events")?;
        for second in 0..100_000u32 {
            events.insert(format!("2026-11-24T{:05}", second).as_bytes(), second.to_le_bytes())?;
        }
    }
    write.commit()?;
    let read = db.begin_read()?;
    let events = read.open_table("events")?;
    let window = b"2026-11-24T01000".as_slice()..b"2026-11-24T01010".as_slice();
    for entry in events.range(window.clone()) {
        let (key, _) = entry?;
        println!("forward  {}", String::from_utf8_lossy(&key));
    }
    for entry in events.range(window).rev().take(3) {
        let (key, _) = entry?;
        println!("backward {}", String::from_utf8_lossy(&key));
    }
    let total = events.range(..).count();
    println!("{total} entries in all, streamed leaf by leaf");
    Ok(())
}
