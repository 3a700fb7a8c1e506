//! Our side of the comparison on one prepared dataset, in two stages run as two processes
//! (as `index` and `identify` are): [`build`] fits the quantizer on the fit table and builds
//! the gallery; [`search`] opens it and measures single-query latency (one thread, normalisation and
//! encoding included), batched throughput (all threads), tie-aware recall@1 and @10 against
//! the exact ground truth at several candidate counts, the process's resident memory, and
//! the identification and verification protocols.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::data::{read_all, read_identities};
use super::protocol::{identification, verification, Identification, Verification};
use super::truth::{read_truth, recall_at};
use super::{
    AnnError, DatasetInfo, DATASET_FILE, FIT_FILE, GALLERY_FILE, QUERIES_FILE, TRUTH_FILE,
};
use crate::bench::memory::resident;
use crate::progress::Progress;
use crate::quant::{self, FitParams};
use crate::scan::{Match, SearchParams};
use crate::store::gallery::{FloatType, GalleryWriter};
use crate::store::{EmbeddingReader, Gallery, ReadOptions};

/// What to measure.
#[derive(Debug, Clone, Serialize)]
pub struct MeasureParams {
    /// Code length.
    pub bits: usize,
    /// Results per query.
    pub k: usize,
    /// Single queries timed for the latency percentiles (per operating point).
    pub latency_queries: usize,
    /// Runs of each batched measurement (the median is reported).
    pub repeat: usize,
    /// Fewer runs once a point's runs took this many seconds together (at least one run).
    pub repeat_budget_seconds: f64,
    /// Candidate counts measured besides the calibrated default and its ½×, 2× and 4×.
    pub candidates: Vec<usize>,
    /// Random probe–gallery impostor pairs of the verification protocol.
    pub impostor_pairs: usize,
    /// Seed of the fit and the impostor draw.
    pub seed: u64,
}

/// Latency percentiles of single queries, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub queries: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// One operating point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Short description (`C=…`).
    pub config: String,
    /// The calibrated default.
    pub default: bool,
    /// Hamming candidates per query.
    pub candidates: usize,
    /// Float rows reranked per query (after asymmetric narrowing of the candidates).
    pub rerank: usize,
    /// Batched queries per second, all threads (median of the runs).
    pub qps: f64,
    /// Batched runs measured.
    pub runs: usize,
    pub recall_at_1: f64,
    pub recall_at_10: f64,
    /// One thread.
    pub latency_ms: Latency,
}

/// Resident memory of the process.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Resident after the measurements (VmRSS) of the search process (which opened the
    /// built gallery, as an `identify` job does).
    pub resident_bytes: u64,
    /// Peak resident of the search process (VmHWM).
    pub peak_bytes: u64,
    /// Anonymous (heap) part of the resident set.
    pub anon_bytes: u64,
    /// File-backed part (mapped shards, the binary).
    pub file_bytes: u64,
}

/// A run's report (`results/faceflash-batch-<scale>.json`).
#[derive(Debug, Clone, Serialize)]
pub struct AnnReport {
    pub system: String,
    pub version: String,
    pub dataset: DatasetInfo,
    pub params: MeasureParams,
    pub threads: usize,
    pub kernel: String,
    pub fit_seconds: f64,
    pub build_seconds: f64,
    /// Peak resident memory of the build process (fit + index), a process of its own.
    pub build_peak_bytes: Option<u64>,
    /// Bytes of the gallery's code and float shards on disk.
    pub index_bytes: u64,
    pub code_bytes: u64,
    pub memory: Option<Memory>,
    pub points: Vec<Point>,
    pub identification: Identification,
    pub verification: Verification,
}

/// Gallery codes (global row order) and query codes, `bits / 8` bytes a row, written beside
/// the dataset for `compare_peers.py` (FAISS IndexBinaryFlat on our own codes).
pub const GALLERY_CODES_FILE: &str = "gallery_codes.u8";
/// See [`GALLERY_CODES_FILE`].
pub const QUERY_CODES_FILE: &str = "query_codes.u8";

fn export_codes(g: &Gallery, queries: &[f32], dir: &Path) -> Result<(), AnnError> {
    let words = g.bits() / 64;
    let mut code = vec![0u64; words];
    let mut gallery = Vec::with_capacity(g.total_rows() as usize * words * 8);
    for s in g.shards() {
        for r in 0..s.rows() {
            s.codes.code(r, &mut code);
            gallery.extend(code.iter().flat_map(|w| w.to_le_bytes()));
        }
    }
    let query: Vec<u8> = g
        .quantizer()
        .encode(queries)?
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    for (name, bytes) in [(GALLERY_CODES_FILE, gallery), (QUERY_CODES_FILE, query)] {
        let path = dir.join(name);
        let out = crate::store::AtomicOutput::create(&path)?;
        std::io::Write::write_all(&mut out.file()?, &bytes).map_err(|e| AnnError::io(&path, e))?;
        out.commit()?;
    }
    Ok(())
}

