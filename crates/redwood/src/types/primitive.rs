//! [`Value`], [`Key`], [`TupleElement`] and [`Encode`] for the standard types: byte strings,
//! strings, integers, `bool`, floats (values only), `Option` and arrays.

use super::{
    DecodeError, Encode, EncodeError, Key, TupleElement, Value, read_escaped, write_escaped,
};

impl Value for &'static [u8] {
    type SelfType<'a> = &'a [u8];

    fn write_bytes(value: &&[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(value);
    }

    fn from_bytes(bytes: &[u8]) -> Result<&[u8], DecodeError> {
        Ok(bytes)
    }

    fn type_name() -> String {
        "&[u8]".to_owned()
    }
}

impl Key for &'static [u8] {}

impl<B: AsRef<[u8]> + ?Sized> Encode<&'static [u8]> for B {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(self.as_ref());
        Ok(())
    }

    fn as_encoded(&self) -> Option<&[u8]> {
        Some(self.as_ref())
    }
}

impl Value for Vec<u8> {
    type SelfType<'a> = Vec<u8>;

    fn write_bytes(value: &Vec<u8>, out: &mut Vec<u8>) {
        out.extend_from_slice(value);
    }

    fn from_bytes(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
        Ok(bytes.to_vec())
    }

    fn type_name() -> String {
        "Vec<u8>".to_owned()
    }
}

impl Key for Vec<u8> {}

impl TupleElement for Vec<u8> {
    fn write_element(value: &Vec<u8>, out: &mut Vec<u8>) {
        write_escaped(value, out);
    }

    fn read_element(bytes: &[u8]) -> Result<(Vec<u8>, &[u8]), DecodeError> {
        read_escaped::<Self>(bytes)
    }
}

impl<B: AsRef<[u8]> + ?Sized> Encode<Vec<u8>> for B {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(self.as_ref());
        Ok(())
    }

    fn as_encoded(&self) -> Option<&[u8]> {
        Some(self.as_ref())
    }
}

impl Value for &'static str {
    type SelfType<'a> = &'a str;

    fn write_bytes(value: &&str, out: &mut Vec<u8>) {
        out.extend_from_slice(value.as_bytes());
    }

    fn from_bytes(bytes: &[u8]) -> Result<&str, DecodeError> {
        std::str::from_utf8(bytes).map_err(|error| DecodeError::new::<Self>(error.to_string()))
    }

    fn type_name() -> String {
        "&str".to_owned()
    }
}

impl Key for &'static str {}

impl<S: AsRef<str> + ?Sized> Encode<&'static str> for S {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(self.as_ref().as_bytes());
        Ok(())
    }

    fn as_encoded(&self) -> Option<&[u8]> {
        Some(self.as_ref().as_bytes())
    }
}

impl Value for String {
    type SelfType<'a> = String;

    fn write_bytes(value: &String, out: &mut Vec<u8>) {
        out.extend_from_slice(value.as_bytes());
    }

    fn from_bytes(bytes: &[u8]) -> Result<String, DecodeError> {
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|error| DecodeError::new::<Self>(error.to_string()))
    }

    fn type_name() -> String {
        "String".to_owned()
    }
}

impl Key for String {}

impl TupleElement for String {
    fn write_element(value: &String, out: &mut Vec<u8>) {
        write_escaped(value.as_bytes(), out);
    }

    fn read_element(bytes: &[u8]) -> Result<(String, &[u8]), DecodeError> {
        let (raw, rest) = read_escaped::<Self>(bytes)?;
        let text = String::from_utf8(raw).map_err(|e| DecodeError::new::<Self>(e.to_string()))?;
        Ok((text, rest))
    }
}

impl<S: AsRef<str> + ?Sized> Encode<String> for S {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(self.as_ref().as_bytes());
        Ok(())
    }

    fn as_encoded(&self) -> Option<&[u8]> {
        Some(self.as_ref().as_bytes())
    }
}

/// A fixed-width type's element form: its plain encoding, split off by width.
macro_rules! fixed_width_element {
    ($type:ty, $width:expr) => {
        impl TupleElement for $type {
            fn write_element(value: &$type, out: &mut Vec<u8>) {
                <$type as Value>::write_bytes(value, out);
            }

            fn read_element(bytes: &[u8]) -> Result<($type, &[u8]), DecodeError> {
                let Some((head, rest)) = bytes.split_at_checked($width) else {
                    return Err(DecodeError::new::<$type>("a tuple element is cut short"));
                };
                Ok((<$type as Value>::from_bytes(head)?, rest))
            }
        }

        impl Encode<$type> for $type {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                <$type as Value>::write_bytes(self, out);
                Ok(())
            }
        }

        impl Encode<$type> for &$type {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                <$type as Value>::write_bytes(*self, out);
                Ok(())
            }
        }
    };
}

