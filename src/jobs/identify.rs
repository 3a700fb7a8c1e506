//! 1:N identification: the k best gallery matches of every query face, streamed batch by batch
//! from the query tables into a matches table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::table::gallery_provenance;
use super::{JobError, MatchesWriter, MetaCache};
use crate::progress::Progress;
use crate::scan::SearchParams;
use crate::store::{EmbeddingReader, Gallery, ReadOptions};

/// Parameters of an identify run.
#[derive(Debug, Clone, Copy)]
pub struct IdentifyParams {
    /// Search parameters (k, candidates, cosine floor).
    pub search: SearchParams,
    /// Queries per batch (read, encoded, scanned together).
    pub batch_size: usize,
}

/// What an identify run did.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifySummary {
    pub queries: u64,
    pub matches: u64,
    pub k: usize,
    pub candidates: usize,
    pub gallery_rows: u64,
    pub kernel: &'static str,
    pub seconds: f64,
    pub queries_per_second: f64,
    /// Query × code distance computations per second over the whole run.
    pub pairs_per_second: f64,
    /// This process's resident memory at the end (mapped shards vs heap; Linux only).
    pub resident: Option<crate::bench::memory::Resident>,
}

/// Runs identification of the faces in `queries` against `gallery`, writing `output`.
pub fn identify(
    gallery: &Gallery,
    queries: Vec<PathBuf>,
    read: ReadOptions,
    output: &Path,
    params: &IdentifyParams,
    progress: Option<&Progress>,
) -> Result<IdentifySummary, JobError> {
    let k = params.search.k;
    if k == 0 {
        return Err(JobError::Params("-k must be at least 1".into()));
    }
    let candidates = params
        .search
        .candidates
        .unwrap_or_else(|| gallery.default_candidates(k))
        .max(k);
    let search = SearchParams {
        candidates: Some(candidates),
        ..params.search
    };
    let provenance = gallery_provenance(
        "identify",
        "gallery",
        gallery,
        &serde_json::json!({
            "k": k,
            "candidates": candidates,
            "rerank": params.search.rerank.unwrap_or_else(|| crate::scan::default_rerank(k)),
            "min_cosine": params.search.min_cosine,
            "queries": queries.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }),
    );
    let mut writer = MatchesWriter::create(output, &provenance)?;
    let meta = MetaCache::new(gallery);
    let start = Instant::now();
    let (mut n_queries, mut pairs) = (0u64, 0u64);
    let reader = EmbeddingReader::new(
        queries,
        ReadOptions {
            batch_size: params.batch_size.max(1),
            ..read
        },
    );
    for batch in reader {
        let batch = batch?;
        super::check_batch_dim(&batch, gallery)?;
        let (results, stats) = gallery.search_unit(&batch.vectors, &search)?;
        pairs += stats.pairs;
        for (q, matches) in results.iter().enumerate() {
            let query_id = batch.face_id.value(q);
            for (rank, m) in matches.iter().enumerate() {
                let (face_id, identity) = meta.face(m.shard, m.row)?;
                writer.push(
                    query_id,
                    rank as u32 + 1,
                    face_id,
                    identity,
                    m.cosine,
                    m.hamming,
                )?;
            }
        }
        n_queries += batch.len() as u64;
        if let Some(p) = progress {
            p.inc(batch.len() as u64);
        }
    }
    let matches = writer.finish()?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(IdentifySummary {
        queries: n_queries,
        matches,
        k,
        candidates,
        gallery_rows: gallery.live_rows(),
        kernel: crate::scan::kernel().name,
        seconds,
        queries_per_second: n_queries as f64 / seconds.max(1e-9),
        pairs_per_second: pairs as f64 / seconds.max(1e-9),
        resident: crate::bench::memory::resident(),
    })
}
