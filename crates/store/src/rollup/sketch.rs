//! The two values of a rollup row that do not simply add up: the duration histogram and the
//! distinct users. Both are stored in the row as small blobs and merged when rows are combined.

use std::collections::{BTreeMap, BTreeSet};

use md5::{Digest, Md5};

/// Durations counted per logarithmic bucket (see [`super::bucket_of`]), sparse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Histogram(pub BTreeMap<i64, u64>);

impl Histogram {
    pub fn add(&mut self, bucket: i64, count: u64) {
        *self.0.entry(bucket).or_default() += count;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (bucket, count) in &other.0 {
            self.add(*bucket, *count);
        }
    }

    /// `(bucket delta, count)` pairs as varints, buckets ascending.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 3);
        let mut previous = 0i64;
        for (bucket, count) in &self.0 {
            put_varint(&mut out, (bucket - previous).max(0) as u64);
            put_varint(&mut out, *count);
            previous = *bucket;
        }
        out
    }

    pub fn decode(mut bytes: &[u8]) -> Result<Histogram, String> {
        let mut histogram = Histogram::default();
        let mut bucket = 0i64;
        while !bytes.is_empty() {
            let delta = take_varint(&mut bytes)?;
            let count = take_varint(&mut bytes)?;
            bucket = bucket
                .checked_add(i64::try_from(delta).map_err(|_| "bucket out of range")?)
                .ok_or("bucket out of range")?;
            histogram.add(bucket, count);
        }
        Ok(histogram)
    }
}

/// Registers of the dense form: 2^9, a standard error of about 4.6%.
const REGISTER_BITS: u32 = 9;
const REGISTERS: usize = 1 << REGISTER_BITS;
/// Hashes kept exactly before the sketch turns dense (the exact form's size then equals the
/// dense one's).
const EXACT_LIMIT: usize = REGISTERS / 8;

/// Distinct users: their exact 64-bit hashes while few, a HyperLogLog once many. Sentry's
/// `count_unique` is an estimate too; counts under 64 users are exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserSketch {
    Exact(BTreeSet<u64>),
    Dense(Box<[u8; REGISTERS]>),
}

impl Default for UserSketch {
    fn default() -> UserSketch {
        UserSketch::Exact(BTreeSet::new())
    }
}

impl UserSketch {
    pub fn insert(&mut self, user: &str) {
        self.insert_hash(user_hash(user));
    }

    fn insert_hash(&mut self, hash: u64) {
        match self {
            UserSketch::Exact(hashes) => {
                hashes.insert(hash);
                if hashes.len() > EXACT_LIMIT {
                    let mut dense = Box::new([0u8; REGISTERS]);
                    for h in hashes.iter() {
                        set_register(&mut dense, *h);
                    }
                    *self = UserSketch::Dense(dense);
                }
            }
            UserSketch::Dense(registers) => set_register(registers, hash),
        }
    }

    pub fn merge(&mut self, other: &UserSketch) {
        match other {
            UserSketch::Exact(hashes) => {
                for hash in hashes {
                    self.insert_hash(*hash);
                }
            }
            UserSketch::Dense(theirs) => {
                let mut mine = match std::mem::take(self) {
                    UserSketch::Dense(mine) => mine,
                    UserSketch::Exact(hashes) => {
                        let mut dense = Box::new([0u8; REGISTERS]);
                        for h in &hashes {
                            set_register(&mut dense, *h);
                        }
                        dense
                    }
                };
                for (register, their) in mine.iter_mut().zip(theirs.iter()) {
                    *register = (*register).max(*their);
                }
                *self = UserSketch::Dense(mine);
            }
        }
    }

    /// The number of distinct users: exact while few, else HyperLogLog's estimate with the
    /// small-range correction.
    pub fn estimate(&self) -> u64 {
        match self {
            UserSketch::Exact(hashes) => hashes.len() as u64,
            UserSketch::Dense(registers) => {
                let m = REGISTERS as f64;
                let alpha = 0.7213 / (1.0 + 1.079 / m);
                let sum: f64 = registers.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
                let estimate = alpha * m * m / sum;
                let zeros = registers.iter().filter(|r| **r == 0).count();
                let corrected = if estimate <= 2.5 * m && zeros > 0 {
                    m * (m / zeros as f64).ln()
                } else {
                    estimate
                };
                corrected.round() as u64
            }
        }
    }

