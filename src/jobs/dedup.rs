//! Archive dedup: the similarity self-join of a gallery. Every pair of live faces with cosine
//! ≥ threshold, each once: a triangular Hamming scan within the calibrated radius on all
//! cores, then the exact cosine of each survivor. Spans of rows are joined in parallel a
//! window at a time and written in span order, so the output never depends on the thread
//! count and memory holds one window's pairs, never an N×N matrix.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::edges::{Edge, EdgeFile, EdgeSpill};
use super::pairs::PairsWriter;
use super::table::gallery_provenance;
use super::threshold::prefilter_radius;
use super::{JobError, MetaCache};
use crate::progress::Progress;
use crate::scan::row_dot;
use crate::scan::selfjoin::{self_join_span, span_pairs, spans, PairCandidate};
use crate::store::Gallery;

/// Rows per span of the self-join (a unit of parallel work).
const SPAN_ROWS: usize = 1024;

/// Parameters of a dedup run.
#[derive(Debug, Clone, Copy)]
pub struct DedupParams {
    /// Pairs with cosine at or above this are kept.
    pub threshold: f32,
    /// Hamming prefilter radius; `None`: from the quantizer's calibration.
    pub radius: Option<u32>,
    /// Also spill the pairs for clustering.
    pub keep_edges: bool,
}

/// What a dedup run did.
#[derive(Debug, Clone, Serialize)]
pub struct DedupSummary {
    pub faces: u64,
    pub threshold: f32,
    pub radius: u32,
    /// Pairs within the radius (cosine computed exactly).
    pub candidates: u64,
    /// Pairs at or above the threshold (written).
    pub pairs: u64,
    /// Code pairs compared.
    pub compared: u64,
    pub kernel: &'static str,
    pub seconds: f64,
    /// Code pairs compared per second.
    pub pairs_per_second: f64,
}

/// The result of [`dedup`]: its summary and, when asked for, the spilled pairs.
pub struct DedupOutput {
    pub summary: DedupSummary,
    pub edges: Option<EdgeFile>,
}

/// Finds every pair of live faces of `gallery` with cosine ≥ `params.threshold` and writes
/// them to `output`.
pub fn dedup(
    gallery: &Gallery,
    output: &Path,
    params: &DedupParams,
    progress: Option<&Progress>,
) -> Result<DedupOutput, JobError> {
    let radius = prefilter_radius(gallery, params.threshold, params.radius)?;
    let provenance = gallery_provenance(
        "dedup",
        "gallery",
        gallery,
        &serde_json::json!({
            "threshold": params.threshold,
            "radius": radius,
        }),
    );
    let mut writer = PairsWriter::create(output, &provenance)?;
    let mut spill = if params.keep_edges {
        Some(EdgeSpill::create(&crate::store::parent_dir(output))?)
    } else {
        None
    };
    let meta = MetaCache::new(gallery);
    let kernel = crate::scan::kernel();
    let start = Instant::now();
    let all = spans(gallery, SPAN_ROWS);
    let window = 4 * rayon::current_num_threads();
    let (mut candidates, mut compared) = (0u64, 0u64);
    for chunk in all.chunks(window) {
        let results: Vec<(usize, Vec<Pair>)> = chunk
            .par_iter()
            .map(|span| {
                let found = self_join_span(gallery, span, radius, kernel);
                let n = found.len();
                (n, exact_pairs(gallery, &found, params.threshold))
            })
            .collect();
        let mut done = 0;
        for (span, (n, pairs)) in chunk.iter().zip(results) {
            candidates += n as u64;
            done += span_pairs(gallery, span);
            for p in pairs {
                let (sa, ra) = gallery.locate(p.a).expect("row of the gallery");
                let (sb, rb) = gallery.locate(p.b).expect("row of the gallery");
                let (ida, _) = meta.face(sa, ra)?;
                let (idb, _) = meta.face(sb, rb)?;
                writer.push(ida, idb, p.cosine, p.hamming)?;
                if let Some(s) = spill.as_mut() {
                    s.push(Edge {
                        a: p.a,
                        b: p.b,
                        cosine: p.cosine,
                    })?;
                }
            }
        }
        compared += done;
        if let Some(p) = progress {
            p.inc(done);
        }
    }
    let pairs = writer.finish()?;
    let seconds = start.elapsed().as_secs_f64();
    let edges = spill.map(EdgeSpill::finish).transpose()?;
    Ok(DedupOutput {
        summary: DedupSummary {
            faces: gallery.live_rows(),
            threshold: params.threshold,
            radius,
            candidates,
            pairs,
            compared,
            kernel: kernel.name,
            seconds,
            pairs_per_second: compared as f64 / seconds.max(1e-9),
        },
        edges,
    })
}

/// Code pairs a whole self-join of `gallery` compares (the progress total).
pub fn dedup_work(gallery: &Gallery) -> u64 {
    let n = gallery.total_rows();
    n * n.saturating_sub(1) / 2
}

/// A pair that passed the exact test.
struct Pair {
    a: u64,
    b: u64,
    cosine: f32,
    hamming: u32,
}

/// The candidates (sorted by a, then b) whose exact cosine reaches `threshold`.
fn exact_pairs(gallery: &Gallery, found: &[PairCandidate], threshold: f32) -> Vec<Pair> {
    let shards = gallery.shards();
    let mut va = vec![0f32; gallery.dim()];
    let mut buf = [0f32; 64];
    let mut current = u64::MAX;
    let mut out = Vec::new();
    for c in found {
        if c.a != current {
            let (s, r) = gallery.locate(c.a).expect("row of the gallery");
            shards[s].floats.vector(r, &mut va);
            current = c.a;
        }
        let (s, r) = gallery.locate(c.b).expect("row of the gallery");
        let cosine = row_dot(&shards[s].floats, &va, r, &mut buf);
        if cosine >= threshold {
            out.push(Pair {
                a: c.a,
                b: c.b,
                cosine,
                hamming: c.hamming,
            });
        }
    }
    out
}