/// Percentile `p` (0–100) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool")
        .install(f)
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

/// Figures of the build stage (fit + index), measured in a process of its own.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BuildFigures {
    pub fit_seconds: f64,
    pub build_seconds: f64,
    /// Peak resident memory of the build process (VmHWM), if known.
    pub peak_bytes: Option<u64>,
}

/// Reads a dataset directory's `dataset.json`.
pub fn dataset_info(dir: &Path) -> Result<DatasetInfo, AnnError> {
    let info_path = dir.join(DATASET_FILE);
    let text = std::fs::read_to_string(&info_path).map_err(|e| AnnError::io(&info_path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| AnnError::data(&info_path, format!("not a dataset description: {e}")))
}

/// The build stage: fits the quantizer on the fit table and writes the gallery of the
/// dataset in `dir` to `gallery_dir` (which must not exist).
pub fn build(dir: &Path, gallery_dir: &Path, p: &MeasureParams) -> Result<BuildFigures, AnnError> {
    let dataset = dataset_info(dir)?;
    let start = Instant::now();
    let progress = Progress::new("bench ann: fit", "rows", Some(dataset.fit_rows as u64));
    let quantizer = quant::fit(
        EmbeddingReader::new(vec![dir.join(FIT_FILE)], ReadOptions::default()),
        &FitParams {
            bits: p.bits,
            seed: p.seed,
            ..FitParams::default()
        },
        Some(&progress),
    )?;
    progress.finish();
    let fit_seconds = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let options = ReadOptions::default();
    let skip = vec![
        options.column.clone(),
        options.id_column.clone(),
        options.identity_column.clone(),
    ];
    let mut writer = GalleryWriter::create(gallery_dir, quantizer, FloatType::F32, 1 << 20, skip)?;
    let progress = Progress::new(
        "bench ann: build",
        "faces",
        Some(dataset.gallery_rows as u64),
    );
    for batch in EmbeddingReader::new(
        vec![dir.join(GALLERY_FILE)],
        ReadOptions {
            keep_columns: true,
            ..options
        },
    ) {
        let batch = batch?;
        writer.push(&batch)?;
        progress.inc(batch.len() as u64);
    }
    writer.finish()?;
    progress.finish();
    Ok(BuildFigures {
        fit_seconds,
        build_seconds: start.elapsed().as_secs_f64(),
        peak_bytes: resident().map(|r| r.peak),
    })
}

/// The (candidates, rerank) pairs measured: the calibrated default `c0` with its ¼×, ½×, 2×
/// and 4× (and any `extra` counts) at the default rerank, then ½× and 4× with four times the
/// float rows reranked (at a million rows the rerank, not the candidates, bounds recall).
fn operating_points(c0: usize, rerank0: usize, k: usize, extra: &[usize]) -> Vec<(usize, usize)> {
    let mut cs: Vec<usize> = [c0 / 4, c0 / 2, c0, 2 * c0, 4 * c0]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|c| c.max(k))
        .collect();
    cs.sort_unstable();
    cs.dedup();
    let mut settings: Vec<(usize, usize)> = cs.iter().map(|&c| (c, rerank0)).collect();
    for c in [c0 / 2, 4 * c0] {
        let c = c.max(k);
        if !settings.contains(&(c, 4 * rerank0)) {
            settings.push((c, 4 * rerank0));
        }
    }
    settings
}

