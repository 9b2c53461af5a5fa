//! Payloads of commit and restore-point frames: what a transaction changed besides page images
//! (the allocation delta and the meta fields, see docs/DECISIONS.md ADR-2), and named markers.

use redwood_pager::limits::ROOT_SLOTS;
use redwood_pager::{Lsn, PageId, RestorePoint, TransactionChanges};

use crate::limits::RESTORE_POINT_NAME_MAX_BYTES;

/// A commit frame's payload: where the transaction began, how much of the log was durable, and
/// what it changed.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CommitRecord {
    /// LSN of the transaction's first frame (earlier frames without a commit are ignored).
    pub first_lsn: Lsn,
    /// Every frame up to this LSN had been fsynced when the commit was appended.
    pub durable_lsn: Lsn,
    /// What the transaction changed besides page images.
    pub changes: TransactionChanges,
}

/// Fixed bytes of a commit record before its page-id lists.
const COMMIT_FIXED_BYTES: usize = 8 * 4 + 8 * ROOT_SLOTS + 4 + 4;

fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(offset..offset + 8)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(offset..offset + 4)?.try_into().ok()?))
}

impl CommitRecord {
    /// The record's payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let changes = &self.changes;
        let lists = changes.allocated.len() + changes.freed.len();
        let mut bytes = Vec::with_capacity(COMMIT_FIXED_BYTES + 8 * lists);
        let fixed = [
            self.first_lsn.get(),
            self.durable_lsn.get(),
            changes.timestamp_ms,
            changes.page_count,
        ];
        for value in fixed {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        for root in changes.roots {
            bytes.extend_from_slice(&root.map_or(0, PageId::get).to_le_bytes());
        }
        let count = |list: &Vec<PageId>| u32::try_from(list.len()).expect("checked by the caller");
        bytes.extend_from_slice(&count(&changes.allocated).to_le_bytes());
        bytes.extend_from_slice(&count(&changes.freed).to_le_bytes());
        for page_id in changes.allocated.iter().chain(&changes.freed) {
            bytes.extend_from_slice(&page_id.get().to_le_bytes());
        }
        bytes
    }

    /// Decodes a payload; `None` if its lengths do not add up.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut roots = [None; ROOT_SLOTS];
        for (slot, root) in roots.iter_mut().enumerate() {
            let raw = u64_at(bytes, 32 + 8 * slot)?;
            *root = (raw != 0).then_some(PageId::new(raw));
        }
        let allocated_count = u32_at(bytes, 32 + 8 * ROOT_SLOTS)? as usize;
        let freed_count = u32_at(bytes, 36 + 8 * ROOT_SLOTS)? as usize;
        if bytes.len() != COMMIT_FIXED_BYTES + 8 * (allocated_count + freed_count) {
            return None;
        }
        let page_at =
            |index: usize| PageId::new(u64_at(bytes, COMMIT_FIXED_BYTES + 8 * index).unwrap_or(0));
        let changes = TransactionChanges {
            timestamp_ms: u64_at(bytes, 16)?,
            page_count: u64_at(bytes, 24)?,
            roots,
            allocated: (0..allocated_count).map(page_at).collect(),
            freed: (allocated_count..allocated_count + freed_count).map(page_at).collect(),
        };
        let first_lsn = Lsn::new(u64_at(bytes, 0)?);
        Some(CommitRecord { first_lsn, durable_lsn: Lsn::new(u64_at(bytes, 8)?), changes })
    }
}

/// Bytes a commit record carrying `changes` takes.
pub fn commit_record_bytes(changes: &TransactionChanges) -> u64 {
    (COMMIT_FIXED_BYTES + 8 * (changes.allocated.len() + changes.freed.len())) as u64
}

/// Which list of a commit record a page-id frame continues.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum IdList {
    /// Pages the transaction allocated.
    Allocated = 0,
    /// Pages the transaction freed.
    Freed = 1,
}

/// Page ids a page-id frame carries at most: its 4-byte list tag, then 8 bytes each.
const IDS_PER_FRAME_MAX: usize = (crate::limits::FRAME_PAYLOAD_MAX_BYTES as usize - 4) / 8;

/// Splits `changes` for the log: if its commit record fits one frame, no page-id frames and the
/// changes as they are; otherwise every page id moves to page-id frames (at most
/// `IDS_PER_FRAME_MAX` each, allocated ones first) and the record keeps empty lists.
pub(crate) fn split_for_frames(
    mut changes: TransactionChanges,
) -> (Vec<(IdList, Vec<PageId>)>, TransactionChanges) {
    if commit_record_bytes(&changes) <= u64::from(crate::limits::FRAME_PAYLOAD_MAX_BYTES) {
        return (Vec::new(), changes);
    }
    let mut parts = Vec::new();
    for (list, ids) in [
        (IdList::Allocated, std::mem::take(&mut changes.allocated)),
        (IdList::Freed, std::mem::take(&mut changes.freed)),
    ] {
        parts.extend(ids.chunks(IDS_PER_FRAME_MAX).map(|chunk| (list, chunk.to_vec())));
    }
    (parts, changes)
}

