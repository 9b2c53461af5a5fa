//! [`Serde`]: any `serde` type as a table value, encoded with postcard (a compact, stable binary
//! format). Not a key: postcard's bytes do not order as the values do.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{DecodeError, Encode, EncodeError, Value};

/// A value type for user structs: `TableDefinition<&str, Serde<User>>` stores a `User` through
/// its `serde` implementations, encoded with postcard. Values only (see the module docs).
///
/// ```
/// use redwood::{Serde, TableDefinition};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct User { name: String, age: u8 }
///
/// const USERS: TableDefinition<u64, Serde<User>> = TableDefinition::new("users");
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table(USERS)?.insert(1, User { name: "Ada".into(), age: 36 })?;
/// write.commit()?;
/// let user = db.begin_read()?.open_table(USERS)?.get(1)?.map(|guard| guard.value());
/// assert_eq!(user, Some(User { name: "Ada".into(), age: 36 }));
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct Serde<T>(PhantomData<fn() -> T>);

impl<T: Serialize + DeserializeOwned + 'static> Value for Serde<T> {
    type SelfType<'a> = T;

    /// Writes nothing if `T`'s `Serialize` fails: the tables encode values through
    /// [`Encode`], which reports that as an [`EncodeError`].
    fn write_bytes(value: &T, out: &mut Vec<u8>) {
        let _ = write_postcard(value, out);
    }

    fn from_bytes(bytes: &[u8]) -> Result<T, DecodeError> {
        postcard::from_bytes(bytes).map_err(|error| DecodeError::new::<Self>(error.to_string()))
    }

    fn type_name() -> String {
        format!("Serde<{}>", std::any::type_name::<T>())
    }
}

impl<T: Serialize + DeserializeOwned + 'static> Encode<Serde<T>> for T {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        write_postcard(self, out)
    }
}

impl<T: Serialize + DeserializeOwned + 'static> Encode<Serde<T>> for &T {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        write_postcard(*self, out)
    }
}

/// Appends `value`'s postcard encoding; `out` is unchanged if its `Serialize` fails.
fn write_postcard<T: Serialize + DeserializeOwned + 'static>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let bytes = postcard::to_allocvec(value).map_err(|error| EncodeError {
        type_name: <Serde<T> as Value>::type_name(),
        reason: error.to_string(),
    })?;
    out.extend_from_slice(&bytes);
    Ok(())
}