/// The search stage: measures the gallery in `gallery_dir` (built by [`build`] from the
/// dataset in `dir`) and completes the report with the build's figures.
pub fn search(
    dir: &Path,
    gallery_dir: &Path,
    built: BuildFigures,
    p: &MeasureParams,
) -> Result<AnnReport, AnnError> {
    let dataset = dataset_info(dir)?;
    let g = Gallery::open(gallery_dir)?;
    let code_bytes: u64 = g.shards().iter().map(|s| s.codes.resident_bytes()).sum();
    let index_bytes = std::fs::read_dir(gallery_dir)
        .map_err(|e| AnnError::io(gallery_dir, e))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    let (queries, query_ids) = read_all(&dir.join(QUERIES_FILE))?;
    export_codes(&g, &queries, dir)?;
    let gallery_ids = read_identities(&dir.join(GALLERY_FILE))?;
    let truth = read_truth(&dir.join(TRUTH_FILE), query_ids.len())?;
    let dim = g.dim();
    let nq = query_ids.len();

    let c0 = g.default_candidates(p.k);
    let rerank0 = crate::scan::default_rerank(p.k);
    let settings = operating_points(c0, rerank0, p.k, &p.candidates);
    let mut points = Vec::new();
    let mut default_top1 = Vec::new();
    for &(c, rerank) in &settings {
        let is_default = c == c0 && rerank == rerank0;
        let params = SearchParams {
            k: p.k,
            candidates: Some(c),
            min_cosine: None,
            rerank: Some(rerank),
        };
        let mut results: Vec<Vec<Match>> = Vec::new();
        let mut secs = Vec::new();
        while secs.len() < p.repeat.max(1)
            && (secs.is_empty() || secs.iter().sum::<f64>() < p.repeat_budget_seconds)
        {
            let t = Instant::now();
            results = g.search_batch(&queries, &params)?;
            secs.push(t.elapsed().as_secs_f64());
        }
        let qps = nq as f64 / crate::bench::stats::median(&secs);
        let found = |q: usize| -> Vec<f32> { results[q].iter().map(|m| m.cosine).collect() };
        let recall_at_1 = mean((0..nq).map(|q| recall_at(&truth[q], &found(q), 1)));
        let recall_at_10 = mean((0..nq).map(|q| recall_at(&truth[q], &found(q), 10)));
        let singles = p.latency_queries.clamp(1, nq);
        let mut lat: Vec<f64> = one_thread(|| {
            (0..singles)
                .map(|i| {
                    let t = Instant::now();
                    let r = g.search_batch(&queries[i * dim..(i + 1) * dim], &params);
                    std::hint::black_box(r).map(|_| t.elapsed().as_secs_f64() * 1e3)
                })
                .collect::<Result<_, _>>()
        })?;
        lat.sort_by(f64::total_cmp);
        if is_default {
            default_top1 = results
                .iter()
                .map(|r| r.first().map(|m| m.global_row))
                .collect();
        }
        tracing::info!(
            candidates = c,
            rerank,
            qps,
            recall_at_1,
            recall_at_10,
            "bench ann point"
        );
        points.push(Point {
            config: format!("C={c} rerank={rerank}"),
            default: is_default,
            candidates: c,
            rerank,
            qps,
            runs: secs.len(),
            recall_at_1,
            recall_at_10,
            latency_ms: Latency {
                queries: singles,
                p50: percentile(&lat, 50.0),
                p95: percentile(&lat, 95.0),
                p99: percentile(&lat, 99.0),
            },
        });
    }
    let memory = resident().map(|r| Memory {
        resident_bytes: r.total,
        peak_bytes: r.peak,
        anon_bytes: r.anon,
        file_bytes: r.file,
    });
    let exact_top1: Vec<Option<u32>> = truth.iter().map(|t| t.first().map(|x| x.1)).collect();
    let identification = identification(&gallery_ids, &query_ids, &exact_top1, &default_top1);
    let verification = verification(
        &g,
        &gallery_ids,
        &queries,
        &query_ids,
        p.impostor_pairs,
        p.seed,
    );
    Ok(AnnReport {
        system: "faceflash-batch".into(),
        version: crate::TOOL_VERSION.into(),
        dataset,
        params: p.clone(),
        threads: rayon::current_num_threads(),
        kernel: crate::scan::kernel().name.to_string(),
        fit_seconds: built.fit_seconds,
        build_seconds: built.build_seconds,
        build_peak_bytes: built.peak_bytes,
        index_bytes,
        code_bytes,
        memory,
        points,
        identification,
        verification,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn operating_points_include_the_default_once_and_two_wider_reranks() {
        use super::operating_points;
        let pts = operating_points(1000, 256, 10, &[1000, 300]);
        assert_eq!(pts.iter().filter(|p| **p == (1000, 256)).count(), 1);
        let cs: Vec<usize> = pts.iter().filter(|p| p.1 == 256).map(|p| p.0).collect();
        assert_eq!(cs, vec![250, 300, 500, 1000, 2000, 4000]);
        assert!(pts.contains(&(500, 1024)) && pts.contains(&(4000, 1024)));
        assert_eq!(
            operating_points(8, 256, 10, &[]),
            vec![(10, 256), (16, 256), (32, 256), (10, 1024), (32, 1024)],
            "counts below k are raised to k, once"
        );
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::percentile(&v, 50.0), 50.0);
        assert_eq!(super::percentile(&v, 99.0), 99.0);
        assert_eq!(super::percentile(&v[..10], 95.0), 10.0);
    }
}
