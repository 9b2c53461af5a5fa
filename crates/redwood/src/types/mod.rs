//! Typed keys and values: the [`Value`] and [`Key`] traits, their encodings, and [`Encode`], what
//! the table methods take as arguments.
//!
//! A table stores bytes and compares keys byte by byte (`memcmp`). A key type's encoding is
//! therefore chosen so that the byte order of encoded keys is the `Ord` order of the Rust values
//! ([`Key`]'s contract, checked by this module's proptests): integers big-endian with the sign bit
//! flipped, strings and byte strings as they are, `Option` with a tag byte that puts `None`
//! first, tuples and arrays element by element with every element but the last self-delimiting
//! ([`TupleElement`]).
//!
//! | type | encoding | order |
//! |---|---|---|
//! | `&[u8]`, `Vec<u8>` | the bytes | lexicographic |
//! | `&str`, `String` | UTF-8 | lexicographic (= `str`'s `Ord`) |
//! | `u8`..`u128`, `i8`..`i128` | big-endian; signed with the sign bit flipped | numeric |
//! | `bool` | one byte, 0 or 1 | `false` first |
//! | `()` | nothing | one value |
//! | `Option<T>` | `0`, or `1` and `T` | `None` first |
//! | `(A, B, ..)` (up to 6) | each element in turn, all but the last self-delimiting | lexicographic |
//! | `[T; N]` | each element, self-delimiting | lexicographic |
//! | `f32`, `f64` (values only) | little-endian IEEE 754 | not a key |
//! | [`Serde<T>`] (values only) | postcard | not a key |
//!
//! Inside a tuple (all but the last element) and an array, `String` and `Vec<u8>` are written with
//! each `0x00` byte doubled as `0x00 0xFF` and a `0x00 0x00` terminator, which keeps the order;
//! the borrowed `&str` and `&[u8]` cannot be unescaped without a copy, so they may only be a
//! tuple's last element (the compiler says so: they are not [`TupleElement`]s).
//!
//! ```
//! use redwood::TableDefinition;
//!
//! const SCORES: TableDefinition<(String, u32), i64> = TableDefinition::new("scores");
//!
//! let db = redwood::Database::in_memory()?;
//! let write = db.begin_write()?;
//! {
//!     let mut scores = write.open_table(SCORES)?;
//!     scores.insert(("ada", 2), -5)?;
//!     scores.insert(("ada", 10), 7)?;
//!     scores.insert(("bob", 1), 3)?;
//! }
//! write.commit()?;
//! let read = db.begin_read()?;
//! let scores = read.open_table(SCORES)?;
//! assert_eq!(scores.get(("ada", 10))?.map(|v| v.value()), Some(7));
//! let ada: Vec<(u32, i64)> = scores
//!     .range(("ada".to_owned(), 0)..=("ada".to_owned(), u32::MAX))
//!     .map(|entry| entry.map(|(key, value)| (key.value().1, value.value())))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(ada, [(2, -5), (10, 7)]); // numeric order, not "10" < "2"
//! # Ok::<(), redwood::Error>(())
//! ```

mod primitive;
mod serde_value;
mod tuple;

pub use serde_value::Serde;

/// A type a table can store as its value (and, with [`Key`], as its key): how it is written to
/// bytes and read back.
///
/// The implementing type names the stored type; [`Value::SelfType`] is what a read hands out,
/// which borrows from the page where it can (`&str` reads as a `&str` into the leaf page).
/// `from_bytes` must be deterministic: a guard decodes its bytes when it is made (so a value that
/// does not decode is an error there) and again on every [`crate::AccessGuard::value`].
pub trait Value: 'static {
    /// What a stored value is read as, borrowing from the stored bytes for `'a`.
    type SelfType<'a>;

    /// Appends the encoding of `value` to `out`.
    fn write_bytes(value: &Self::SelfType<'_>, out: &mut Vec<u8>);

    /// Decodes a stored value; [`DecodeError`] if `bytes` is not an encoding of this type.
    fn from_bytes<'a>(bytes: &'a [u8]) -> Result<Self::SelfType<'a>, DecodeError>;

    /// The type's name, for errors.
    fn type_name() -> String;
}

/// A [`Value`] that can be a key: its encoding orders as the values do.
///
/// Contract: for any two values `a` and `b`, the byte-wise order of their encodings equals
/// `a.cmp(&b)`, and equal encodings mean equal values. Keys compare as bytes in the B+Tree, so a
/// type that broke this would scan in the wrong order and miss lookups.
pub trait Key: Value {}

/// A [`Key`] that can sit before other elements in a tuple or in an array: its encoding
/// is self-delimiting (a reader finds where it ends) and keeps the order when followed by more
/// bytes.
pub trait TupleElement: Key {
    /// Appends the self-delimiting encoding of `value`.
    fn write_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>);

    /// Reads one element off the front of `bytes`; returns it and the bytes after it.
    fn read_element<'a>(bytes: &'a [u8]) -> Result<(Self::SelfType<'a>, &'a [u8]), DecodeError>;
}

