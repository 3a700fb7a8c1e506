//! The scan benchmark (`faceflash-batch bench scan`): kernels side by side, memory read
//! bandwidth, batched exact Hamming top-100, identify throughput and recall@1 against exact
//! cosine, single-query latency, resident memory. All figures from one run, medians.

use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::Serialize;

use super::memory::{resident, Resident};
use crate::scan::{kernels, scan_batch, Kernel, SearchParams, BLOCK_ROWS};
use crate::store::Gallery;

/// What to measure.
#[derive(Debug, Clone)]
pub struct ScanBenchParams {
    /// Results per query.
    pub k: usize,
    /// Candidate counts to measure identify at (the calibrated default is always measured).
    pub candidates: Vec<usize>,
    /// Float rows reranked per query to measure at (0: every candidate, no asymmetric
    /// narrowing); empty: the default only.
    pub rerank: Vec<usize>,
    /// Queries whose exact-cosine neighbour is computed for recall@1.
    pub recall_queries: usize,
    /// Single queries timed one by one.
    pub single_queries: usize,
    /// Runs of each timed measurement (medians reported).
    pub repeat: usize,
}

/// One kernel's speed on one query.
#[derive(Debug, Clone, Serialize)]
pub struct KernelFigure {
    pub name: String,
    /// Over a 16 KB chunk kept in L1 (compute-bound), code pairs/s on one thread.
    pub in_cache_pairs_per_second: f64,
    /// Over the whole gallery (memory-bound), code pairs/s on one thread.
    pub streaming_pairs_per_second: f64,
}

/// Identify at one candidate count.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifyFigure {
    pub candidates: usize,
    /// Float rows reranked per query (after asymmetric narrowing), `None`: all candidates.
    pub rerank: Option<usize>,
    pub default: bool,
    pub queries_per_second: f64,
    pub recall_at_1: f64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct ScanBenchReport {
    pub gallery_rows: u64,
    pub dim: usize,
    pub bits: usize,
    pub queries: usize,
    pub threads: usize,
    pub kernel: String,
    pub kernels: Vec<KernelFigure>,
    /// Sequential read bandwidth, GB/s, one thread and all threads.
    pub read_gbps_1_thread: f64,
    pub read_gbps_all_threads: f64,
    /// Batched exact Hamming top-100 (no rerank), code pairs/s.
    pub exact_top100_pairs_per_second_1_thread: f64,
    pub exact_top100_pairs_per_second_all_threads: f64,
    pub identify: Vec<IdentifyFigure>,
    /// Median time of one query (default candidates, all threads), milliseconds.
    pub single_query_ms: f64,
    /// Time to stream the gallery's code bytes at the measured all-thread bandwidth.
    pub code_stream_ms: f64,
    pub resident_after: Option<Resident>,
}

fn median(v: Vec<f64>) -> f64 {
    super::stats::median(&v)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

/// Runs `f` on a pool of one thread.
fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool")
        .install(f)
}

/// Sequential read bandwidth over a buffer larger than the caches, GB/s.
pub fn read_bandwidth(threads_all: bool, repeat: usize) -> f64 {
    let buf: Vec<u64> = (0..(256usize << 20) / 8).map(|i| i as u64).collect();
    let run = || {
        let (sum, s) = timed(|| {
            buf.par_chunks(1 << 16)
                .map(|c| c.iter().fold(0u64, |a, &b| a.wrapping_add(b)))
                .reduce(|| 0, u64::wrapping_add)
        });
        std::hint::black_box(sum);
        (buf.len() * 8) as f64 / s / 1e9
    };
    let v: Vec<f64> = (0..repeat.max(3))
        .map(|_| if threads_all { run() } else { one_thread(run) })
        .collect();
    median(v)
}

fn kernel_figure(k: Kernel, g: &Gallery, query: &[u64], repeat: usize) -> KernelFigure {
    let words = query.len();
    let shard = &g.shards()[0];
    let all = shard.codes.blocks_words();
    let chunk_blocks = ((16 << 10) / (BLOCK_ROWS * words * 8)).clamp(1, shard.codes.blocks());
    let chunk = &all[..chunk_blocks * BLOCK_ROWS * words];
    let mut out = vec![0u32; chunk_blocks * BLOCK_ROWS];
    let reps = (4_000_000 / (chunk_blocks * BLOCK_ROWS)).max(1);
    let in_cache = median(
        (0..repeat)
            .map(|_| {
                let (_, s) = timed(|| {
                    for _ in 0..reps {
                        (k.blocks)(query, chunk, &mut out);
                        std::hint::black_box(&out);
                    }
                });
                (reps * chunk_blocks * BLOCK_ROWS) as f64 / s
            })
            .collect(),
    );
    let streaming = median(
        (0..repeat)
            .map(|_| {
                let mut rows = 0usize;
                let (_, s) = timed(|| {
                    for sh in g.shards() {
                        let words_all = sh.codes.blocks_words();
                        for c in words_all.chunks(chunk_blocks * BLOCK_ROWS * words) {
                            let n = c.len() / words;
                            (k.blocks)(query, c, &mut out[..n]);
                            rows += n;
                        }
                    }
                    std::hint::black_box(&out);
                });
                rows as f64 / s
            })
            .collect(),
    );
    KernelFigure {
        name: k.name.to_string(),
        in_cache_pairs_per_second: in_cache,
        streaming_pairs_per_second: streaming,
    }
}

