//! Portable Hamming distance over codes stored as little-endian `u64` words.

/// Hamming distance between two codes of equal length (in `u64` words).
pub fn hamming_portable(a: &[u64], b: &[u64]) -> u32 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Distances from `query` to each of the `out.len()` codes in `codes`.
pub fn distances_portable(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let words = query.len();
    assert_eq!(codes.len(), out.len() * words, "codes and output disagree");
    for (d, code) in out.iter_mut().zip(codes.chunks_exact(words)) {
        *d = hamming_portable(query, code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_differing_bits() {
        assert_eq!(hamming_portable(&[0, 0], &[0, 0]), 0);
        assert_eq!(hamming_portable(&[u64::MAX, 0], &[0, 0]), 64);
        assert_eq!(hamming_portable(&[0b1011, 1 << 63], &[0b0001, 0]), 3);
    }
}