/// Integers: big-endian, so byte order is numeric order; signed ones with the sign bit
/// flipped, so negatives come first.
macro_rules! integer {
    ($($type:ty, $unsigned:ty, $flip:expr);* $(;)?) => {$(
        impl Value for $type {
            type SelfType<'a> = $type;

            fn write_bytes(value: &$type, out: &mut Vec<u8>) {
                // Reinterpreting the bits (`as`) is the point: the flip makes two's complement
                // order as unsigned.
                let bits = (*value as $unsigned) ^ $flip;
                out.extend_from_slice(&bits.to_be_bytes());
            }

            fn from_bytes(bytes: &[u8]) -> Result<$type, DecodeError> {
                let array = bytes.try_into().map_err(|_| {
                    let width = std::mem::size_of::<$type>();
                    DecodeError::new::<$type>(format!("{} bytes, not {width}", bytes.len()))
                })?;
                let value = (<$unsigned>::from_be_bytes(array) ^ $flip) as $type;
                Ok(value)
            }

            fn type_name() -> String {
                stringify!($type).to_owned()
            }
        }

        impl Key for $type {}

        fixed_width_element!($type, std::mem::size_of::<$type>());
    )*};
}

integer! {
    u8, u8, 0;
    u16, u16, 0;
    u32, u32, 0;
    u64, u64, 0;
    u128, u128, 0;
    i8, u8, 1 << 7;
    i16, u16, 1 << 15;
    i32, u32, 1 << 31;
    i64, u64, 1 << 63;
    i128, u128, 1 << 127;
}

impl Value for bool {
    type SelfType<'a> = bool;

    fn write_bytes(value: &bool, out: &mut Vec<u8>) {
        out.push(u8::from(*value));
    }

    fn from_bytes(bytes: &[u8]) -> Result<bool, DecodeError> {
        match bytes {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(DecodeError::new::<bool>(format!("{bytes:?} is not 0 or 1"))),
        }
    }

    fn type_name() -> String {
        "bool".to_owned()
    }
}

impl Key for bool {}

fixed_width_element!(bool, 1);

impl Value for () {
    type SelfType<'a> = ();

    fn write_bytes((): &(), _out: &mut Vec<u8>) {}

    fn from_bytes(bytes: &[u8]) -> Result<(), DecodeError> {
        match bytes {
            [] => Ok(()),
            _ => Err(DecodeError::new::<()>(format!("{} bytes, not 0", bytes.len()))),
        }
    }

    fn type_name() -> String {
        "()".to_owned()
    }
}

impl Key for () {}

fixed_width_element!((), 0);

/// Floats are values only: their bit patterns do not order as the numbers (and `NaN` has no
/// place in an order), so they are not keys.
macro_rules! float {
    ($($type:ty),*) => {$(
        impl Value for $type {
            type SelfType<'a> = $type;

            fn write_bytes(value: &$type, out: &mut Vec<u8>) {
                out.extend_from_slice(&value.to_le_bytes());
            }

            fn from_bytes(bytes: &[u8]) -> Result<$type, DecodeError> {
                let array = bytes.try_into().map_err(|_| {
                    DecodeError::new::<$type>(format!("{} bytes", bytes.len()))
                })?;
                Ok(<$type>::from_le_bytes(array))
            }

            fn type_name() -> String {
                stringify!($type).to_owned()
            }
        }

        impl Encode<$type> for $type {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                <$type as Value>::write_bytes(self, out);
                Ok(())
            }
        }
    )*};
}

float!(f32, f64);

/// `None` is one `0` byte, `Some(v)` a `1` and `v`: `None` orders first, as in `Option`'s `Ord`.
impl<T: Value> Value for Option<T> {
    type SelfType<'a> = Option<T::SelfType<'a>>;

    fn write_bytes(value: &Self::SelfType<'_>, out: &mut Vec<u8>) {
        match value {
            None => out.push(0),
            Some(inner) => {
                out.push(1);
                T::write_bytes(inner, out);
            }
        }
    }

