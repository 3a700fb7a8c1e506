//! Range scans: every code within a Hamming radius of a query, instead of the best C.
//! The building blocks of the threshold jobs (watchlist hits, the dedup self-join): the same
//! tiles as the top-C scan (a group of queries over a chunk of code blocks that stays in L1),
//! with a branch-free radius test per group of eight distances.

use super::batch::chunk_blocks;
use super::blocks::BLOCK_ROWS;
use super::Kernel;
use crate::store::Gallery;

/// Calls `hit(i, distance)` for every `i` in `0..distances.len()` with `distance <= radius`,
/// in increasing `i`.
#[inline]
pub fn within(distances: &[u32], radius: u32, mut hit: impl FnMut(usize, u32)) {
    let mut groups = distances.chunks_exact(8);
    let mut base = 0;
    for group in &mut groups {
        let g: &[u32; 8] = group.try_into().expect("8 distances");
        let mut any = false;
        for &d in g {
            any |= d <= radius;
        }
        if any {
            for (j, &d) in g.iter().enumerate() {
                if d <= radius {
                    hit(base + j, d);
                }
            }
        }
        base += 8;
    }
    for (j, &d) in groups.remainder().iter().enumerate() {
        if d <= radius {
            hit(base + j, d);
        }
    }
}

/// A run of blocks of one shard, scanned as one chunk.
#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    /// Shard index.
    pub shard: usize,
    /// First block of the chunk in the shard.
    pub first_block: usize,
    /// Blocks in the chunk.
    pub blocks: usize,
}

impl Chunk {
    /// First shard row of the chunk.
    pub fn first_row(&self) -> usize {
        self.first_block * BLOCK_ROWS
    }
}

/// The chunks covering shard `shard` from block `from_block` on.
pub fn shard_chunks(
    gallery: &Gallery,
    shard: usize,
    from_block: usize,
) -> impl Iterator<Item = Chunk> {
    let words = gallery.bits() / 64;
    let per = chunk_blocks(words);
    let n = gallery.shards()[shard].codes.blocks();
    (from_block..n).step_by(per).map(move |b| Chunk {
        shard,
        first_block: b,
        blocks: per.min(n - b),
    })
}

/// Calls `hit(query, shard, row, distance)` for every live row of `chunk` within `radius` of
/// each query of `queries` (row-major codes), query by query, rows increasing. `dist` is
/// scratch space of at least `chunk.blocks * BLOCK_ROWS` entries.
pub fn scan_chunk(
    gallery: &Gallery,
    kernel: Kernel,
    queries: &[u64],
    chunk: Chunk,
    radius: u32,
    dist: &mut [u32],
    mut hit: impl FnMut(usize, usize, u32),
) {
    let words = gallery.bits() / 64;
    let shard = &gallery.shards()[chunk.shard];
    let all = shard.codes.blocks_words();
    let start = chunk.first_block * BLOCK_ROWS * words;
    let codes = &all[start..start + chunk.blocks * BLOCK_ROWS * words];
    let first = chunk.first_row();
    // Padding rows of the last block are never reported.
    let real = (shard.rows() - first).min(chunk.blocks * BLOCK_ROWS);
    let out = &mut dist[..chunk.blocks * BLOCK_ROWS];
    for (q, query) in queries.chunks_exact(words).enumerate() {
        (kernel.blocks)(query, codes, out);
        within(&out[..real], radius, |i, d| {
            if shard.is_live(first + i) {
                hit(q, first + i, d);
            }
        });
    }
}

/// Every live gallery row within `radius` of each query (row-major codes), as (distance,
/// global row) lists in row order: the candidates of a threshold search. Runs on the calling
/// thread (callers parallelise over query groups).
pub fn range_group(
    gallery: &Gallery,
    queries: &[u64],
    radius: u32,
    kernel: Kernel,
) -> Vec<Vec<(u32, u64)>> {
    let words = gallery.bits() / 64;
    let nq = queries.len() / words;
    let mut lists: Vec<Vec<(u32, u64)>> = vec![Vec::new(); nq];
    let mut dist = vec![0u32; chunk_blocks(words) * BLOCK_ROWS];
    for (s, shard) in gallery.shards().iter().enumerate() {
        for chunk in shard_chunks(gallery, s, 0) {
            scan_chunk(
                gallery,
                kernel,
                queries,
                chunk,
                radius,
                &mut dist,
                |q, row, d| lists[q].push((d, shard.first_row + row as u64)),
            );
        }
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_reports_every_distance_at_or_below_the_radius() {
        let d: Vec<u32> = (0..37).map(|i| (i * 7 % 23) as u32).collect();
        let mut got = Vec::new();
        within(&d, 5, |i, x| got.push((i, x)));
        let want: Vec<(usize, u32)> = d
            .iter()
            .enumerate()
            .filter(|(_, &x)| x <= 5)
            .map(|(i, &x)| (i, x))
            .collect();
        assert_eq!(got, want);
        let mut none = 0;
        within(&d, 0, |_, x| none += usize::from(x != 0));
        assert_eq!(none, 0);
    }
}