/// The payload of a page-id frame.
pub(crate) fn encode_id_list(list: IdList, ids: &[PageId]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + 8 * ids.len());
    bytes.extend_from_slice(&(list as u32).to_le_bytes());
    for id in ids {
        bytes.extend_from_slice(&id.get().to_le_bytes());
    }
    bytes
}

/// Decodes a page-id frame's payload; `None` if it is malformed.
pub(crate) fn decode_id_list(bytes: &[u8]) -> Option<(IdList, Vec<PageId>)> {
    let list = match u32_at(bytes, 0)? {
        0 => IdList::Allocated,
        1 => IdList::Freed,
        _ => return None,
    };
    let ids = bytes.get(4..)?;
    if !ids.len().is_multiple_of(8) {
        return None;
    }
    let ids = ids
        .chunks_exact(8)
        .map(|raw| PageId::new(u64::from_le_bytes(raw.try_into().expect("chunks of 8 bytes"))));
    Some((list, ids.collect()))
}

/// The payload of a restore-point frame; `None` if the name is longer than the limit.
pub fn encode_restore_point(point: &RestorePoint) -> Option<Vec<u8>> {
    if point.name.len() > RESTORE_POINT_NAME_MAX_BYTES {
        return None;
    }
    let mut bytes = point.timestamp_ms.to_le_bytes().to_vec();
    bytes.extend_from_slice(&(point.name.len() as u32).to_le_bytes());
    bytes.extend_from_slice(point.name.as_bytes());
    Some(bytes)
}

/// Decodes a restore-point payload; `None` if it is malformed.
pub fn decode_restore_point(bytes: &[u8]) -> Option<RestorePoint> {
    let timestamp_ms = u64_at(bytes, 0)?;
    let name_bytes = u32_at(bytes, 8)? as usize;
    if name_bytes > RESTORE_POINT_NAME_MAX_BYTES || bytes.len() != 12 + name_bytes {
        return None;
    }
    let name = String::from_utf8(bytes[12..].to_vec()).ok()?;
    Some(RestorePoint { name, timestamp_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_records_round_trip_and_reject_bad_lengths() {
        let mut roots = [None; ROOT_SLOTS];
        roots[2] = Some(PageId::new(40));
        let changes = TransactionChanges {
            timestamp_ms: 1_700_000_000_000,
            page_count: 99,
            roots,
            allocated: vec![PageId::new(7), PageId::new(8)],
            freed: vec![PageId::new(5)],
        };
        let record = CommitRecord { first_lsn: Lsn::new(3), durable_lsn: Lsn::new(2), changes };
        let bytes = record.encode();
        assert_eq!(bytes.len() as u64, commit_record_bytes(&record.changes));
        assert_eq!(CommitRecord::decode(&bytes), Some(record));
        assert_eq!(CommitRecord::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(CommitRecord::decode(&[]), None);
    }

    #[test]
    fn long_id_lists_move_to_their_own_frames_and_round_trip() {
        let small = TransactionChanges { freed: vec![PageId::new(9)], ..Default::default() };
        let (parts, kept) = split_for_frames(small.clone());
        assert!(parts.is_empty());
        assert_eq!(kept, small);
        let many = IDS_PER_FRAME_MAX + 10;
        let large = TransactionChanges {
            allocated: vec![PageId::new(3)],
            freed: (0..many as u64).map(PageId::new).collect(),
            ..Default::default()
        };
        let (parts, kept) = split_for_frames(large.clone());
        assert!(kept.allocated.is_empty() && kept.freed.is_empty());
        let sizes: Vec<(IdList, usize)> = parts.iter().map(|(l, ids)| (*l, ids.len())).collect();
        let expected =
            [(IdList::Allocated, 1), (IdList::Freed, IDS_PER_FRAME_MAX), (IdList::Freed, 10)];
        assert_eq!(sizes, expected);
        for (list, ids) in &parts {
            let payload = encode_id_list(*list, ids);
            assert!(payload.len() <= crate::limits::FRAME_PAYLOAD_MAX_BYTES as usize);
            assert_eq!(decode_id_list(&payload).as_ref(), Some(&(*list, ids.clone())));
        }
        assert_eq!(decode_id_list(&[2, 0, 0, 0]), None, "an unknown list");
        assert_eq!(decode_id_list(&[0, 0, 0, 0, 1]), None, "a partial id");
    }

    #[test]
    fn restore_points_round_trip_and_limit_their_names() {
        let point = RestorePoint { name: "before migration".into(), timestamp_ms: 5 };
        assert_eq!(decode_restore_point(&encode_restore_point(&point).unwrap()), Some(point));
        let long =
            RestorePoint { name: "x".repeat(RESTORE_POINT_NAME_MAX_BYTES + 1), timestamp_ms: 0 };
        assert!(encode_restore_point(&long).is_none());
        assert_eq!(decode_restore_point(&[1, 2, 3]), None);
    }
}
