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
    /// (cosine, Hamming distance) of every pair at or above the lowest radius threshold.
    pairs: Vec<(f32, u32)>,
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
                pairs: Vec::new(),
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
                        result.pairs.push((c, d));
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
    let pairs: Vec<(f32, u32)> = blocks
        .iter()
        .flat_map(|b| b.pairs.iter().copied())
        .collect();
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
    let radii = radii(&pairs, bits as u32);
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
/// Below this many pairs no line is fitted: each threshold's radius is the largest distance
/// seen at or above it.
const MIN_PAIRS_FOR_FIT: usize = 30;

/// The Hamming radius of each of [`RADIUS_THRESHOLDS`] from the (cosine, distance) pairs at or
/// above the lowest threshold.
///
/// Distances fall almost linearly with the cosine, so all pairs are pooled: a least-squares
/// line d ≈ α + β·c, then the [`PAIR_KEEP`] quantile q of the residuals (a normal tail
/// estimate, mean + 3.72 sd, below [`MIN_PAIRS_FOR_QUANTILE`] residuals), and the radius at
/// threshold t is α + β·t + q — never below the largest distance seen at or above t when the
/// pairs are too few for a quantile. Pooling matters on large archives: a calibration sample
/// holds few same-person pairs at high cosines, and the largest of a few hundred would miss
/// about one pair in a few hundred. Most pooled pairs sit near the lowest threshold, where
/// the spread is widest, so the residual quantile errs on the safe side at higher ones.
fn radii(pairs: &[(f32, u32)], bits: u32) -> Vec<RadiusPoint> {
    let largest_at = |t: f32| pairs.iter().filter(|p| p.0 >= t).map(|p| p.1).max();
    let count_at = |t: f32| pairs.iter().filter(|p| p.0 >= t).count() as u64;
    let line = fit_line(pairs);
    RADIUS_THRESHOLDS
        .iter()
        .map(|&t| {
            let largest = largest_at(t);
            let radius = match line {
                Some((alpha, beta, q, quantile)) => {
                    let predicted = (alpha + beta * t as f64 + q).ceil().max(0.0) as u32;
                    Some(match (quantile, largest) {
                        (false, Some(l)) => predicted.max(l),
                        _ => predicted,
                    })
                }
                None => largest,
            };
            RadiusPoint {
                cosine: t,
                radius: radius.map(|r| r.min(bits)),
                pairs: count_at(t),
            }
        })
        .collect()
}

/// (α, β, residual quantile, whether the quantile was read off the data rather than a normal
/// estimate) of the least-squares line of distance on cosine; `None` with too few pairs.
fn fit_line(pairs: &[(f32, u32)]) -> Option<(f64, f64, f64, bool)> {
    if pairs.len() < MIN_PAIRS_FOR_FIT {
        return None;
    }
    let n = pairs.len() as f64;
    let mc = pairs.iter().map(|p| p.0 as f64).sum::<f64>() / n;
    let md = pairs.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let scc: f64 = pairs.iter().map(|p| (p.0 as f64 - mc).powi(2)).sum();
    let scd: f64 = pairs
        .iter()
        .map(|p| (p.0 as f64 - mc) * (p.1 as f64 - md))
        .sum();
    let beta = if scc > 1e-12 { scd / scc } else { 0.0 };
    let alpha = md - beta * mc;
    let mut resid: Vec<f64> = pairs
        .iter()
        .map(|p| p.1 as f64 - (alpha + beta * p.0 as f64))
        .collect();
    if pairs.len() >= MIN_PAIRS_FOR_QUANTILE as usize {
        let k = ((PAIR_KEEP * n).ceil() as usize).clamp(1, pairs.len()) - 1;
        let (_, q, _) = resid.select_nth_unstable_by(k, f64::total_cmp);
        return Some((alpha, beta, *q, true));
    }
    let mean = resid.iter().sum::<f64>() / n;
    let sd = (resid.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
    Some((alpha, beta, mean + PAIR_KEEP_Z * sd, false))
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
    fn radii_follow_a_pooled_line_with_a_residual_quantile() {
        // d = 300 - 200·c exactly, plus one far outlier among 20,001 pairs: a 99.99% quantile
        // ignores the outlier, and the line gives radii where no pair was seen.
        let mut pairs: Vec<(f32, u32)> = (0..20_000)
            .map(|i| {
                let c = 0.3 + 0.2 * (i as f32 / 20_000.0);
                (c, (300.0 - 200.0 * c as f64).round() as u32)
            })
            .collect();
        pairs.push((0.31, 400));
        let r = radii(&pairs, 512);
        assert_eq!(r.len(), RADIUS_THRESHOLDS.len());
        let expect = [240u32, 220, 200, 180, 160];
        for (p, want) in r.iter().zip(expect) {
            let got = p.radius.unwrap();
            assert!(got.abs_diff(want) <= 1, "{}: {got} vs {want}", p.cosine);
        }
        assert_eq!(r[4].pairs, 0, "no pair at 0.7, a radius all the same");
        // Few pairs: never below the largest seen.
        let few = [(0.5f32, 100u32); 40];
        let mut few = few.to_vec();
        few.push((0.9, 150));
        let r = radii(&few, 512);
        assert!(r[2].radius.unwrap() >= 150);
        // Too few for a line: the largest seen, none where nothing was seen.
        let r = radii(&[(0.45, 90), (0.65, 70)], 512);
        assert_eq!(r[0].radius, Some(90));
        assert_eq!(r[3].radius, Some(70));
        assert_eq!(r[4].radius, None);
    }
}
