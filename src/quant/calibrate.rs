//! Calibration on held-out rows: how many Hamming candidates reach recall@1 ≥ 99.5% against
//! exact cosine, and which Hamming radius keeps ≥ 99.99% of the pairs above a cosine.

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::{Calibration, RadiusPoint, RecallPoint};
use crate::scan::distances;

/// Cosine thresholds whose Hamming radius is calibrated.
pub const RADIUS_THRESHOLDS: [f32; 5] = [0.3, 0.4, 0.5, 0.6, 0.7];
/// Recall target for the default candidate count: the identify target (99.5%). The held-out
/// queries are harder than typical ones (in a sample of a large archive most have no other
/// face of their identity, so their neighbour is the best impostor), which keeps the default
/// on the safe side.
pub const RECALL_TARGET: f64 = 0.995;
/// Share of pairs a radius must keep.
pub const PAIR_KEEP: f64 = 0.9999;
/// Below this many pairs the radius is the largest distance seen, not a quantile.
const MIN_PAIRS_FOR_QUANTILE: u64 = 10_000;
const QUERY_BLOCK: usize = 64;

/// Rank quantile whose growth with the database size is fitted.
const GROWTH_QUANTILE: f64 = 0.99;
/// Database subsamples (every s-th row) at which the candidate count is also measured, to
/// learn how it grows with the gallery size.
const STRIDES: [usize; 4] = [1, 2, 4, 8];
/// Subsamples smaller than this are not used for the growth fit.
const MIN_SUBSAMPLE_ROWS: usize = 2_000;

struct BlockResult {
    /// Per stride, the rank of each query's exact neighbour within that subsample.
    ranks: Vec<Vec<usize>>,
    histograms: Vec<Vec<u64>>,
}

/// Measures the calibration table for `queries` against `database` (row-major unit
/// vectors of `dim`) with their codes (`words` u64 per row).
pub fn calibrate(
    queries: &[f32],
    query_codes: &[u64],
    database: &[f32],
    database_codes: &[u64],
    dim: usize,
    words: usize,
) -> Calibration {
    let n_db = database.len() / dim;
    let n_q = queries.len() / dim;
    if n_db == 0 || n_q == 0 {
        return Calibration::default();
    }
    let bits = words * 64;
    let db = ArrayView2::from_shape((n_db, dim), database).expect("database shape");
    let blocks: Vec<BlockResult> = queries
        .par_chunks(QUERY_BLOCK * dim)
        .zip(query_codes.par_chunks(QUERY_BLOCK * words))
        .map(|(qv, qc)| {
            let rows = qv.len() / dim;
            let q = ArrayView2::from_shape((rows, dim), qv).expect("query shape");
            let cos = q.dot(&db.t());
            let mut result = BlockResult {
                ranks: vec![Vec::with_capacity(rows); STRIDES.len()],
                histograms: vec![vec![0u64; bits + 1]; RADIUS_THRESHOLDS.len()],
            };
            let mut dist = vec![0u32; n_db];
            for i in 0..rows {
                distances(&qc[i * words..(i + 1) * words], database_codes, &mut dist);
                let row = cos.row(i);
                for (ranks, &stride) in result.ranks.iter_mut().zip(&STRIDES) {
                    let mut nn = 0;
                    for j in (0..n_db).step_by(stride) {
                        if row[j] > row[nn] {
                            nn = j;
                        }
                    }
                    // 1-based rank of the exact neighbour in (distance, row) order.
                    let dn = dist[nn];
                    let ahead = (0..n_db)
                        .step_by(stride)
                        .filter(|&j| dist[j] < dn || (dist[j] == dn && j < nn))
                        .count();
                    ranks.push(ahead + 1);
                }
                for (&c, &d) in row.iter().zip(&dist) {
                    if c >= RADIUS_THRESHOLDS[0] {
                        for (t, hist) in RADIUS_THRESHOLDS.iter().zip(result.histograms.iter_mut())
                        {
                            if c >= *t {
                                hist[d as usize] += 1;
                            }
                        }
                    }
                }
            }
            result
        })
        .collect();

    let index = ((RECALL_TARGET * n_q as f64).ceil() as usize).clamp(1, n_q) - 1;
    // The growth is fitted on a less extreme quantile (99%), which many more queries
    // support than the 99.5% one (10 of 2,000).
    let fit_index = ((GROWTH_QUANTILE * n_q as f64).ceil() as usize).clamp(1, n_q) - 1;
    let mut by_rows = Vec::new();
    let mut fit_points = Vec::new();
    for (si, &stride) in STRIDES.iter().enumerate() {
        let rows = n_db.div_ceil(stride);
        if stride > 1 && rows < MIN_SUBSAMPLE_ROWS {
            continue;
        }
        let mut r: Vec<usize> = blocks
            .iter()
            .flat_map(|b| b.ranks[si].iter().copied())
            .collect();
        r.sort_unstable();
        by_rows.push((rows, r[index]));
        fit_points.push((rows, r[fit_index]));
    }
    let growth_exponent = growth_exponent(&fit_points);
    let mut ranks: Vec<usize> = blocks
        .iter()
        .flat_map(|b| b.ranks[0].iter().copied())
        .collect();
    let mut histograms = vec![vec![0u64; bits + 1]; RADIUS_THRESHOLDS.len()];
    for b in &blocks {
        for (total, h) in histograms.iter_mut().zip(&b.histograms) {
            total.iter_mut().zip(h).for_each(|(t, v)| *t += v);
        }
    }
    ranks.sort_unstable();
    let recall_at = |c: usize| ranks.partition_point(|&r| r <= c) as f64 / n_q as f64;
    let mut recall: Vec<RecallPoint> = [
        1usize, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000,
    ]
    .iter()
    .copied()
    .filter(|&c| c < n_db)
    .chain(std::iter::once(n_db))
    .map(|c| RecallPoint {
        candidates: c,
        recall_at_1: recall_at(c),
    })
    .collect();
    recall.dedup_by_key(|p| p.candidates);
    let candidates_target = Some(ranks[index]);
    let radii = RADIUS_THRESHOLDS
        .iter()
        .zip(&histograms)
        .map(|(&cosine, hist)| RadiusPoint {
            cosine,
            radius: radius_from_histogram(hist),
            pairs: hist.iter().sum(),
        })
        .collect();
    Calibration {
        queries: n_q,
        database_rows: n_db,
        recall,
        recall_target: RECALL_TARGET,
        candidates_target,
        radii,
        candidates_by_rows: by_rows,
        growth_exponent,
    }
}

