//! [`TableDefinition`]: a table's name with its key and value types, and [`TableSpec`], what
//! `open_table` takes: a definition, or a plain name for a byte table.

use std::marker::PhantomData;

use crate::types::{Key, Value};

/// A table's name and its key and value types, usually a `const`:
///
/// ```
/// use redwood::TableDefinition;
///
/// const AGES: TableDefinition<&str, u8> = TableDefinition::new("ages");
///
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table(AGES)?.insert("ada", 36)?;
/// write.commit()?;
/// let read = db.begin_read()?;
/// assert_eq!(read.open_table(AGES)?.get("ada")?.map(|age| age.value()), Some(36));
/// # Ok::<(), redwood::Error>(())
/// ```
///
/// The types are not recorded in the file: opening a table with other types than it was written
/// with reads its bytes as those types, and bytes that do not decode are an error
/// ([`crate::ErrorKind::Decode`]), never a panic.
pub struct TableDefinition<'n, K: Key, V: Value> {
    name: &'n str,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'n, K: Key, V: Value> TableDefinition<'n, K, V> {
    /// The table `name`, holding keys of type `K` and values of type `V`.
    pub const fn new(name: &'n str) -> Self {
        Self { name, types: PhantomData }
    }

    /// The table's name.
    pub fn name(&self) -> &'n str {
        self.name
    }
}

impl<K: Key, V: Value> Clone for TableDefinition<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Key, V: Value> Copy for TableDefinition<'_, K, V> {}

impl<K: Key, V: Value> std::fmt::Debug for TableDefinition<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TableDefinition({:?}: {} -> {})", self.name, K::type_name(), V::type_name())
    }
}

/// What names a table to `open_table`: a [`TableDefinition`] (typed), or a `&str` for a table
/// of byte-string keys and values (`TableDefinition<&[u8], &[u8]>`).
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table("raw")?.insert(b"key", b"value")?; // a byte table
/// write.commit()?;
/// # Ok::<(), redwood::Error>(())
/// ```
pub trait TableSpec {
    /// The key type.
    type Key: Key;
    /// The value type.
    type Value: Value;

    /// The table's name.
    fn name(&self) -> &str;
}

impl<K: Key, V: Value> TableSpec for TableDefinition<'_, K, V> {
    type Key = K;
    type Value = V;

    fn name(&self) -> &str {
        self.name
    }
}

impl TableSpec for &str {
    type Key = &'static [u8];
    type Value = &'static [u8];

    fn name(&self) -> &str {
        self
    }
}

impl TableSpec for String {
    type Key = &'static [u8];
    type Value = &'static [u8];

    fn name(&self) -> &str {
        self
    }
}

impl<T: TableSpec + ?Sized> TableSpec for &T {
    type Key = T::Key;
    type Value = T::Value;

    fn name(&self) -> &str {
        (**self).name()
    }
}
