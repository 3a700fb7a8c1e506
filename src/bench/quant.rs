//! The quantizer benchmark (`faceflash-batch bench quant`): fit time and encode throughput on
//! a faces table, medians of repeated runs.

use std::path::PathBuf;
use std::time::Instant;

use crate::quant::{self, bit_balance, FitParams, QuantError, Quantizer};
use crate::store::{EmbeddingReader, ReadOptions};

/// What the benchmark measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuantBenchReport {
    /// Rows of the input table.
    pub rows: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Code length.
    pub bits: usize,
    /// Worker threads available.
    pub threads: usize,
    /// Fit wall times, seconds, one per run.
    pub fit_seconds: Vec<f64>,
    /// Median fit time.
    pub fit_median_seconds: f64,
    /// Encode throughput on one thread, vectors/s (median of runs).
    pub encode_per_second_1_thread: f64,
    /// Encode throughput on all threads, vectors/s (median of runs).
    pub encode_per_second_all_threads: f64,
    /// Share of ones per bit over the encoded table (min, max).
    pub bit_balance: (f64, f64),
    /// The last fitted quantizer's calibration: candidates for recall@1 ≥ 99.5%.
    pub candidates_target: Option<usize>,
    /// Rows of the calibration database.
    pub calibration_rows: usize,
    /// Dedup radii (cosine, radius).
    pub radii: Vec<(f32, Option<u32>)>,
}

use super::stats::median;

/// Fits `repeat` times on `input` and times encoding the whole table `repeat` times on one and
/// on all threads.
pub fn run(
    input: PathBuf,
    params: &FitParams,
    repeat: usize,
) -> Result<QuantBenchReport, QuantError> {
    let repeat = repeat.max(1);
    let mut vectors = Vec::new();
    let mut dim = 0;
    for batch in EmbeddingReader::new(vec![input.clone()], ReadOptions::default()) {
        let batch = batch?;
        dim = batch.dim;
        vectors.extend_from_slice(&batch.vectors);
    }
    let rows = vectors.len() / dim.max(1);
    let mut fit_seconds = Vec::new();
    let mut quantizer: Option<Quantizer> = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let q = quant::fit(
            EmbeddingReader::new(vec![input.clone()], ReadOptions::default()),
            params,
            None,
        )?;
        fit_seconds.push(start.elapsed().as_secs_f64());
        quantizer = Some(q);
    }
    let q = quantizer.expect("at least one fit");
    let time_encode = |pool: Option<&rayon::ThreadPool>| -> Result<f64, QuantError> {
        let mut rates = Vec::new();
        for _ in 0..repeat.max(3) {
            let start = Instant::now();
            match pool {
                Some(p) => p.install(|| q.encode(&vectors))?,
                None => q.encode(&vectors)?,
            };
            rates.push(rows as f64 / start.elapsed().as_secs_f64());
        }
        Ok(median(&rates))
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| QuantError::Params(e.to_string()))?;
    let encode_per_second_1_thread = time_encode(Some(&one))?;
    let encode_per_second_all_threads = time_encode(None)?;
    let codes = q.encode(&vectors)?;
    Ok(QuantBenchReport {
        rows,
        dim,
        bits: q.bits(),
        threads: rayon::current_num_threads(),
        fit_median_seconds: median(&fit_seconds),
        fit_seconds,
        encode_per_second_1_thread,
        encode_per_second_all_threads,
        bit_balance: bit_balance(&codes, q.bits()),
        candidates_target: q.calibration.candidates_target,
        calibration_rows: q.calibration.database_rows,
        radii: q
            .calibration
            .radii
            .iter()
            .map(|r| (r.cosine, r.radius))
            .collect(),
    })
}