/// Least-squares slope of ln(candidates) against ln(rows), clamped to 0.25..=1 (linear growth,
/// the worst case, when there is too little to fit).
fn growth_exponent(points: &[(usize, usize)]) -> f64 {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.1 >= 5)
        .map(|&(n, c)| ((n as f64).ln(), (c as f64).ln()))
        .collect();
    if pts.len() < 3 {
        return 1.0;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return 1.0;
    }
    (sxy / sxx).clamp(0.25, 1.0)
}

/// One-sided normal quantile of [`PAIR_KEEP`] (99.99%).
const PAIR_KEEP_Z: f64 = 3.719;

/// The radius keeping [`PAIR_KEEP`] of the pairs. With too few pairs for that quantile to be
/// read off the histogram, a normal tail estimate (mean + 3.72 sd of the distances), or the
/// largest distance seen when that is larger: the largest of a few hundred pairs alone would
/// miss about one pair in a few hundred.
fn radius_from_histogram(hist: &[u64]) -> Option<u32> {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return None;
    }
    if total < MIN_PAIRS_FOR_QUANTILE {
        let largest = hist.iter().rposition(|&c| c > 0)? as u32;
        let n = total as f64;
        let mean = hist
            .iter()
            .enumerate()
            .map(|(d, &c)| d as f64 * c as f64)
            .sum::<f64>()
            / n;
        let var = hist
            .iter()
            .enumerate()
            .map(|(d, &c)| (d as f64 - mean).powi(2) * c as f64)
            .sum::<f64>()
            / n;
        let tail = (mean + PAIR_KEEP_Z * var.sqrt()).ceil() as u32;
        return Some(largest.max(tail).min((hist.len() - 1) as u32));
    }
    let need = (PAIR_KEEP * total as f64).ceil() as u64;
    let mut cumulative = 0;
    for (r, &c) in hist.iter().enumerate() {
        cumulative += c;
        if cumulative >= need {
            return Some(r as u32);
        }
    }
    Some((hist.len() - 1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_exponent_fits_a_power_law() {
        let pts: Vec<(usize, usize)> = [6000usize, 12_000, 24_000, 48_000]
            .iter()
            .map(|&n| (n, (0.5 * (n as f64).powf(0.7)) as usize))
            .collect();
        assert!((growth_exponent(&pts) - 0.7).abs() < 0.02);
        assert_eq!(growth_exponent(&pts[..2]), 1.0, "too few points: linear");
        assert_eq!(
            growth_exponent(&[(10, 1), (20, 1), (40, 2)]),
            1.0,
            "tiny counts are noise"
        );
    }

    #[test]
    fn radius_is_a_quantile_or_the_maximum() {
        let mut hist = vec![0u64; 65];
        hist[3] = 5;
        hist[9] = 1;
        // Few pairs: mean 4, sd √5, 4 + 3.719·2.236 = 12.3 → 13.
        assert_eq!(
            radius_from_histogram(&hist),
            Some(13),
            "few pairs: normal tail"
        );
        hist[3] = 0;
        hist[9] = 1;
        assert_eq!(
            radius_from_histogram(&hist),
            Some(9),
            "one pair: the largest seen"
        );
        let mut hist = vec![0u64; 65];
        hist[10] = 99_990;
        hist[20] = 9;
        hist[40] = 1;
        // 99.99% of 100,000 = 99,990 pairs are within 10.
        assert_eq!(radius_from_histogram(&hist), Some(10));
        assert_eq!(radius_from_histogram(&[0, 0]), None);
    }
}
