//! The blocked triangular self-join: every pair of live gallery rows (a < b in global row
//! order) within a Hamming radius, each pair once. Work is cut into spans of rows; a span's
//! unit of work is its rows against every later row, scanned as groups of [`GROUP`] rows over
//! cache-sized chunks of code blocks, so the whole join reads the codes once per group and
//! never holds more than one span's candidates.

use super::batch::{chunk_blocks, GROUP};
use super::blocks::BLOCK_ROWS;
use super::range::{scan_chunk, shard_chunks};
use super::Kernel;
use crate::store::Gallery;

/// Rows of one shard whose pairs with every later row form one unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Shard index.
    pub shard: usize,
    /// First row in the shard.
    pub first_row: usize,
    /// Rows in the span.
    pub rows: usize,
}

/// One candidate pair: global rows `a < b` and their Hamming distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PairCandidate {
    /// The earlier global row.
    pub a: u64,
    /// The later global row.
    pub b: u64,
    /// Hamming distance between their codes.
    pub hamming: u32,
}

/// The gallery cut into spans of at most `rows_per_span` rows (rounded up to whole groups),
/// in global row order.
pub fn spans(gallery: &Gallery, rows_per_span: usize) -> Vec<Span> {
    let per = rows_per_span.max(1).div_ceil(GROUP) * GROUP;
    let mut v = Vec::new();
    for (shard, s) in gallery.shards().iter().enumerate() {
        let mut first_row = 0;
        while first_row < s.rows() {
            let rows = per.min(s.rows() - first_row);
            v.push(Span {
                shard,
                first_row,
                rows,
            });
            first_row += rows;
        }
    }
    v
}

/// Code pairs a span compares (each of its rows against every later gallery row).
pub fn span_pairs(gallery: &Gallery, span: &Span) -> u64 {
    let total = gallery.total_rows();
    let a0 = gallery.shards()[span.shard].first_row + span.first_row as u64;
    (0..span.rows as u64).map(|i| total - (a0 + i) - 1).sum()
}

/// Every pair of live rows (a in `span`, b > a) within `radius`, sorted by (a, b).
pub fn self_join_span(
    gallery: &Gallery,
    span: &Span,
    radius: u32,
    kernel: Kernel,
) -> Vec<PairCandidate> {
    let words = gallery.bits() / 64;
    let shards = gallery.shards();
    let home = &shards[span.shard];
    let mut dist = vec![0u32; chunk_blocks(words) * BLOCK_ROWS];
    let mut query = vec![0u64; GROUP * words];
    let mut out = Vec::new();
    for g0 in (span.first_row..span.first_row + span.rows).step_by(GROUP) {
        let n = GROUP.min(span.first_row + span.rows - g0);
        for (i, q) in query.chunks_exact_mut(words).take(n).enumerate() {
            home.codes.code(g0 + i, q);
        }
        let queries = &query[..n * words];
        let a0 = home.first_row + g0 as u64;
        let later_shards = (span.shard + 1..shards.len()).flat_map(|s| shard_chunks(gallery, s, 0));
        for chunk in shard_chunks(gallery, span.shard, g0 / BLOCK_ROWS).chain(later_shards) {
            let base = shards[chunk.shard].first_row;
            scan_chunk(
                gallery,
                kernel,
                queries,
                chunk,
                radius,
                &mut dist,
                |q, row, d| {
                    let (a, b) = (a0 + q as u64, base + row as u64);
                    if b > a && home.is_live(g0 + q) {
                        out.push(PairCandidate { a, b, hamming: d });
                    }
                },
            );
        }
    }
    out.sort_unstable();
    out
}
