//! Tree observers by table name (`Builder::tree_observer`): the facade hands each table's
//! B+Tree the observer registered for its name whenever a write transaction changes it, so a
//! visualizer (such as `redwood-dashboard`) hears that table's splits, merges,
//! redistributions and root changes as they happen.

use std::collections::BTreeMap;
use std::sync::Arc;

use redwood_btree::{Tree, TreeObserver};
use redwood_pager::PageId;

/// The observers the builder was given, one per table name at most.
#[derive(Clone, Default)]
pub(crate) struct TreeObservers {
    by_table: BTreeMap<String, Arc<dyn TreeObserver>>,
}

impl std::fmt::Debug for TreeObservers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_table.keys()).finish()
    }
}

impl TreeObservers {
    /// Registers `observer` for `table`, replacing an earlier one.
    pub fn add(&mut self, table: &str, observer: Arc<dyn TreeObserver>) {
        self.by_table.insert(table.to_owned(), observer);
    }

    /// The tree rooted at `root` of table `table`, reporting to the table's observer if it has
    /// one.
    pub fn tree(&self, table: &str, root: PageId) -> Tree {
        let tree = Tree::open(root);
        match self.by_table.get(table) {
            Some(observer) => tree.with_observer(Arc::clone(observer)),
            None => tree,
        }
    }
}
