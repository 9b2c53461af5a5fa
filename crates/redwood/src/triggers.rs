//! Per-table checkpoint triggers (R1): checkpoint once one table has changed a given number of
//! pages since the last checkpoint, whatever the log's size. `TableTriggers::decide` is a pure
//! decider over the counts; the database keeps the counts and acts on the decision after commits.

use std::collections::BTreeMap;

/// Checkpoint once `table` has changed `changed_pages_max` pages since the last checkpoint.
///
/// ```
/// use redwood::{TableTrigger, TableTriggers};
///
/// let trigger = TableTrigger { table: "events".to_owned(), changed_pages_max: 1000 };
/// let mut triggers = TableTriggers::default();
/// triggers.add(trigger.clone());
/// assert!(!triggers.is_empty());
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableTrigger {
    /// The table's name.
    pub table: String,
    /// Changed pages (counted per write: pages newly dirtied or spilled) that fire the trigger.
    pub changed_pages_max: u64,
}

/// The per-table triggers of a database.
///
/// ```
/// use std::collections::BTreeMap;
/// use redwood::{TableTrigger, TableTriggers};
///
/// let mut triggers = TableTriggers::default();
/// triggers.add(TableTrigger { table: "hot".to_owned(), changed_pages_max: 50 });
/// let changed = BTreeMap::from([("hot".to_owned(), 60), ("cold".to_owned(), 10_000)]);
/// assert_eq!(triggers.decide(&changed).map(|t| t.table.as_str()), Some("hot"));
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TableTriggers {
    triggers: Vec<TableTrigger>,
}

impl TableTriggers {
    /// Adds a trigger.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use redwood::{TableTrigger, TableTriggers};
    ///
    /// let mut triggers = TableTriggers::default();
    /// triggers.add(TableTrigger { table: "a".to_owned(), changed_pages_max: 10 });
    /// triggers.add(TableTrigger { table: "b".to_owned(), changed_pages_max: 10 });
    /// let changed = BTreeMap::from([("b".to_owned(), 10)]);
    /// assert_eq!(triggers.decide(&changed).map(|t| t.table.as_str()), Some("b"));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn add(&mut self, trigger: TableTrigger) {
        self.triggers.push(trigger);
    }

    /// The first trigger whose table has changed at least its threshold, given the pages each
    /// table changed since the last checkpoint. Pure: same counts, same answer.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use redwood::{TableTrigger, TableTriggers};
    ///
    /// let mut triggers = TableTriggers::default();
    /// triggers.add(TableTrigger { table: "hot".to_owned(), changed_pages_max: 50 });
    /// let counts = |hot: u64| BTreeMap::from([("hot".to_owned(), hot)]);
    /// assert_eq!(triggers.decide(&counts(49)), None);
    /// assert_eq!(triggers.decide(&counts(50)).map(|t| t.changed_pages_max), Some(50));
    /// assert_eq!(triggers.decide(&BTreeMap::new()), None); // an unchanged table never fires
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn decide(&self, changed_pages: &BTreeMap<String, u64>) -> Option<&TableTrigger> {
        self.triggers.iter().find(|trigger| {
            changed_pages
                .get(&trigger.table)
                .is_some_and(|&changed| changed >= trigger.changed_pages_max)
        })
    }

    /// Whether any trigger is set.
    ///
    /// ```
    /// use redwood::{TableTrigger, TableTriggers};
    ///
    /// let mut triggers = TableTriggers::default();
    /// assert!(triggers.is_empty());
    /// triggers.add(TableTrigger { table: "t".to_owned(), changed_pages_max: 1 });
    /// assert!(!triggers.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.triggers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_fires_on_its_own_table_only() {
        let mut triggers = TableTriggers::default();
        triggers.add(TableTrigger { table: "hot".into(), changed_pages_max: 50 });
        let counts = |hot: u64, cold: u64| {
            BTreeMap::from([("hot".to_owned(), hot), ("cold".to_owned(), cold)])
        };
        assert_eq!(triggers.decide(&counts(49, 10_000)), None, "other tables do not count");
        assert_eq!(
            triggers.decide(&counts(50, 0)).map(|trigger| trigger.table.as_str()),
            Some("hot")
        );
        assert_eq!(TableTriggers::default().decide(&counts(1 << 40, 0)), None);
    }
}
