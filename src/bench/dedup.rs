//! The dedup benchmark (`faceflash-batch bench dedup`): the self-join's time and throughput,
//! and its pair recall against exact brute force (every pair's cosine by matrix products,
//! confirmed with the engine's own dot product), with resident memory.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use ndarray::{s, Array2};
use rayon::prelude::*;
use serde::Serialize;

use super::memory::{resident, Resident};
use crate::jobs::{dedup, DedupParams, DedupSummary, JobError};
use crate::scan::dot;
use crate::store::Gallery;

/// Rows per tile of the brute-force products.
const TILE: usize = 1024;

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct DedupBenchReport {
    pub dedup: DedupSummary,
    /// Exact pairs at or above the threshold (when brute force ran).
    pub exact_pairs: Option<u64>,
    /// Share of the exact pairs the dedup found.
    pub pair_recall: Option<f64>,
    /// Pairs the dedup reported that brute force did not (must be 0).
    pub false_pairs: Option<u64>,
    pub brute_force_seconds: Option<f64>,
    pub resident_after_dedup: Option<Resident>,
}

/// Runs dedup over `gallery` into `output`, and brute force when `exact`.
pub fn run(
    gallery: &Gallery,
    output: &Path,
    threshold: f32,
    radius: Option<u32>,
    exact: bool,
) -> Result<DedupBenchReport, JobError> {
    let params = DedupParams {
        threshold,
        radius,
        keep_edges: exact,
    };
    let result = dedup(gallery, output, &params, None)?;
    let resident_after_dedup = resident();
    let mut report = DedupBenchReport {
        dedup: result.summary,
        exact_pairs: None,
        pair_recall: None,
        false_pairs: None,
        brute_force_seconds: None,
        resident_after_dedup,
    };
    if let Some(mut edges) = result.edges {
        let mut found = HashSet::with_capacity(edges.len() as usize);
        edges.for_each(|e| {
            found.insert((e.a, e.b));
        })?;
        let start = Instant::now();
        let truth = exact_pairs(gallery, threshold);
        report.brute_force_seconds = Some(start.elapsed().as_secs_f64());
        let hit = truth.iter().filter(|p| found.contains(p)).count();
        let truth_set: HashSet<(u64, u64)> = truth.iter().copied().collect();
        report.false_pairs = Some(found.iter().filter(|p| !truth_set.contains(p)).count() as u64);
        report.exact_pairs = Some(truth.len() as u64);
        report.pair_recall = Some(if truth.is_empty() {
            1.0
        } else {
            hit as f64 / truth.len() as f64
        });
    }
    Ok(report)
}

/// Every pair of live rows (a < b, global rows) with cosine ≥ `threshold`: matrix products
/// over tiles find the pairs within 1e-4 of it, the engine's dot product decides.
pub fn exact_pairs(gallery: &Gallery, threshold: f32) -> Vec<(u64, u64)> {
    let dim = gallery.dim();
    let n = gallery.total_rows() as usize;
    let mut all = Array2::<f32>::zeros((n, dim));
    let mut live = vec![false; n];
    for s in gallery.shards() {
        for r in 0..s.rows() {
            let g = s.first_row as usize + r;
            s.floats
                .vector(r, all.row_mut(g).as_slice_mut().expect("contiguous rows"));
            live[g] = s.is_live(r);
        }
    }
    let tiles: Vec<(usize, usize)> = (0..n.div_ceil(TILE))
        .flat_map(|i| (i..n.div_ceil(TILE)).map(move |j| (i, j)))
        .collect();
    let mut pairs: Vec<(u64, u64)> = tiles
        .par_iter()
        .flat_map_iter(|&(i, j)| {
            let (a0, a1) = (i * TILE, ((i + 1) * TILE).min(n));
            let (b0, b1) = (j * TILE, ((j + 1) * TILE).min(n));
            let sims = all
                .slice(s![a0..a1, ..])
                .dot(&all.slice(s![b0..b1, ..]).t());
            let mut out = Vec::new();
            for a in a0..a1 {
                if !live[a] {
                    continue;
                }
                let va = all.row(a);
                let va = va.as_slice().expect("contiguous");
                for b in b0.max(a + 1)..b1 {
                    if live[b] && sims[[a - a0, b - b0]] >= threshold - 1e-4 {
                        let vb = all.row(b);
                        if dot(va, vb.as_slice().expect("contiguous")) >= threshold {
                            out.push((a as u64, b as u64));
                        }
                    }
                }
            }
            out
        })
        .collect();
    pairs.sort_unstable();
    pairs
}
