//! One conformance suite for the `Storage` and `Vfs` contracts, run against every backend, so a
//! backend that passes can stand in for any other under the pager.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use redwood_pager::io::{MemVfs, OsVfs, UNBUFFERED_ALIGN_BYTES, Vfs};

/// Runs every contract check against `vfs`, with files named inside `dir`.
pub fn check_vfs(vfs: &dyn Vfs, dir: &Path) {
    reads_and_writes_at_offsets(vfs, dir);
    short_reads_fail_with_unexpected_eof(vfs, dir);
    set_len_truncates_and_extends_with_zeros(vfs, dir);
    namespace_operations(vfs, dir);
    removed_files_keep_working_through_open_handles(vfs, dir);
    read_many_reads_like_read_at(vfs, dir);
    a_lock_excludes_other_handles_until_dropped(vfs, dir);
    an_unbuffered_file_takes_aligned_writes_and_is_cut_to_its_length(vfs, dir);
}

/// `create_unbuffered`: aligned writes from an aligned buffer, zeros past the wanted end, then
/// `set_len` to it; the file then reads back (through another handle) as written.
fn an_unbuffered_file_takes_aligned_writes_and_is_cut_to_its_length(vfs: &dyn Vfs, dir: &Path) {
    let align = UNBUFFERED_ALIGN_BYTES;
    let path = dir.join("unbuffered");
    let mut storage = vec![0u8; 4 * align];
    let start = storage.as_ptr().align_offset(align);
    let buf = &mut storage[start..start + 3 * align];
    let wanted: Vec<u8> = (0..2 * align + 1000).map(|index| (index % 253) as u8).collect();
    buf[..wanted.len()].copy_from_slice(&wanted);
    let file = vfs.create_unbuffered(&path).unwrap();
    // The second block first: the writes land at their offsets in any order.
    file.write_at(align as u64, &buf[align..]).unwrap();
    file.write_at(0, &buf[..align]).unwrap();
    file.set_len(wanted.len() as u64).unwrap();
    file.sync_data().unwrap();
    assert_eq!(file.len().unwrap(), wanted.len() as u64);
    drop(file);
    let reopened = vfs.open(&path).unwrap();
    let mut back = vec![0; wanted.len()];
    reopened.read_at(0, &mut back).unwrap();
    assert_eq!(back, wanted, "the unbuffered writes read back");
    let again = vfs.create_unbuffered(&path).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AlreadyExists, "it never replaces a file");
}

fn a_lock_excludes_other_handles_until_dropped(vfs: &dyn Vfs, dir: &Path) {
    let path = dir.join("locked");
    let first = vfs.create(&path).unwrap();
    let second = vfs.open(&path).unwrap();
    assert!(first.try_lock().unwrap(), "an unlocked file locks");
    assert!(first.try_lock().unwrap(), "the holder may ask again");
    assert!(!second.try_lock().unwrap(), "another handle is refused");
    let other = vfs.create(&dir.join("unrelated")).unwrap();
    assert!(other.try_lock().unwrap(), "locks are per file");
    drop(first);
    assert!(second.try_lock().unwrap(), "the lock goes with its handle");
    let third = vfs.open(&path).unwrap();
    assert!(!third.try_lock().unwrap());
}

fn read_many_reads_like_read_at(vfs: &dyn Vfs, dir: &Path) {
    let file = vfs.create(&dir.join("many")).unwrap();
    let bytes: Vec<u8> = (0..200_000u32).map(|index| (index % 251) as u8).collect();
    file.write_at(0, &bytes).unwrap();
    // More requests than one io_uring batch, of odd sizes and offsets.
    let ranges: Vec<(u64, usize)> =
        (0..70).map(|index| (index * 2711 % 190_000, 1 + (index as usize * 97) % 9000)).collect();
    let mut buffers: Vec<Vec<u8>> = ranges.iter().map(|&(_, length)| vec![0; length]).collect();
    let mut requests: Vec<(u64, &mut [u8])> = ranges
        .iter()
        .zip(buffers.iter_mut())
        .map(|(&(offset, _), buf)| (offset, buf.as_mut_slice()))
        .collect();
    file.read_many(&mut requests).unwrap();
    for (&(offset, length), buf) in ranges.iter().zip(&buffers) {
        let offset = offset as usize;
        assert_eq!(buf.as_slice(), &bytes[offset..offset + length], "read_many at {offset}");
    }
    let mut past = [0u8; 10];
    let mut requests = [(0u64, &mut past[..]), (199_995, &mut [0u8; 10][..])];
    let error = file.read_many(&mut requests).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "a short read never succeeds");
}

