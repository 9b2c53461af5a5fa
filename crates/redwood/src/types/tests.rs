//! Proptests of the typed encodings: every provided key type round-trips, and the byte order of
//! encodings is `Ord` on the Rust values (integers with negatives, strings, options, arrays and
//! tuples with variable-width elements in every position). Seeded by `REDWOOD_SEED`.

use std::cmp::Ordering;
use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::{Key, Value, encode_self};

fn runner(test: &str, cases: u32) -> TestRunner {
    let seed = redwood_pager::io::sim::test_seed(test);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes))
}

/// For key type `K` whose decoded type is the owned `T`: `a` and `b` round-trip, and their
/// encodings order as they do.
fn check_pair<K>(a: &K::SelfType<'static>, b: &K::SelfType<'static>) -> Result<(), TestCaseError>
where
    K: Key,
    for<'a> K::SelfType<'a>: Ord + Debug,
{
    let (ea, eb) = (encode_self::<K>(a), encode_self::<K>(b));
    prop_assert_eq!(ea.cmp(&eb), a.cmp(b), "{:?} vs {:?}: {:?} vs {:?}", a, b, ea, eb);
    let back = K::from_bytes(&ea).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(format!("{back:?}"), format!("{a:?}"));
    Ok(())
}

macro_rules! order_test {
    ($name:ident, $key:ty, $strategy:expr) => {
        #[test]
        fn $name() {
            let strategy = ($strategy, $strategy);
            runner(stringify!($name), 512)
                .run(&strategy, |(a, b)| check_pair::<$key>(&a, &b))
                .unwrap();
        }
    };
}

order_test!(i8_orders_as_numbers, i8, any::<i8>());
order_test!(i16_orders_as_numbers, i16, any::<i16>());
order_test!(i32_orders_as_numbers, i32, any::<i32>());
order_test!(i64_orders_as_numbers, i64, any::<i64>());
order_test!(i128_orders_as_numbers, i128, any::<i128>());
order_test!(u8_orders_as_numbers, u8, any::<u8>());
order_test!(u16_orders_as_numbers, u16, any::<u16>());
order_test!(u32_orders_as_numbers, u32, any::<u32>());
order_test!(u64_orders_as_numbers, u64, any::<u64>());
order_test!(u128_orders_as_numbers, u128, any::<u128>());
order_test!(bool_orders_false_first, bool, any::<bool>());
order_test!(strings_order_as_str, String, any::<String>());
order_test!(
    byte_vectors_order_lexicographically,
    Vec<u8>,
    proptest::collection::vec(any::<u8>(), 0..12)
);
order_test!(options_order_none_first, Option<i32>, proptest::option::of(any::<i32>()));
order_test!(
    arrays_of_strings_order_lexicographically,
    [String; 3],
    [".{0,4}", "\\PC{0,3}", "[a\\x00b]{0,3}"]
);
// Short strings over a tiny alphabet with NUL bytes make shared prefixes and escapes common:
// the cases where a self-delimiting encoding can go wrong.
order_test!(
    tuples_with_strings_first_order_lexicographically,
    (String, i32),
    ("[a\\x00\\xff]{0,4}", any::<i32>())
);
order_test!(
    tuples_of_mixed_elements_order_lexicographically,
    (Vec<u8>, Option<String>, i64, bool),
    (
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8)], 0..4),
        proptest::option::of("[a\\x00]{0,3}"),
        any::<i64>(),
        any::<bool>()
    )
);
order_test!(
    nested_tuples_order_lexicographically,
    ((u8, String), (i16, Vec<u8>)),
    ((any::<u8>(), "[ab\\x00]{0,3}"), (any::<i16>(), proptest::collection::vec(0u8..3, 0..3)))
);

/// The borrowed forms: `&str` and `&[u8]` as whole keys and as a tuple's last element read
/// straight from the stored bytes and order as `str` and `[u8]`.
#[test]
fn borrowed_strings_and_slices_order_and_round_trip() {
    let strategy = (("[a\\x00é]{0,4}", any::<u16>()), ("[a\\x00é]{0,4}", any::<u16>()));
    runner("borrowed_strings_and_slices_order_and_round_trip", 512)
        .run(&strategy, |((sa, na), (sb, nb))| {
            let (ea, eb) = (encode_self::<&str>(&sa.as_str()), encode_self::<&str>(&sb.as_str()));
            prop_assert_eq!(ea.cmp(&eb), sa.as_str().cmp(sb.as_str()));
            prop_assert_eq!(<&str>::from_bytes(&ea).unwrap(), sa.as_str());
            let (ta, tb) = ((na, sa.as_str()), (nb, sb.as_str()));
            let (ea, eb) = (encode_self::<(u16, &str)>(&ta), encode_self::<(u16, &str)>(&tb));
            prop_assert_eq!(ea.cmp(&eb), ta.cmp(&tb));
            prop_assert_eq!(<(u16, &str)>::from_bytes(&ea).unwrap(), ta);
            let slice = sa.as_bytes();
            let encoded = encode_self::<&[u8]>(&slice);
            prop_assert_eq!(<&[u8]>::from_bytes(&encoded).unwrap(), slice);
            Ok(())
        })
        .unwrap();
}

/// Bytes that are not an encoding of the type are a `DecodeError` naming it, never a panic.
#[test]
fn bad_bytes_are_decode_errors() {
    let not_utf8 = [0xff, 0xfe];
    assert!(<&str>::from_bytes(&not_utf8).unwrap_err().type_name.contains("str"));
    assert!(String::from_bytes(&not_utf8).is_err());
    assert!(u32::from_bytes(&[1, 2, 3]).is_err());
    assert!(bool::from_bytes(&[2]).is_err());
    assert!(<Option<u8>>::from_bytes(&[]).is_err());
    assert!(<Option<u8>>::from_bytes(&[7, 1]).is_err());
    // A string element with no terminator, one with a bad escape, an array cut short.
    assert!(<(String, u8)>::from_bytes(b"abc").is_err());
    assert!(<(String, u8)>::from_bytes(&[b'a', 0, 7, 0, 0, 1]).is_err());
    assert!(<[u16; 2]>::from_bytes(&[0, 1, 0]).is_err());
    assert!(<[u16; 2]>::from_bytes(&[0, 1, 0, 2, 9]).is_err());
    let error = <(u8, String)>::from_bytes(&[1, 0xff]).unwrap_err();
    assert_eq!(error.type_name, "String", "{error}");
}

/// The order of encodings of equal-prefixed tuples is decided by the first element first:
/// a concrete case of the escape rule (`"a\0"` sorts after `"a"` whatever follows).
#[test]
fn a_longer_string_element_sorts_after_its_prefix_whatever_follows() {
    let short = encode_self::<(String, u8)>(&("a".to_owned(), 255));
    let long = encode_self::<(String, u8)>(&("a\0".to_owned(), 0));
    assert_eq!(short.cmp(&long), Ordering::Less);
}
