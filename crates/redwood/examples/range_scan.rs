//! A streaming range scan (R8): 100,000 entries keyed by (day, second), scanned forwards and
//! backwards between bounds with memory bounded by the tree's height, whatever the range's size;
//! and a keys-only scan that never reads a value.
//!
//! `cargo run -p redwood --example range_scan`

use redwood::{Database, Result, TableDefinition};

/// (day, second of the day) -> a reading.
const EVENTS: TableDefinition<(u16, u32), u64> = TableDefinition::new("events");

fn main() -> Result<()> {
    run()
}

/// Runs the example (the test suite calls this).
pub fn run() -> Result<()> {
    let db = Database::in_memory()?;
    let write = db.begin_write()?;
    {
        let mut events = write.open_table(EVENTS)?;
        for index in 0..100_000u32 {
            let (day, second) = (328 + (index / 86_400) as u16, index % 86_400);
            events.insert((day, second), u64::from(index) * 3)?;
        }
    }
    write.commit()?;
    let read = db.begin_read()?;
    let events = read.open_table(EVENTS)?;
    let window = (328, 1_000)..(328, 1_010);
    for entry in events.range(window.clone()) {
        let (key, reading) = entry?;
        let (day, second) = key.value();
        println!("forward  day {day} second {second}: {}", reading.value());
    }
    for key in events.keys(window).rev().take(3) {
        let (day, second) = key?.value();
        println!("backward day {day} second {second}");
    }
    let next_day = events.range((329, 0)..).count();
    let total = events.range(..).count();
    println!("{total} entries in all ({next_day} on day 329), streamed leaf by leaf");
    Ok(())
}
