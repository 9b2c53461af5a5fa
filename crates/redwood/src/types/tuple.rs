//! Tuples of up to six elements as keys and values: each element in turn, every element but the
//! last in its self-delimiting [`TupleElement`] form, so the encoded order is the tuple's
//! lexicographic `Ord`.

use super::{DecodeError, Encode, EncodeError, Key, TupleElement, Value, encode_element};

macro_rules! tuple {
    ($($head:ident $head_enc:ident $h:ident),* ; $last:ident $last_enc:ident $l:ident) => {
        impl<$($head: TupleElement,)* $last: Value> Value for ($($head,)* $last,) {
            type SelfType<'a> = ($($head::SelfType<'a>,)* $last::SelfType<'a>,);

            fn write_bytes(value: &Self::SelfType<'_>, out: &mut Vec<u8>) {
                let ($($h,)* $l,) = value;
                $($head::write_element($h, out);)*
                $last::write_bytes($l, out);
            }

            fn from_bytes<'a>(bytes: &'a [u8]) -> Result<Self::SelfType<'a>, DecodeError> {
                let rest = bytes;
                $(let ($h, rest) = $head::read_element(rest)?;)*
                let $l = $last::from_bytes(rest)?;
                Ok(($($h,)* $l,))
            }

            fn type_name() -> String {
                let names: Vec<String> = vec![$($head::type_name(),)* $last::type_name()];
                format!("({})", names.join(", "))
            }
        }

        impl<$($head: TupleElement,)* $last: Key> Key for ($($head,)* $last,) {}

        impl<$($head: TupleElement,)* $last: TupleElement> TupleElement for ($($head,)* $last,) {
            fn write_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>) {
                let ($($h,)* $l,) = value;
                $($head::write_element($h, out);)*
                $last::write_element($l, out);
            }

            fn read_element<'a>(
                bytes: &'a [u8],
            ) -> Result<(Self::SelfType<'a>, &'a [u8]), DecodeError> {
                let rest = bytes;
                $(let ($h, rest) = $head::read_element(rest)?;)*
                let ($l, rest) = $last::read_element(rest)?;
                Ok((($($h,)* $l,), rest))
            }
        }

        impl<$($head: TupleElement, $head_enc: Encode<$head>,)* $last: Value, $last_enc: Encode<$last>>
            Encode<($($head,)* $last,)> for ($($head_enc,)* $last_enc,)
        {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                let ($($h,)* $l,) = self;
                $(encode_element::<$head>($h, out)?;)*
                $l.encode(out)?;
                Ok(())
            }
        }

        impl<$($head: TupleElement, $head_enc: Encode<$head>,)* $last: Value, $last_enc: Encode<$last>>
            Encode<($($head,)* $last,)> for &($($head_enc,)* $last_enc,)
        {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                let ($($h,)* $l,) = *self;
                $(encode_element::<$head>($h, out)?;)*
                $l.encode(out)?;
                Ok(())
            }
        }
    };
}

tuple!(; A EA a);
tuple!(A EA a; B EB b);
tuple!(A EA a, B EB b; C EC c);
tuple!(A EA a, B EB b, C EC c; D ED d);
tuple!(A EA a, B EB b, C EC c, D ED d; E EE e);
tuple!(A EA a, B EB b, C EC c, D ED d, E EE e; F EF f);
