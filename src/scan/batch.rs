//! The blocked batch scan: tiles of (query group × code chunk). A chunk of codes small enough
//! to stay in L1/L2 is scanned by every query of the group before the next chunk is loaded, so
//! code bytes stream from memory once per group rather than once per query. Rayon splits work
//! over query groups and, when there are few groups, over ranges of the gallery too; per-range
//! results merge by (distance, global row), so the output never depends on the thread count.

use rayon::prelude::*;

use super::blocks::BLOCK_ROWS;
use super::topc::{merge_best, TopC};
use super::Kernel;
use crate::store::Gallery;

/// Bytes of codes per chunk (kept in L1 while a query group passes over it).
const CHUNK_BYTES: usize = 16 << 10;
/// Queries per group.
pub const GROUP: usize = 64;

/// Counters of a scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanStats {
    /// Query × gallery-row distance computations.
    pub pairs: u64,
}

/// A run of blocks of one shard.
#[derive(Debug, Clone, Copy)]
struct Segment {
    shard: usize,
    first_block: usize,
    blocks: usize,
}

/// Blocks of `words`-word codes per chunk (at least 1).
pub fn chunk_blocks(words: usize) -> usize {
    (CHUNK_BYTES / (BLOCK_ROWS * words * 8)).max(1)
}

fn segments(gallery: &Gallery, words: usize) -> Vec<Segment> {
    let chunk_blocks = chunk_blocks(words);
    let mut v = Vec::new();
    for (i, s) in gallery.shards().iter().enumerate() {
        let n = s.codes.blocks();
        let mut b = 0;
        while b < n {
            let len = chunk_blocks.min(n - b);
            v.push(Segment {
                shard: i,
                first_block: b,
                blocks: len,
            });
            b += len;
        }
    }
    v
}

/// The Hamming top-`candidates` (distance, global row) of every query over the gallery's live
/// rows, best first. `queries` holds row-major codes of the gallery's length.
pub fn scan_batch(
    gallery: &Gallery,
    queries: &[u64],
    candidates: usize,
    kernel: Kernel,
) -> (Vec<Vec<(u32, u64)>>, ScanStats) {
    let (mut lists, stats) = scan_batch_unsorted(gallery, queries, candidates, kernel);
    lists.par_iter_mut().for_each(|l| l.sort_unstable());
    (lists, stats)
}

/// Like [`scan_batch`], each query's list in no particular order (the rerank reorders them
/// anyway).
pub fn scan_batch_unsorted(
    gallery: &Gallery,
    queries: &[u64],
    candidates: usize,
    kernel: Kernel,
) -> (Vec<Vec<(u32, u64)>>, ScanStats) {
    let words = gallery.bits() / 64;
    assert_eq!(queries.len() % words, 0, "query codes of the wrong length");
    let nq = queries.len() / words;
    let segs = segments(gallery, words);
    if nq == 0 {
        return (Vec::new(), ScanStats::default());
    }
    let groups = nq.div_ceil(GROUP);
    let target_tasks = 4 * rayon::current_num_threads();
    let ranges = target_tasks.div_ceil(groups).clamp(1, segs.len().max(1));
    let per_range = segs.len().div_ceil(ranges).max(1);
    let tasks: Vec<(usize, usize)> = (0..groups)
        .flat_map(|g| (0..ranges).map(move |r| (g, r)))
        .collect();
    let results: Vec<Vec<Vec<(u32, u64)>>> = tasks
        .par_iter()
        .map(|&(g, r)| {
            let q0 = g * GROUP;
            let q1 = (q0 + GROUP).min(nq);
            let lo = (r * per_range).min(segs.len());
            let hi = ((r + 1) * per_range).min(segs.len());
            scan_tile(
                gallery,
                &queries[q0 * words..q1 * words],
                &segs[lo..hi],
                candidates,
                kernel,
            )
        })
        .collect();
    // results[g * ranges + r][q]: merge the ranges of each query.
    let mut out = Vec::with_capacity(nq);
    let mut iter = results.into_iter();
    for g in 0..groups {
        let parts: Vec<Vec<Vec<(u32, u64)>>> =
            (0..ranges).map(|_| iter.next().expect("task")).collect();
        let n = (nq - g * GROUP).min(GROUP);
        let mut per_query: Vec<Vec<Vec<(u32, u64)>>> =
            (0..n).map(|_| Vec::with_capacity(ranges)).collect();
        for part in parts {
            for (q, list) in part.into_iter().enumerate() {
                per_query[q].push(list);
            }
        }
        out.extend(
            per_query
                .into_iter()
                .map(|lists| merge_best(lists, candidates)),
        );
    }
    let rows: u64 = gallery.total_rows();
    (
        out,
        ScanStats {
            pairs: rows * nq as u64,
        },
    )
}

/// The candidate lists of a few queries (at most [`GROUP`] for cache efficiency) over the
/// whole gallery, on the calling thread: the building block of pipelined batch jobs, which
/// run many groups in parallel and consume each group's candidates at once.
pub fn scan_group(
    gallery: &Gallery,
    queries: &[u64],
    candidates: usize,
    kernel: Kernel,
) -> Vec<Vec<(u32, u64)>> {
    let segs = segments(gallery, gallery.bits() / 64);
    scan_tile(gallery, queries, &segs, candidates, kernel)
}

/// One tile: every query of a group over a run of segments.
fn scan_tile(
    gallery: &Gallery,
    queries: &[u64],
    segs: &[Segment],
    candidates: usize,
    kernel: Kernel,
) -> Vec<Vec<(u32, u64)>> {
    let words = gallery.bits() / 64;
    let nq = queries.len() / words;
    let mut tops: Vec<TopC> = (0..nq).map(|_| TopC::new(candidates)).collect();
    let max_blocks = segs.iter().map(|s| s.blocks).max().unwrap_or(0);
    let mut dist = vec![0u32; max_blocks * BLOCK_ROWS];
    for seg in segs {
        let shard = &gallery.shards()[seg.shard];
        let all = shard.codes.blocks_words();
        let start = seg.first_block * BLOCK_ROWS * words;
        let codes = &all[start..start + seg.blocks * BLOCK_ROWS * words];
        let first_local = seg.first_block * BLOCK_ROWS;
        // Padding rows of the last block are never offered.
        let real = (shard.rows() - first_local).min(seg.blocks * BLOCK_ROWS);
        let first_global = shard.first_row + first_local as u64;
        let out = &mut dist[..seg.blocks * BLOCK_ROWS];
        for (q, top) in tops.iter_mut().enumerate() {
            (kernel.blocks)(&queries[q * words..(q + 1) * words], codes, out);
            match &shard.tombstones {
                None => top.offer(&out[..real], first_global, |_| true),
                Some(t) => top.offer(&out[..real], first_global, |i| !t.contains(first_local + i)),
            }
        }
    }
    tops.into_iter().map(TopC::into_unsorted).collect()
}
