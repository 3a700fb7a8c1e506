//! Exact cosine rerank of Hamming candidates from the float shards (f32, or f16 widened to
//! f32), then top-k by (cosine descending, global row ascending).

use half::f16;
use half::slice::HalfFloatSliceExt;
use serde::Serialize;

use super::adc::AdcTable;
use crate::store::gallery::FloatShard;
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
    #[cfg(target_arch = "x86_64")]
    return super::x86::dot_sse(a, b);
    #[cfg(not(target_arch = "x86_64"))]
    dot_portable(a, b)
}

/// The reference dot product: sixteen lane-wise running sums, reduced in a fixed order. The
/// SIMD versions reproduce it bit for bit (same products, same additions, same order).
pub fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    // Sixteen lane-wise sums map onto four SIMD registers with no shuffling.
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    let mut lanes = [0f32; 4];
    for (i, l) in lanes.iter_mut().enumerate() {
        *l = (acc[i] + acc[i + 4]) + (acc[i + 8] + acc[i + 12]);
    }
    ((lanes[0] + lanes[2]) + (lanes[1] + lanes[3])) + tail
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

/// Dot product of `query` with row `row` of a float shard (f16 rows widened to f32 through
/// `buf`).
#[inline]
pub fn row_dot(floats: &FloatShard, query: &[f32], row: usize, buf: &mut [f32; 64]) -> f32 {
    match floats.row_f32(row) {
        Some(v) => dot(query, v),
        None => dot_f16(query, floats.row_f16(row).expect("f16 shard"), buf),
    }
}

/// Exact cosines of `candidates` ((distance, global row), any order) against the unit vector
/// `query`; the best `k` at or above `min_cosine`, ordered by cosine descending then row.
/// With `adc` (the query's asymmetric tables), candidates beyond `exact` are first narrowed to
/// the `exact` best asymmetric scores (ties by row), so only those float rows are read.
pub fn rerank(
    gallery: &Gallery,
    query: &[f32],
    adc: Option<&AdcTable>,
    candidates: &[(u32, u64)],
    k: usize,
    min_cosine: Option<f32>,
    exact: usize,
) -> Vec<Match> {
    let narrowed;
    let candidates = match adc {
        Some(t) if candidates.len() > exact.max(1) => {
            narrowed = narrow(gallery, t, candidates, exact.max(1));
            &narrowed[..]
        }
        _ => candidates,
    };
    // Visit candidates in row order (sequential, page-friendly access), loading a few rows
    // ahead so the memory latency overlaps the dot products.
    const AHEAD: usize = 6;
    const PREFETCH_BYTES: usize = 4096;
    let mut located: Vec<(u64, u32, usize, usize)> = candidates
        .iter()
        .filter_map(|&(h, g)| gallery.locate(g).map(|(s, r)| (g, h, s, r)))
        .collect();
    located.sort_unstable_by_key(|c| c.0);
    let shards = gallery.shards();
    let mut buf = [0f32; 64];
    let mut scored: Vec<Match> = Vec::with_capacity(located.len());
    for (i, &(global_row, hamming, shard, row)) in located.iter().enumerate() {
        if let Some(&(_, _, s, r)) = located.get(i + AHEAD) {
            let bytes = shards[s].floats.row_bytes(r);
            super::prefetch(&bytes[..bytes.len().min(PREFETCH_BYTES)]);
        }
        let cosine = row_dot(&shards[shard].floats, query, row, &mut buf);
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

/// The `keep` candidates with the best asymmetric scores (ties by row).
fn narrow(
    gallery: &Gallery,
    adc: &AdcTable,
    candidates: &[(u32, u64)],
    keep: usize,
) -> Vec<(u32, u64)> {
    let mut code = vec![0u64; gallery.bits() / 64];
    let mut scored: Vec<(f32, u32, u64)> = candidates
        .iter()
        .filter_map(|&(d, g)| {
            let (s, r) = gallery.locate(g)?;
            gallery.shards()[s].codes.code(r, &mut code);
            Some((adc.score(&code), d, g))
        })
        .collect();
    let order = |a: &(f32, u32, u64), b: &(f32, u32, u64)| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2));
    if scored.len() > keep {
        scored.select_nth_unstable_by(keep - 1, order);
        scored.truncate(keep);
    }
    scored.into_iter().map(|(_, d, g)| (d, g)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn simd_dot_is_bit_identical_to_portable() {
        for n in [0usize, 1, 15, 16, 17, 128, 130, 512] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.77).sin() * 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.31).cos() / 7.0).collect();
            assert_eq!(
                super::dot(&a, &b).to_bits(),
                super::dot_portable(&a, &b).to_bits(),
                "n {n}"
            );
        }
    }

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
