//! The benchmark's data, the same for every engine: made from a fixed seed, never read from a
//! file.
//!
//! - Keys are 24 random bytes. Key `i` of the load set is `keys[i]`; keys inserted later (the
//!   individual and batched writes, YCSB inserts) come from their own streams, so they never
//!   collide with the loaded ones (the chance of two random 24-byte keys colliding is nil).
//! - Values are 150-byte windows of one 1 MiB random pool, chosen by the key's index. They are
//!   incompressible in practice, so engines that compress by default (fjall) gain nothing.
//! - Large values (the overflow row) are 2 MB windows of a 4 MiB random pool.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Length of every key, in bytes.
pub const KEY_BYTES: usize = 24;
/// Length of every ordinary value, in bytes.
pub const VALUE_BYTES: usize = 150;
/// Length of every large value, in bytes.
pub const LARGE_VALUE_BYTES: usize = 2_000_000;

const POOL_BYTES: usize = 1 << 20;
const LARGE_POOL_BYTES: usize = 4 << 20;

/// One key.
pub type Key = [u8; KEY_BYTES];

/// The data set of one run: a pure function of the seed and the entry count.
pub struct DataSet {
    seed: u64,
    keys: Vec<Key>,
    pool: Vec<u8>,
    large_pool: Vec<u8>,
}

impl DataSet {
    /// Makes the load set of `entries` keys and the value pools from `seed`.
    pub fn new(seed: u64, entries: usize) -> DataSet {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let keys = random_keys(&mut rng, entries);
        let mut pool = vec![0; POOL_BYTES];
        rng.fill_bytes(&mut pool);
        let mut large_pool = vec![0; LARGE_POOL_BYTES];
        rng.fill_bytes(&mut large_pool);
        DataSet { seed, keys, pool, large_pool }
    }

    /// The seed the set was made from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The load set's keys, in load order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The 150-byte value of the entry with index `index` (any stream).
    pub fn value(&self, index: u64) -> &[u8] {
        let start =
            (index.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 44) as usize % (POOL_BYTES - VALUE_BYTES);
        &self.pool[start..start + VALUE_BYTES]
    }

    /// The 2 MB value number `index` of the large-value row.
    pub fn large_value(&self, index: u64) -> &[u8] {
        let start = (index as usize * 7919) % (LARGE_POOL_BYTES - LARGE_VALUE_BYTES);
        &self.large_pool[start..start + LARGE_VALUE_BYTES]
    }

    /// `count` fresh keys from stream `stream` (1, 2, ...), disjoint from the load set.
    pub fn extra_keys(&self, stream: u64, count: usize) -> Vec<Key> {
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        random_keys(&mut rng, count)
    }

    /// A random generator for the access pattern of one row, seeded from the run's seed.
    pub fn rng(&self, row_salt: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(
            self.seed.wrapping_add(row_salt.wrapping_mul(0xE703_7ED1_A0B4_28DB)),
        )
    }
}

fn random_keys(rng: &mut ChaCha8Rng, count: usize) -> Vec<Key> {
    (0..count)
        .map(|_| {
            let mut key = [0; KEY_BYTES];
            rng.fill_bytes(&mut key);
            key
        })
        .collect()
}

/// A cheap digest of every byte of `bytes` (xor of 8-byte words, folded with the length).
///
/// Readers digest each value they get, so every engine must hand over the whole value, not
/// only a pointer to it, and the runs can check the bytes are the ones written.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut folded = bytes.len() as u64;
    for word in &mut words {
        folded ^= u64::from_le_bytes(word.try_into().expect("8 bytes"));
    }
    for (shift, byte) in words.remainder().iter().enumerate() {
        folded ^= u64::from(*byte) << (8 * shift);
    }
    folded
}

/// YCSB's scrambled zipfian choice over `0..items`: popular ranks follow a zipfian law with
/// exponent 0.99, and a hash spreads them over the key space so that the hot keys are not
/// neighbours.
pub struct ScrambledZipf {
    items: u64,
    zipf: rand_distr::Zipf<f64>,
}

impl ScrambledZipf {
    /// A chooser over `0..items` (`items` ≥ 1).
    pub fn new(items: u64) -> ScrambledZipf {
        let zipf = rand_distr::Zipf::new(items.max(1) as f64, 0.99).expect("valid zipf parameters");
        ScrambledZipf { items: items.max(1), zipf }
    }

    /// The next index in `0..items`.
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        fnv1a(self.rank(rng)) % self.items
    }

    /// The next popularity rank in `0..items`, unscrambled: 0 is the most popular.
    pub fn rank(&self, rng: &mut impl Rng) -> u64 {
        (rng.sample(self.zipf) as u64).saturating_sub(1).min(self.items - 1)
    }
}

fn fnv1a(value: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_a_function_of_the_seed() {
        let a = DataSet::new(7, 100);
        let b = DataSet::new(7, 100);
        let c = DataSet::new(8, 100);
        assert_eq!(a.keys(), b.keys());
        assert_ne!(a.keys(), c.keys());
        assert_eq!(a.value(42), b.value(42));
        assert_eq!(a.value(42).len(), VALUE_BYTES);
        assert_eq!(a.large_value(999).len(), LARGE_VALUE_BYTES);
        assert_eq!(a.extra_keys(1, 5), b.extra_keys(1, 5));
        assert_ne!(a.extra_keys(1, 5), a.extra_keys(2, 5));
    }

    #[test]
    fn zipf_choices_stay_in_range_and_favour_a_few_keys() {
        let zipf = ScrambledZipf::new(1000);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut rng) as usize] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top_ten: u32 = counts[..10].iter().sum();
        // Under θ = 0.99 the ten hottest of 1,000 items draw about 39% of the choices;
        // a uniform choice would give them 1%.
        assert!(top_ten > 30_000, "top ten drew {top_ten}");
    }
}
