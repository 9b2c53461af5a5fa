//! `PageFile::check_invariants`: proves that every page is exactly one of {meta, free-space map,
//! free, allocated-and-claimed}, and that what is on disk matches what the handle believes.

use super::PageFile;
use crate::check::{PageClaims, Violation};
use crate::error::{Error, Result};
use crate::geometry::MapCopy;
use crate::meta::Meta;
use crate::page::PageBuf;
use crate::{PageId, SegmentId};

impl PageFile {
    /// Checks every invariant of the files against `claims`, the pages the layers above own.
    ///
    /// Proves: the free-space map is self-consistent and its clean pages on disk match memory;
    /// the current meta copy on disk matches memory, and the other (fallback) copy verifies and
    /// is older; every claimed page is allocated; every
    /// allocated page is claimed exactly once (nothing leaked, nothing owned twice); every root
    /// is allocated. Returns [`Error::InvariantViolation`] listing everything wrong.
    pub fn check_invariants(&self, claims: &PageClaims) -> Result<()> {
        self.ensure_healthy()?;
        let mut violations = self.free_map.violations(self.active_map_copy());
        violations.extend_from_slice(claims.double_claims());
        self.check_claims(claims, &mut violations);
        self.check_map_pages_on_disk(&mut violations);
        self.check_meta_on_disk(&mut violations);
        if violations.is_empty() { Ok(()) } else { Err(Error::InvariantViolation { violations }) }
    }

    fn check_claims(&self, claims: &PageClaims, violations: &mut Vec<Violation>) {
        for (page_id, owner) in claims.iter() {
            if !self.free_map.is_allocated(page_id) {
                let message = format!("claimed by {owner} but not allocated");
                violations.push(Violation::new(Some(page_id), message));
            }
        }
        for page_id in self.free_map.allocated_pages() {
            if claims.owner(page_id).is_none() {
                let message = "allocated but owned by nothing (leaked)";
                violations.push(Violation::new(Some(page_id), message));
            }
        }
        for (slot, root) in self.roots.iter().enumerate() {
            if let Some(root) = root.filter(|&root| !self.free_map.is_allocated(root)) {
                violations.push(Violation::new(
                    Some(root),
                    format!("root slot {slot} points at it, but it is not allocated"),
                ));
            }
        }
    }

    /// The map copy the durable meta generation points at.
    fn active_map_copy(&self) -> MapCopy {
        MapCopy::of_generation(self.durable_meta.generation)
    }

    /// Pages of the active map copy without unsynced changes must read back exactly as memory
    /// encodes them.
    fn check_map_pages_on_disk(&self, violations: &mut Vec<Violation>) {
        let geometry = self.geometry();
        let copy = self.active_map_copy();
        let mut page = PageBuf::zeroed(geometry.page_size());
        for segment in (0..self.segment_count()).map(SegmentId::new) {
            for map_page in geometry.map_pages(segment).map(PageId::new) {
                if self.free_map.is_dirty(map_page, copy) {
                    continue;
                }
                let page_id = geometry.map_page_copy(map_page, copy);
                if let Err(error) = self.read_raw(page_id, &mut page) {
                    violations.push(Violation::new(Some(page_id), error.to_string()));
                    continue;
                }
                let expected = self.free_map.encode_map_page(map_page, copy, page.lsn());
                if expected.body() != page.body() {
                    let message = "free-space map on disk differs from memory";
                    violations.push(Violation::new(Some(page_id), message));
                }
            }
        }
    }

    fn check_meta_on_disk(&self, violations: &mut Vec<Violation>) {
        let slot = self.durable_meta.slot();
        let mut page = PageBuf::zeroed(self.page_size());
        let decoded = self.read_raw(slot, &mut page).and_then(|()| Meta::decode(&page, slot));
        match decoded {
            Ok(meta) if meta == self.durable_meta => {}
            Ok(meta) => {
                let message = format!(
                    "meta generation {} on disk, {} in memory",
                    meta.generation, self.durable_meta.generation
                );
                violations.push(Violation::new(Some(slot), message));
            }
            Err(error) => violations.push(Violation::new(Some(slot), error.to_string())),
        }
        // The other copy is the fallback a torn meta write needs: it must verify, and be older.
        let other = PageId::new(1 - slot.get());
        let decoded = self.read_raw(other, &mut page).and_then(|()| Meta::decode(&page, other));
        // Until this handle writes a meta copy, the fallback may be the torn write of a crash
        // (or never written, after an interrupted create): the next write replaces it.
        if self.durable_meta.generation == self.opened_generation {
            return;
        }
        match decoded {
            Ok(meta) if meta.generation < self.durable_meta.generation => {}
            Ok(meta) => {
                let message = format!(
                    "the fallback meta copy has generation {}, not older than {}",
                    meta.generation, self.durable_meta.generation
                );
                violations.push(Violation::new(Some(other), message));
            }
            Err(error) => {
                let message = format!("the fallback meta copy is damaged: {error}");
                violations.push(Violation::new(Some(other), message));
            }
        }
    }
}