/// Exact cosine nearest live neighbour (max cosine, then lowest row) of each unit query, by
/// blocked matrix products over the float shards.
pub fn exact_nearest(g: &Gallery, queries: &[f32]) -> Vec<(f32, u64)> {
    let dim = g.dim();
    let nq = queries.len() / dim;
    let q = ArrayView2::from_shape((nq, dim), queries).expect("query shape");
    let mut jobs = Vec::new();
    for (si, s) in g.shards().iter().enumerate() {
        let mut r = 0;
        while r < s.rows() {
            let n = 4096.min(s.rows() - r);
            jobs.push((si, r, n));
            r += n;
        }
    }
    let parts: Vec<Vec<(f32, u64)>> = jobs
        .par_iter()
        .map(|&(si, r0, n)| {
            let s = &g.shards()[si];
            let mut m = Array2::<f32>::zeros((n, dim));
            for (i, mut row) in m.rows_mut().into_iter().enumerate() {
                s.floats
                    .vector(r0 + i, row.as_slice_mut().expect("contiguous"));
            }
            let sims = q.dot(&m.t());
            (0..nq)
                .map(|qi| {
                    let mut best = (f32::NEG_INFINITY, u64::MAX);
                    for i in 0..n {
                        if !s.is_live(r0 + i) {
                            continue;
                        }
                        let c = sims[[qi, i]];
                        if c > best.0 {
                            best = (c, s.first_row + (r0 + i) as u64);
                        }
                    }
                    best
                })
                .collect()
        })
        .collect();
    (0..nq)
        .map(|qi| {
            parts
                .iter()
                .map(|p| p[qi])
                .fold((f32::NEG_INFINITY, u64::MAX), |a, b| {
                    if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) {
                        b
                    } else {
                        a
                    }
                })
        })
        .collect()
}

/// Runs the benchmark on an open gallery and unit query vectors.
pub fn run(g: &Gallery, queries: &[f32], p: &ScanBenchParams) -> ScanBenchReport {
    let dim = g.dim();
    let nq = queries.len() / dim;
    let words = g.bits() / 64;
    let repeat = p.repeat.max(1);
    let codes = g
        .quantizer()
        .encode(queries)
        .expect("queries have the gallery's dimension");
    let kernel = crate::scan::kernel();

    let kernel_figures: Vec<KernelFigure> = kernels()
        .into_iter()
        .map(|k| kernel_figure(k, g, &codes[..words], repeat))
        .collect();
    let read_gbps_1_thread = read_bandwidth(false, repeat);
    let read_gbps_all_threads = read_bandwidth(true, repeat);

    let rows = g.total_rows() as f64;
    let exact_queries = nq.min(2048);
    let exact_codes = &codes[..exact_queries * words];
    let exact_1 = median(
        (0..repeat)
            .map(|_| one_thread(|| timed(|| scan_batch(g, exact_codes, 100, kernel)).1))
            .collect(),
    );
    let exact_all = median(
        (0..repeat)
            .map(|_| timed(|| scan_batch(g, exact_codes, 100, kernel)).1)
            .collect(),
    );
    let pairs = rows * exact_queries as f64;

    let r = p.recall_queries.min(nq);
    let truth = exact_nearest(g, &queries[..r * dim]);
    let default_c = g.default_candidates(p.k);
    let mut cs = p.candidates.clone();
    cs.push(default_c);
    cs.sort_unstable();
    cs.dedup();
    let reranks: Vec<usize> = if p.rerank.is_empty() {
        vec![crate::scan::default_rerank(p.k)]
    } else {
        p.rerank.clone()
    };
    let mut identify = Vec::new();
    for &c in &cs {
        for &rr in &reranks {
            let params = SearchParams {
                k: p.k,
                candidates: Some(c),
                min_cosine: None,
                rerank: Some(if rr == 0 { usize::MAX } else { rr }),
            };
            let mut last = Vec::new();
            let secs = median(
                (0..repeat)
                    .map(|_| {
                        let (res, s) = timed(|| g.search_unit(queries, &params).expect("search"));
                        last = res.0;
                        s
                    })
                    .collect(),
            );
            let hits = truth
                .iter()
                .zip(&last)
                .filter(|((cos, row), got)| {
                    got.first()
                        .is_some_and(|m| m.global_row == *row || (m.cosine - cos).abs() <= 1e-5)
                })
                .count();
            identify.push(IdentifyFigure {
                candidates: c,
                rerank: (rr != 0 && rr < c).then_some(rr),
                default: c == default_c && rr == crate::scan::default_rerank(p.k),
                queries_per_second: nq as f64 / secs,
                recall_at_1: hits as f64 / r.max(1) as f64,
            });
        }
    }

    let singles = p.single_queries.clamp(1, nq);
    let params = SearchParams::top(p.k);
    let single_query_ms = median(
        (0..singles)
            .map(|i| {
                timed(|| {
                    g.search_unit(&queries[i * dim..(i + 1) * dim], &params)
                        .expect("search")
                })
                .1 * 1e3
            })
            .collect(),
    );
    let code_bytes: u64 = g.shards().iter().map(|s| s.codes.resident_bytes()).sum();
    ScanBenchReport {
        gallery_rows: g.total_rows(),
        dim,
        bits: g.bits(),
        queries: nq,
        threads: rayon::current_num_threads(),
        kernel: kernel.name.to_string(),
        kernels: kernel_figures,
        read_gbps_1_thread,
        read_gbps_all_threads,
        exact_top100_pairs_per_second_1_thread: pairs / exact_1,
        exact_top100_pairs_per_second_all_threads: pairs / exact_all,
        identify,
        single_query_ms,
        code_stream_ms: code_bytes as f64 / (read_gbps_all_threads * 1e9) * 1e3,
        resident_after: resident(),
    }
}
