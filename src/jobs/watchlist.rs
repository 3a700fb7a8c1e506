//! Watchlist joins: every face of a stream (faces tables of any size, read batch by batch)
//! whose best watchlist match reaches the threshold. Each stream face's codes are range-scanned
//! against the watchlist gallery within the calibrated Hamming radius, the survivors get their
//! exact cosine, and the best `k` at or above the threshold are written as hits.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::hits::HitsWriter;
use super::table::gallery_provenance;
use super::threshold::prefilter_radius;
use super::{JobError, MetaCache};
use crate::progress::Progress;
use crate::scan::range::range_group;
use crate::scan::{row_dot, GROUP};
use crate::store::{EmbeddingReader, Gallery, ReadOptions};

/// Parameters of a watchlist run.
#[derive(Debug, Clone, Copy)]
pub struct WatchlistParams {
    /// Hits need a cosine at or above this.
    pub threshold: f32,
    /// Hamming prefilter radius; `None`: from the quantizer's calibration.
    pub radius: Option<u32>,
    /// Hits kept per stream face (best first).
    pub k: usize,
    /// Keep only the best watchlist face of each watchlist identity among a stream face's hits
    /// (faces without identity count as their own identity).
    pub per_identity: bool,
    /// Stream faces read, encoded and scanned together.
    pub batch_size: usize,
}

/// What a watchlist run did.
#[derive(Debug, Clone, Serialize)]
pub struct WatchlistSummary {
    pub stream_faces: u64,
    pub faces_with_hits: u64,
    pub hits: u64,
    pub watchlist_faces: u64,
    pub threshold: f32,
    pub radius: u32,
    /// Watchlist faces within the radius (exact cosine computed), over all stream faces.
    pub candidates: u64,
    pub kernel: &'static str,
    pub seconds: f64,
    pub faces_per_second: f64,
}

/// One hit of a stream face.
struct Hit {
    shard: usize,
    row: usize,
    cosine: f32,
    hamming: u32,
}

/// Runs the watchlist join of the faces in `stream` against `watchlist`, writing `output`.
pub fn watchlist(
    watchlist: &Gallery,
    stream: Vec<PathBuf>,
    read: ReadOptions,
    output: &Path,
    params: &WatchlistParams,
    progress: Option<&Progress>,
) -> Result<WatchlistSummary, JobError> {
    if params.k == 0 {
        return Err(JobError::Params("-k must be at least 1".into()));
    }
    let radius = prefilter_radius(watchlist, params.threshold, params.radius)?;
    let provenance = gallery_provenance(
        "watchlist",
        "watchlist",
        watchlist,
        &serde_json::json!({
            "threshold": params.threshold,
            "radius": radius,
            "k": params.k,
            "per_identity": params.per_identity,
            "stream": stream.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }),
    );
    let mut writer = HitsWriter::create(output, &provenance)?;
    let meta = MetaCache::new(watchlist);
    if params.per_identity {
        // Load the identities up front so the parallel stage only reads them.
        for s in 0..watchlist.shards().len() {
            meta.ids(s)?;
        }
    }
    let kernel = crate::scan::kernel();
    let words = watchlist.bits() / 64;
    let dim = watchlist.dim();
    let start = Instant::now();
    let (mut faces, mut with_hits, mut candidates) = (0u64, 0u64, 0u64);
    let reader = EmbeddingReader::new(
        stream,
        ReadOptions {
            batch_size: params.batch_size.max(1),
            ..read
        },
    );
    for batch in reader {
        let batch = batch?;
        super::check_batch_dim(&batch, watchlist)?;
        let codes = watchlist.quantizer().encode(&batch.vectors)?;
        let n = batch.len();
        let groups: Vec<(u64, Vec<Vec<Hit>>)> = (0..n.div_ceil(GROUP))
            .into_par_iter()
            .map(|g| {
                let (q0, q1) = (g * GROUP, ((g + 1) * GROUP).min(n));
                let lists = range_group(watchlist, &codes[q0 * words..q1 * words], radius, kernel);
                let found: u64 = lists.iter().map(|l| l.len() as u64).sum();
                let hits = lists
                    .iter()
                    .enumerate()
                    .map(|(i, list)| {
                        let q = &batch.vectors[(q0 + i) * dim..(q0 + i + 1) * dim];
                        best_hits(watchlist, &meta, q, list, params)
                    })
                    .collect();
                (found, hits)
            })
            .collect();
        let mut q = 0;
        for (found, hits) in groups {
            candidates += found;
            for face_hits in hits {
                let face_id = batch.face_id.value(q);
                with_hits += u64::from(!face_hits.is_empty());
                for (rank, h) in face_hits.iter().enumerate() {
                    let (watch_id, watch_identity) = meta.face(h.shard, h.row)?;
                    writer.push(
                        face_id,
                        watch_id,
                        watch_identity,
                        h.cosine,
                        rank as u32 + 1,
                        h.hamming,
                    )?;
                }
                q += 1;
            }
        }
        faces += n as u64;
        if let Some(p) = progress {
            p.inc(n as u64);
        }
    }
    let hits = writer.finish()?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(WatchlistSummary {
        stream_faces: faces,
        faces_with_hits: with_hits,
        hits,
        watchlist_faces: watchlist.live_rows(),
        threshold: params.threshold,
        radius,
        candidates,
        kernel: kernel.name,
        seconds,
        faces_per_second: faces as f64 / seconds.max(1e-9),
    })
}

/// The best `k` watchlist faces of `list` (Hamming survivors) at or above the threshold, by
/// cosine descending then global row; one per identity with `per_identity`.
fn best_hits(
    watchlist: &Gallery,
    meta: &MetaCache,
    query: &[f32],
    list: &[(u32, u64)],
    params: &WatchlistParams,
) -> Vec<Hit> {
    let shards = watchlist.shards();
    let mut buf = [0f32; 64];
    let mut scored: Vec<(f32, u64, Hit)> = list
        .iter()
        .filter_map(|&(hamming, g)| {
            let (shard, row) = watchlist.locate(g)?;
            let cosine = row_dot(&shards[shard].floats, query, row, &mut buf);
            (cosine >= params.threshold).then_some((
                cosine,
                g,
                Hit {
                    shard,
                    row,
                    cosine,
                    hamming,
                },
            ))
        })
        .collect();
    scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut out: Vec<Hit> = Vec::with_capacity(params.k.min(scored.len()));
    for (_, _, hit) in scored {
        if out.len() == params.k {
            break;
        }
        if params.per_identity {
            let identity = |h: &Hit| meta.face(h.shard, h.row).ok().and_then(|f| f.1);
            let mine = identity(&hit);
            if mine.is_some() && out.iter().any(|h| identity(h) == mine) {
                continue;
            }
        }
        out.push(hit);
    }
    out
}
