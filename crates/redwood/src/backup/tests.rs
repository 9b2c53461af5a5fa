//! Archives crafted byte by byte, for what a backup never writes but an archive may hold: page
//! ids past any sane file, page maps out of order, a page block under another page's id.

use cid::Cid;

use super::BackupError;
use super::car::{CarWriter, RAW, cid_of};
use super::manifest::{self, FORMAT, Manifest, PageMap, VERSION};
use crate::{Database, Error};

/// An archive of `pages` (id, bytes), mapped as `map` says (ids and CIDs), built as a backup would.
fn archive(map: &[(u64, Cid)], blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let pairs: PageMap = map.to_vec();
    let (map_cid, map_bytes) = manifest::encode(&pairs, "page map").unwrap();
    let manifest = Manifest {
        pages: map.len() as u64,
        roots: vec![None; redwood_pager::limits::ROOT_SLOTS],
        format: FORMAT.to_owned(),
        parent: None,
        version: VERSION,
        page_maps: vec![map_cid],
        page_size: 4096,
        commit_lsn: 1,
        segment_pages: 64,
        taken_at_unix_ms: 0,
    };
    let (root, manifest_bytes) = manifest::encode(&manifest, "manifest").unwrap();
    let mut out = Vec::new();
    let mut car = CarWriter::new(&mut out, root).unwrap();
    car.block(&root, &manifest_bytes).unwrap();
    car.block(&map_cid, &map_bytes).unwrap();
    for (cid, bytes) in blocks {
        car.block(cid, bytes).unwrap();
    }
    car.finish().unwrap();
    out
}

/// A real page of a database: its id and bytes.
fn a_page() -> (u64, Vec<u8>) {
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    write.open_table("t").unwrap().insert(b"k", b"v").unwrap();
    write.commit().unwrap();
    let read = db.pager.begin_read().unwrap();
    let root = redwood_pager::PageRead::root(&read, 0).unwrap();
    let bytes = redwood_pager::PageRead::read_page(&read, root).unwrap().as_bytes().to_vec();
    (root.get(), bytes)
}

fn refused(archive: &[u8], says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.redwood");
    match super::restore_backup(archive, &target, |_, _| {}) {
        Err(Error::Backup(BackupError::Malformed(reason))) => {
            assert!(reason.contains(says), "{reason}")
        }
        other => panic!("expected a malformed backup ({says}), got {other:?}"),
    }
    let left = redwood_pager::io::best_vfs().list(dir.path()).unwrap();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

#[test]
fn a_page_id_past_the_segment_bound_is_refused_before_any_file() {
    let (_, bytes) = a_page();
    let cid = cid_of(RAW, &bytes);
    let far = 64 * super::manifest::RESTORE_SEGMENTS_MAX + 3;
    refused(&archive(&[(far, cid)], &[(cid, bytes)]), "segments a restore creates");
}

#[test]
fn page_maps_out_of_order_and_pages_under_another_id_are_refused() {
    let (id, bytes) = a_page();
    let cid = cid_of(RAW, &bytes);
    let other = cid_of(RAW, b"another");
    refused(&archive(&[(id + 1, other), (id, cid)], &[(cid, bytes.clone())]), "ascending");
    // The page's header says `id`; the map puts it at `id + 1`.
    refused(&archive(&[(id + 1, cid)], &[(cid, bytes.clone())]), "block");
    // A page block that no map lists.
    refused(
        &archive(&[(id, cid)], &[(cid, bytes), (other, b"another".to_vec())]),
        "in no page map",
    );
}
