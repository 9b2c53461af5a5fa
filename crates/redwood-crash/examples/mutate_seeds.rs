//! Writes the seed corpus of the `mutated_pages` fuzz target: inputs with 1 to 8 page mutations
//! and a full run of operations each (`redwood_crash::mutate::seeded_input`). Usage:
//! `mutate_seeds DIR` (the committed seeds are `fuzz/seeds/mutated_pages/`).

use std::path::Path;

/// The seeds: (file name, bytes).
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    (1..=8u8)
        .map(|mutations| {
            let name = format!("mutations_{mutations}");
            (name, redwood_crash::mutate::seeded_input(u64::from(mutations) * 7919, mutations))
        })
        .collect()
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: mutate_seeds DIR");
    for (name, bytes) in seeds() {
        let path = Path::new(&dir).join(&name);
        std::fs::write(&path, bytes).expect("write a seed");
        println!("wrote {}", path.display());
    }
}
