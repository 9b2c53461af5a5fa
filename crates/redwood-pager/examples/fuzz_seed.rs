//! Writes a seed for the `open_database` fuzz target: a small valid database with 8-page
//! segments (two segment files, allocated, freed and rooted pages), in the target's input layout
//! (u32 LE base length, base file, first segment file). Usage: `fuzz_seed OUTPUT`.

use std::path::Path;
use std::sync::Arc;

use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{Lsn, PageBuf, PageFile, PageFileOptions, PageType, Result};

fn main() -> Result<()> {
    let output = std::env::args().nth(1).expect("usage: fuzz_seed OUTPUT");
    let seed = seed()?;
    std::fs::write(&output, &seed).expect("write the seed");
    println!("wrote {} bytes to {output}", seed.len());
    Ok(())
}

/// The seed's bytes (the test suite checks they match `fuzz/seeds/open_database/`).
pub fn seed() -> Result<Vec<u8>> {
    let vfs = MemVfs::new();
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let options = PageFileOptions {
        segment_pages: 8,
        database_id: Some(1),
        log_salt: Some(1),
        ..Default::default()
    };
    let mut file = PageFile::create(shared, Path::new("db"), &options)?;
    let pages: Vec<_> = (0..6).map(|_| file.allocate()).collect::<Result<_>>()?;
    for &page_id in &pages {
        let mut page = PageBuf::zeroed(file.page_size());
        page.body_mut()[..8].copy_from_slice(&page_id.get().to_le_bytes());
        page.seal(page_id, PageType::user(16).expect("user type"), Lsn::new(7));
        file.write_page(&page)?;
    }
    file.free(pages[1])?;
    file.set_root(0, Some(pages[0]))?;
    file.sync()?;
    let image = vfs.image();
    let base = &image[Path::new("db")];
    let mut seed = (base.len() as u32).to_le_bytes().to_vec();
    seed.extend_from_slice(base);
    seed.extend_from_slice(&image[Path::new("db.seg1")]);
    Ok(seed)
}