/// What the table methods accept for a key or a value of type `T`: the value itself, a
/// reference to it, or a type that converts cheaply (any `AsRef<[u8]>` for a byte table, any
/// `AsRef<str>` for a string table).
///
/// ```
/// use redwood::{Encode, TableDefinition};
///
/// fn encoded<T: redwood::Value>(value: impl Encode<T>) -> Vec<u8> {
///     let mut out = Vec::new();
///     value.encode(&mut out).expect("these types always encode");
///     out
/// }
/// assert_eq!(encoded::<u16>(258u16), [1, 2]); // big-endian
/// assert_eq!(encoded::<i8>(-1i8), [0x7f]); // the sign bit flipped: negatives first
/// assert_eq!(encoded::<&[u8]>(b"ab"), b"ab");
/// assert_eq!(encoded::<String>("ab"), b"ab");
/// ```
pub trait Encode<T: Value> {
    /// Appends the encoding of `self` as a `T` to `out`; [`EncodeError`] if it has none (a
    /// `serde` type whose `Serialize` fails).
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError>;

    /// The encoding of `self` as a `T` when it already lies in memory as it is (a byte or
    /// string type's encoding is its bytes): lookups and inserts then read it in place instead
    /// of copying it first, which for a 2 MB value is a pass over 2 MB. `None`, the default,
    /// when [`Encode::encode`] must build it. When it is `Some`, it is exactly what `encode`
    /// appends.
    fn as_encoded(&self) -> Option<&[u8]> {
        None
    }
}

/// Encodes `value` as a `T` into a fresh buffer.
pub(crate) fn encode_to_vec<T: Value>(value: &impl Encode<T>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    value.encode(&mut out)?;
    Ok(out)
}

/// `value`'s encoding as a `T`: borrowed when it already lies in memory as it is
/// ([`Encode::as_encoded`]), built into a fresh buffer otherwise.
pub(crate) fn encode_borrowed<T: Value, E: Encode<T>>(
    value: &E,
) -> Result<std::borrow::Cow<'_, [u8]>, EncodeError> {
    match value.as_encoded() {
        Some(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
        None => encode_to_vec(value).map(std::borrow::Cow::Owned),
    }
}

/// Appends `value`'s self-delimiting element form: its plain encoding, read back as a `T` and
/// written as an element (an `Encode` impl only knows the plain form).
pub(crate) fn encode_element<T: TupleElement>(
    value: &impl Encode<T>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let plain = encode_to_vec::<T>(value)?;
    let decoded = T::from_bytes(&plain).map_err(|error| EncodeError {
        type_name: T::type_name(),
        reason: format!("its encoding does not read back: {error}"),
    })?;
    T::write_element(&decoded, out);
    Ok(())
}

/// Encodes a decoded value (a range bound) as a `T`.
pub(crate) fn encode_self<T: Value>(value: &T::SelfType<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    T::write_bytes(value, &mut out);
    out
}

/// Stored bytes that are not an encoding of the table's type: the table was written with other
/// types, or the value is damaged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stored bytes are not a {type_name}: {reason}")]
pub struct DecodeError {
    /// The type the bytes were read as.
    pub type_name: String,
    /// What is wrong with them.
    pub reason: String,
}

/// A value that has no encoding as the table's type (a `serde` type whose `Serialize` fails).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode a {type_name}: {reason}")]
pub struct EncodeError {
    /// The type the value was to be written as.
    pub type_name: String,
    /// Why it could not be.
    pub reason: String,
}

impl DecodeError {
    /// A decode error for type `T`.
    pub fn new<T: Value + ?Sized>(reason: impl Into<String>) -> Self {
        Self { type_name: T::type_name(), reason: reason.into() }
    }
}

/// The escaped, terminated form of a variable-width element: every `0x00` doubled as
/// `0x00 0xFF`, then `0x00 0x00`.
pub(crate) fn write_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Reads an escaped element off the front of `bytes`: its bytes and what follows.
pub(crate) fn read_escaped<T: Value + ?Sized>(
    bytes: &[u8],
) -> Result<(Vec<u8>, &[u8]), DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte != 0 {
            out.push(byte);
            at += 1;
            continue;
        }
        match bytes.get(at + 1) {
            Some(0xFF) => {
                out.push(0);
                at += 2;
            }
            Some(0) => return Ok((out, &bytes[at + 2..])),
            _ => return Err(DecodeError::new::<T>("a bad escape in a tuple element")),
        }
    }
    Err(DecodeError::new::<T>("a tuple element has no terminator"))
}

#[cfg(test)]
mod tests;