fn reads_and_writes_at_offsets(vfs: &dyn Vfs, dir: &Path) {
    let path = dir.join("rw");
    let file = vfs.create(&path).unwrap();
    assert_eq!(file.len().unwrap(), 0);
    file.write_at(10, b"hello").unwrap();
    assert_eq!(file.len().unwrap(), 15, "a write past the end extends the file");
    let mut buf = [0xffu8; 15];
    file.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\0\0\0\0\0\0\0hello", "the gap reads as zeros");
    file.write_at(12, b"LL").unwrap();
    let mut word = [0u8; 5];
    file.read_at(10, &mut word).unwrap();
    assert_eq!(&word, b"heLLo");
    file.sync_data().unwrap();
    let reopened = vfs.open(&path).unwrap();
    reopened.read_at(10, &mut word).unwrap();
    assert_eq!(&word, b"heLLo", "another handle sees completed writes");
    file.read_at(15, &mut []).unwrap();
}

fn short_reads_fail_with_unexpected_eof(vfs: &dyn Vfs, dir: &Path) {
    let file = vfs.create(&dir.join("short")).unwrap();
    file.write_at(0, &[1; 100]).unwrap();
    let mut buf = [0u8; 10];
    let error = file.read_at(95, &mut buf).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
    let error = file.read_at(1 << 40, &mut buf).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
}

fn set_len_truncates_and_extends_with_zeros(vfs: &dyn Vfs, dir: &Path) {
    let file = vfs.create(&dir.join("len")).unwrap();
    file.write_at(0, &[7; 64]).unwrap();
    file.set_len(16).unwrap();
    assert_eq!(file.len().unwrap(), 16);
    file.set_len(32).unwrap();
    let mut buf = [0xffu8; 32];
    file.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..16], &[7; 16]);
    assert_eq!(&buf[16..], &[0; 16], "bytes cut and regrown read as zeros");
    file.sync_data().unwrap();
}

fn namespace_operations(vfs: &dyn Vfs, dir: &Path) {
    let (a, b) = (dir.join("a"), dir.join("b"));
    assert_eq!(vfs.open(&a).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(!vfs.exists(&a).unwrap());
    vfs.create(&a).unwrap().write_at(0, b"A").unwrap();
    assert_eq!(vfs.create(&a).unwrap_err().kind(), ErrorKind::AlreadyExists);
    vfs.create(&b).unwrap().write_at(0, b"B").unwrap();
    vfs.rename(&a, &b).unwrap();
    assert!(!vfs.exists(&a).unwrap());
    let mut byte = [0u8];
    vfs.open(&b).unwrap().read_at(0, &mut byte).unwrap();
    assert_eq!(&byte, b"A", "rename replaces the target");
    let listed: Vec<PathBuf> = vfs.list(dir).unwrap();
    assert!(listed.contains(&b) && !listed.contains(&a));
    assert!(listed.windows(2).all(|pair| pair[0] < pair[1]), "list is sorted");
    vfs.sync_dir(dir).unwrap();
    vfs.remove(&b).unwrap();
    assert_eq!(vfs.remove(&b).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(vfs.rename(&a, &b).unwrap_err().kind(), ErrorKind::NotFound);
    vfs.sync_dir(dir).unwrap();
}

fn removed_files_keep_working_through_open_handles(vfs: &dyn Vfs, dir: &Path) {
    let path = dir.join("gone");
    let file = vfs.create(&path).unwrap();
    vfs.remove(&path).unwrap();
    file.write_at(0, b"still here").unwrap();
    let mut buf = [0u8; 10];
    file.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"still here");
}

#[test]
fn os_vfs_conforms() {
    let dir = tempfile::tempdir().unwrap();
    check_vfs(&OsVfs::new(), dir.path());
}

#[test]
fn mem_vfs_conforms() {
    let vfs = MemVfs::new();
    check_vfs(&vfs, Path::new("memdir"));
    assert!(vfs.list(Path::new("elsewhere")).unwrap().is_empty());
}

#[cfg(all(feature = "io-uring", target_os = "linux"))]
#[test]
fn uring_vfs_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = redwood_pager::io::UringVfs::new().expect("io_uring works on this machine");
    check_vfs(&vfs, dir.path());
}