    fn from_bytes<'a>(bytes: &'a [u8]) -> Result<Self::SelfType<'a>, DecodeError> {
        match bytes.split_first() {
            Some((0, [])) => Ok(None),
            Some((1, rest)) => Ok(Some(T::from_bytes(rest)?)),
            _ => Err(DecodeError::new::<Self>("not a tagged option")),
        }
    }

    fn type_name() -> String {
        format!("Option<{}>", T::type_name())
    }
}

impl<T: Key> Key for Option<T> {}

impl<T: TupleElement> TupleElement for Option<T> {
    fn write_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>) {
        match value {
            None => out.push(0),
            Some(inner) => {
                out.push(1);
                T::write_element(inner, out);
            }
        }
    }

    fn read_element<'a>(bytes: &'a [u8]) -> Result<(Self::SelfType<'a>, &'a [u8]), DecodeError> {
        match bytes.split_first() {
            Some((0, rest)) => Ok((None, rest)),
            Some((1, rest)) => T::read_element(rest).map(|(inner, rest)| (Some(inner), rest)),
            _ => Err(DecodeError::new::<Self>("not a tagged option")),
        }
    }
}

impl<T: Value, E: Encode<T>> Encode<Option<T>> for Option<E> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            None => out.push(0),
            Some(inner) => {
                out.push(1);
                inner.encode(out)?;
            }
        }
        Ok(())
    }
}

/// An array is its elements in turn, each self-delimiting: lexicographic, as arrays order.
impl<T: TupleElement, const N: usize> Value for [T; N] {
    type SelfType<'a> = [T::SelfType<'a>; N];

    fn write_bytes(value: &Self::SelfType<'_>, out: &mut Vec<u8>) {
        for element in value {
            T::write_element(element, out);
        }
    }

    fn from_bytes<'a>(bytes: &'a [u8]) -> Result<Self::SelfType<'a>, DecodeError> {
        let (array, rest) = Self::read_element(bytes)?;
        if !rest.is_empty() {
            return Err(DecodeError::new::<Self>("bytes left after the last element"));
        }
        Ok(array)
    }

    fn type_name() -> String {
        format!("[{}; {N}]", T::type_name())
    }
}

impl<T: TupleElement, const N: usize> Key for [T; N] {}

impl<T: TupleElement, const N: usize> TupleElement for [T; N] {
    fn write_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>) {
        Self::write_bytes(value, out);
    }

    fn read_element<'a>(
        mut bytes: &'a [u8],
    ) -> Result<(Self::SelfType<'a>, &'a [u8]), DecodeError> {
        let mut elements = Vec::with_capacity(N);
        for _ in 0..N {
            let (element, rest) = T::read_element(bytes)?;
            elements.push(element);
            bytes = rest;
        }
        let array = elements.try_into().map_err(|_| DecodeError::new::<Self>("wrong length"))?;
        Ok((array, bytes))
    }
}

impl<T: TupleElement, E: Encode<T>, const N: usize> Encode<[T; N]> for [E; N] {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        for element in self {
            // Each element in its self-delimiting form: encode plainly, then re-read the
            // plain form as a `T` and write its element form.
            super::encode_element::<T>(element, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `encode` appends.
    fn encoded<T: Value>(value: &impl Encode<T>) -> Vec<u8> {
        let mut out = Vec::new();
        value.encode(&mut out).expect("these types always encode");
        out
    }

    #[test]
    fn the_bytes_and_strings_lent_in_place_are_what_encode_appends() {
        let bytes: &[u8] = b"\x00value\xff";
        assert_eq!(Encode::<&[u8]>::as_encoded(&bytes), Some(&encoded::<&[u8]>(&bytes)[..]));
        let owned = bytes.to_vec();
        assert_eq!(Encode::<Vec<u8>>::as_encoded(&owned), Some(&encoded::<Vec<u8>>(&owned)[..]));
        assert_eq!(Encode::<&[u8]>::as_encoded(&[0u8; 0]), Some(&[][..]));
        let text = "Grüße";
        assert_eq!(Encode::<&str>::as_encoded(&text), Some(&encoded::<&str>(&text)[..]));
        let string = text.to_owned();
        assert_eq!(Encode::<String>::as_encoded(&string), Some(&encoded::<String>(&string)[..]));
    }

    #[test]
    fn types_whose_encoding_is_built_lend_nothing() {
        // Integers are stored big-endian with the sign flipped: not their bytes in memory.
        assert_eq!(Encode::<u64>::as_encoded(&7u64), None);
        assert_eq!(Encode::<i32>::as_encoded(&-1i32), None);
        assert_eq!(Encode::<Option<u64>>::as_encoded(&Some(7u64)), None);
    }
}
