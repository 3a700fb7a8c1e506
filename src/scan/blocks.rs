//! Distances from one query to codes stored in interleaved blocks of [`BLOCK_ROWS`] rows (the
//! gallery's code layout: u64 `w * 8 + r` of a block is word `w` of its row `r`).
//!
//! The portable kernel here is the reference; the x86 kernels (`x86.rs`) must agree with it
//! bit for bit.

/// Rows per interleaved block (the gallery's layout).
pub const BLOCK_ROWS: usize = 8;

/// Signature of a block kernel: `blocks` holds `out.len() / 8` blocks of `query.len()`-word
/// codes; `out[i]` becomes the distance to row `i`.
pub type BlockDistancesFn = fn(query: &[u64], blocks: &[u64], out: &mut [u32]);

/// Checks the shapes every block kernel relies on.
#[inline]
pub(crate) fn check_shapes(query: &[u64], blocks: &[u64], out: &[u32]) {
    assert!(
        out.len().is_multiple_of(BLOCK_ROWS),
        "output not a whole number of blocks"
    );
    assert_eq!(
        blocks.len(),
        out.len() * query.len(),
        "blocks and output disagree"
    );
}

/// The body shared by the portable and the POPCNT kernels (the latter compiles it with POPCNT
/// enabled): a fully unrolled loop for the common code lengths, a generic one otherwise.
#[inline(always)]
pub(crate) fn blocks_body(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    match query.len() {
        1 => blocks_fixed::<1>(query, blocks, out),
        2 => blocks_fixed::<2>(query, blocks, out),
        4 => blocks_fixed::<4>(query, blocks, out),
        8 => blocks_fixed::<8>(query, blocks, out),
        16 => blocks_fixed::<16>(query, blocks, out),
        _ => blocks_any(query, blocks, out),
    }
}

/// `W`-word codes: the query lives in registers; each row is `W` xor + popcount + add with no
/// loop-carried register shuffling.
#[inline(always)]
fn blocks_fixed<const W: usize>(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    let q: [u64; W] = query.try_into().expect("query of W words");
    for (block, o) in blocks
        .chunks_exact(BLOCK_ROWS * W)
        .zip(out.chunks_exact_mut(BLOCK_ROWS))
    {
        for (r, d) in o.iter_mut().enumerate() {
            let mut acc = 0u32;
            for w in 0..W {
                acc += (q[w] ^ block[w * BLOCK_ROWS + r]).count_ones();
            }
            *d = acc;
        }
    }
}

/// Any code length: the straightforward loop.
#[inline(always)]
fn blocks_any(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    let words = query.len();
    for (block, o) in blocks
        .chunks_exact(BLOCK_ROWS * words)
        .zip(out.chunks_exact_mut(BLOCK_ROWS))
    {
        let mut acc = [0u32; BLOCK_ROWS];
        for (w, &q) in query.iter().enumerate() {
            let lane = &block[w * BLOCK_ROWS..(w + 1) * BLOCK_ROWS];
            for r in 0..BLOCK_ROWS {
                acc[r] += (q ^ lane[r]).count_ones();
            }
        }
        o.copy_from_slice(&acc);
    }
}

/// Portable block kernel: the reference (a plain loop, independent of the unrolled bodies the
/// fast kernels use).
pub fn block_distances_portable(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    check_shapes(query, blocks, out);
    blocks_any(query, blocks, out);
}

/// Interleaves row-major codes (`words` u64 per row) into blocks, padding the last block
/// with zero codes. The layout helper for tests, benchmarks and in-memory galleries.
pub fn interleave(codes: &[u64], words: usize) -> Vec<u64> {
    let rows = codes.len() / words;
    let blocks = rows.div_ceil(BLOCK_ROWS);
    let mut out = vec![0u64; blocks * BLOCK_ROWS * words];
    for (row, code) in codes.chunks_exact(words).enumerate() {
        let base = (row / BLOCK_ROWS) * BLOCK_ROWS * words;
        for (w, &word) in code.iter().enumerate() {
            out[base + w * BLOCK_ROWS + row % BLOCK_ROWS] = word;
        }
    }
    out
}
