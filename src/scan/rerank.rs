//! Exact cosine rerank of Hamming candidates from the float shards (f32, or f16 widened to
//! f32), then top-k by (cosine descending, global row ascending).

use half::f16;
use half::slice::HalfFloatSliceExt;
use serde::Serialize;

use crate::store::Gallery;

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Match {
    /// Row over the whole gallery (manifest order).
    pub global_row: u64,
    /// Index of the shard in the gallery.
    pub shard: usize,
    /// Row in the shard.
    pub row: usize,
    /// Hamming distance between the codes.
    pub hamming: u32,
    /// Exact cosine between the (unit) embeddings.
    pub cosine: f32,
}

/// Dot product in f32 with eight running sums in a fixed order (the same result on every
/// machine and thread count).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

fn dot_f16(q: &[f32], row: &[f16], buf: &mut [f32; 64]) -> f32 {
    let mut acc = 0f32;
    for (qc, rc) in q.chunks(64).zip(row.chunks(64)) {
        let b = &mut buf[..rc.len()];
        rc.convert_to_f32_slice(b);
        acc += dot(qc, b);
    }
    acc
}

/// Exact cosines of `candidates` ((distance, global row), any order) against the unit vector
/// `query`; the best `k` at or above `min_cosine`, ordered by cosine descending then row.
pub fn rerank(
    gallery: &Gallery,
    query: &[f32],
    candidates: &[(u32, u64)],
    k: usize,
    min_cosine: Option<f32>,
) -> Vec<Match> {
    let mut buf = [0f32; 64];
    let mut scored: Vec<Match> = Vec::with_capacity(candidates.len());
    for &(hamming, global_row) in candidates {
        let Some((shard, row)) = gallery.locate(global_row) else {
            continue;
        };
        let floats = &gallery.shards()[shard].floats;
        let cosine = match floats.row_f32(row) {
            Some(v) => dot(query, v),
            None => dot_f16(query, floats.row_f16(row).expect("f16 shard"), &mut buf),
        };
        if min_cosine.is_some_and(|m| cosine < m) {
            continue;
        }
        scored.push(Match {
            global_row,
            shard,
            row,
            hamming,
            cosine,
        });
    }
    let order = |a: &Match, b: &Match| {
        b.cosine
            .total_cmp(&a.cosine)
            .then(a.global_row.cmp(&b.global_row))
    };
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, order);
        scored.truncate(k);
    }
    scored.sort_unstable_by(order);
    scored
}

#[cfg(test)]
mod tests {
    #[test]
    fn dot_matches_f64_reference() {
        for n in [1usize, 7, 8, 9, 64, 130] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((super::dot(&a, &b) as f64 - want).abs() < 1e-4, "n {n}");
        }
    }
}