    /// A tag byte, then the hashes (varint count, 8 bytes each) or the registers.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            UserSketch::Exact(hashes) => {
                let mut out = Vec::with_capacity(2 + hashes.len() * 8);
                out.push(0);
                put_varint(&mut out, hashes.len() as u64);
                for hash in hashes {
                    out.extend_from_slice(&hash.to_le_bytes());
                }
                out
            }
            UserSketch::Dense(registers) => {
                let mut out = Vec::with_capacity(1 + REGISTERS);
                out.push(1);
                out.extend_from_slice(&registers[..]);
                out
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<UserSketch, String> {
        match bytes.split_first() {
            None => Ok(UserSketch::default()),
            Some((0, mut rest)) => {
                let count = take_varint(&mut rest)?;
                if rest.len() as u64 != count.saturating_mul(8) {
                    return Err("user hashes of the wrong length".into());
                }
                Ok(UserSketch::Exact(
                    rest.chunks_exact(8)
                        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                        .collect(),
                ))
            }
            Some((1, rest)) => {
                let registers: [u8; REGISTERS] = rest
                    .try_into()
                    .map_err(|_| "user registers of the wrong length".to_string())?;
                Ok(UserSketch::Dense(Box::new(registers)))
            }
            Some((tag, _)) => Err(format!("unknown user sketch form {tag}")),
        }
    }
}

fn user_hash(user: &str) -> u64 {
    let digest = Md5::digest(user.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

fn set_register(registers: &mut [u8; REGISTERS], hash: u64) {
    let index = (hash >> (64 - REGISTER_BITS)) as usize;
    let rest = (hash << REGISTER_BITS) | (1 << (REGISTER_BITS - 1));
    let rank = (rest.leading_zeros() + 1) as u8;
    registers[index] = registers[index].max(rank);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or("truncated varint")?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_and_merge() {
        let mut a = Histogram::default();
        a.add(3, 2);
        a.add(300, 70_000);
        let mut b = Histogram::decode(&a.encode()).expect("decodes");
        assert_eq!(a, b);
        b.merge(&a);
        assert_eq!(b.0[&300], 140_000);
        assert!(Histogram::decode(&[0x80]).is_err());
    }

    #[test]
    fn few_users_are_exact_many_are_estimated() {
        let mut sketch = UserSketch::default();
        for n in 0..40 {
            sketch.insert(&format!("id:{n}"));
            sketch.insert(&format!("id:{n}"));
        }
        assert_eq!(sketch.estimate(), 40);
        let decoded = UserSketch::decode(&sketch.encode()).expect("decodes");
        assert_eq!(decoded, sketch);

        let mut big = UserSketch::default();
        for n in 0..10_000 {
            big.insert(&format!("id:{n}"));
        }
        let estimate = big.estimate() as f64;
        assert!((estimate - 10_000.0).abs() < 10_000.0 * 0.15, "{estimate}");
        let decoded = UserSketch::decode(&big.encode()).expect("decodes");
        assert_eq!(decoded.estimate(), big.estimate());

        // Merging overlapping sets counts the overlap once.
        let mut left = UserSketch::default();
        let mut right = UserSketch::default();
        for n in 0..3_000 {
            left.insert(&format!("u{n}"));
            right.insert(&format!("u{}", n + 1_500));
        }
        left.merge(&right);
        let merged = left.estimate() as f64;
        assert!((merged - 4_500.0).abs() < 4_500.0 * 0.15, "{merged}");
        let mut small = UserSketch::default();
        small.insert("a");
        small.merge(&UserSketch::Exact([user_hash("a"), user_hash("b")].into()));
        assert_eq!(small.estimate(), 2);
    }
}
