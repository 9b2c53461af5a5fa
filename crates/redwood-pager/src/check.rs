//! Page ownership claims and invariant violations: how `PageFile::check_invariants` learns from
//! the layers above which pages they own, and how it reports what is wrong.
//!
//! The pager itself knows only "reserved", "allocated" and "free". A higher layer (the B+Tree
//! catalog, overflow chains) walks its structures and claims each page it reaches; the check then
//! proves every allocated page is claimed exactly once and every claimed page is allocated.

use std::collections::BTreeMap;
use std::fmt;

use crate::PageId;

/// One broken invariant, naming the page at fault where there is one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Violation {
    /// The page at fault, if the violation is about one page.
    pub page_id: Option<PageId>,
    /// What is wrong, as a sentence.
    pub message: String,
}

impl Violation {
    /// A violation about `page_id` (or about the database as a whole).
    pub fn new(page_id: Option<PageId>, message: impl Into<String>) -> Self {
        Self { page_id, message: message.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.page_id {
            Some(page_id) => write!(f, "{page_id}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The pages higher layers own, each with the name of its owner.
#[derive(Clone, Default, Debug)]
pub struct PageClaims {
    owners: BTreeMap<PageId, &'static str>,
    double_claims: Vec<Violation>,
}

impl PageClaims {
    /// No claims yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `owner` (e.g. "btree leaf of table users") owns `page_id`. A second claim on
    /// the same page is recorded as a violation.
    pub fn claim(&mut self, page_id: PageId, owner: &'static str) {
        if let Some(first) = self.owners.insert(page_id, owner) {
            let message = format!("owned twice: by {first} and by {owner}");
            self.double_claims.push(Violation::new(Some(page_id), message));
            self.owners.insert(page_id, first);
        }
    }

    /// The owner of `page_id`, if claimed.
    pub fn owner(&self, page_id: PageId) -> Option<&'static str> {
        self.owners.get(&page_id).copied()
    }

    /// Every claimed page with its owner, in page order.
    pub fn iter(&self) -> impl Iterator<Item = (PageId, &'static str)> + '_ {
        self.owners.iter().map(|(&page_id, &owner)| (page_id, owner))
    }

    /// The pages claimed more than once.
    pub fn double_claims(&self) -> &[Violation] {
        &self.double_claims
    }
}
