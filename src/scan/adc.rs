//! Asymmetric scoring of codes against a query (Gordo et al., "Asymmetric distances for binary
//! embeddings"): the query keeps its real-valued margins `z` (one per bit) and a code scores
//! `Σ_i z_i · (2·b_i − 1)`, the agreement of its bits with the query's, weighted by how
//! confident each query bit is. It ranks candidates much closer to the exact cosine order than
//! the Hamming distance does, from the codes alone (64 bytes a face, already resident), so the
//! exact rerank needs to read far fewer float rows.

/// Per-byte lookup tables of one query: entry `256·j + v` is the score of byte value `v` at
/// byte position `j` of a code.
pub struct AdcTable {
    table: Vec<f32>,
}

impl AdcTable {
    /// Tables for one query's margins (`bits` values).
    pub fn new(margins: &[f32]) -> Self {
        let bytes = margins.len() / 8;
        let mut table = vec![0f32; bytes * 256];
        for (j, t) in table.chunks_exact_mut(256).enumerate() {
            let z = &margins[8 * j..8 * j + 8];
            t[0] = -z.iter().sum::<f32>();
            for v in 1..256usize {
                // v = (v without its lowest set bit) + that bit: flip that bit from -z to +z.
                t[v] = t[v & (v - 1)] + 2.0 * z[v.trailing_zeros() as usize];
            }
        }
        Self { table }
    }

    /// The score of a code (higher is closer).
    #[inline]
    pub fn score(&self, code: &[u64]) -> f32 {
        let mut acc = [0f32; 4];
        for (w, &word) in code.iter().enumerate() {
            let t = &self.table[w * 8 * 256..(w + 1) * 8 * 256];
            for (b, byte) in word.to_le_bytes().into_iter().enumerate() {
                acc[b % 4] += t[b * 256 + byte as usize];
            }
        }
        (acc[0] + acc[2]) + (acc[1] + acc[3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_score_equals_the_direct_sum() {
        let z: Vec<f32> = (0..128)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 10.0)
            .collect();
        let t = AdcTable::new(&z);
        for code in [
            [0u64, 0],
            [u64::MAX, u64::MAX],
            [0x0123_4567_89AB_CDEF, 0xF0F0_0F0F_AAAA_5555],
        ] {
            let direct: f32 = (0..128)
                .map(|i| {
                    if code[i / 64] >> (i % 64) & 1 == 1 {
                        z[i]
                    } else {
                        -z[i]
                    }
                })
                .sum();
            assert!(
                (t.score(&code) - direct).abs() < 1e-3,
                "{} vs {direct}",
                t.score(&code)
            );
        }
        // The query's own code scores highest.
        let own = [0usize, 1]
            .map(|w| (0..64usize).fold(0u64, |acc, b| acc | (((z[w * 64 + b] > 0.0) as u64) << b)));
        assert!(t.score(&own) >= t.score(&[own[0] ^ 1, own[1]]));
    }
}
