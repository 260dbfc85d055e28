//! The `hash` redaction: Relay writes the HMAC-SHA1 (empty key) of the matched text as
//! upper-case hex. SHA-1 is written out here (FIPS 180-4) rather than adding a crate for it; it
//! pseudonymizes, it does not protect anything.

/// SHA-1 of `data`.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// HMAC-SHA1 with an empty key, upper-case hex: what Relay's `hash` redaction writes.
pub fn hash_value(data: &[u8]) -> String {
    // An empty key padded to the block size is all zeros.
    let mut inner = vec![0x36u8; 64];
    inner.extend_from_slice(data);
    let mut outer = vec![0x5cu8; 64];
    outer.extend_from_slice(&sha1(&inner));
    hex::encode_upper(sha1(&outer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_test_vectors() {
        assert_eq!(
            hex::encode(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(sha1(&[b'a'; 1000])),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
    }

    #[test]
    fn hashes_as_relay() {
        // Relay 0.10.1: `@anything:hash` on "foobar" and on "10.0.0.1".
        assert_eq!(
            hash_value(b"foobar"),
            "168197CA3A9D4FE60EDE05116B0A125DA1AB3BD0"
        );
        assert_eq!(
            hash_value(b"10.0.0.1"),
            "F467564A4BA6F6D7D00E4534D5DCB601B1FA220D"
        );
    }
}
