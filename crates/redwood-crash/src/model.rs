//! The model the harness checks the database against: every table's entries, and the committed
//! states of one cycle with how far they are known durable.

use std::collections::BTreeMap;

use redwood::{Database, ReadTransaction};

/// Every table's entries.
pub type Tables = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// The states one cycle went through: `states[0]` is where it started (durable), then one per
/// commit attempt (a failed commit may or may not have happened, so its state is a candidate
/// too). `durable` indexes the newest state known durable: an acknowledged `Immediate`
/// commit or a successful checkpoint.
#[derive(Debug, Clone)]
pub struct History {
    /// The states, oldest first.
    pub states: Vec<Tables>,
    /// The newest state known durable.
    pub durable: usize,
    /// `Immediate` commits acknowledged in this cycle.
    pub acked: u64,
}

impl History {
    /// A history starting at the durable state `start`.
    pub fn new(start: Tables) -> Self {
        Self { states: vec![start], durable: 0, acked: 0 }
    }

    /// The newest state (what the workload goes on from).
    pub fn latest(&self) -> &Tables {
        self.states.last().expect("a history has a first state")
    }

    /// The states a recovery may legitimately find: any from the newest durable one on.
    pub fn candidates(&self) -> &[Tables] {
        &self.states[self.durable..]
    }
}

/// Why reading everything failed.
#[derive(Debug)]
pub enum ReadFailure {
    /// The engine returned an error.
    Engine(redwood::Error),
    /// The engine answered, but inconsistently (a violation, whatever the fault).
    Inconsistent(String),
}

impl From<redwood::Error> for ReadFailure {
    fn from(error: redwood::Error) -> Self {
        ReadFailure::Engine(error)
    }
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFailure::Engine(error) => write!(f, "{error}"),
            ReadFailure::Inconsistent(message) => f.write_str(message),
        }
    }
}

/// Everything the database holds, table by table, read in one snapshot.
pub fn read_all(db: &Database) -> Result<Tables, ReadFailure> {
    read_snapshot(&db.begin_read()?)
}

/// Everything a read transaction sees, table by table; a table whose `len()` disagrees with
/// its entries is `Inconsistent`.
pub fn read_snapshot(read: &ReadTransaction<'_>) -> Result<Tables, ReadFailure> {
    let mut tables = Tables::new();
    for name in read.list_tables()? {
        let table = read.open_table(&name)?;
        let entries = table
            .range(..)
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.to_vec())))
            .collect::<redwood::Result<BTreeMap<_, _>>>()?;
        if entries.len() as u64 != table.len() {
            return Err(ReadFailure::Inconsistent(format!(
                "table {name:?} holds {} entries, len() says {}",
                entries.len(),
                table.len()
            )));
        }
        tables.insert(name, entries);
    }
    Ok(tables)
}
