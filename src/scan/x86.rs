//! x86-64 kernels: AVX-512 VPOPCNTDQ (one 512-bit register holds word `w` of a block's eight
//! rows: xor with the broadcast query word, `vpopcntq`, add — eight rows per instruction),
//! POPCNT (scalar, one popcount per word) and AVX2 (nibble lookup with `vpshufb`, byte sums
//! accumulated across words and reduced per row with `vpsadbw`, four rows per register in the
//! interleaved layout).

use std::arch::x86_64::*;

use super::blocks::{blocks_body, check_shapes, BLOCK_ROWS};
use super::Kernel;

/// The x86 kernels this CPU supports, fastest first.
pub fn available() -> Vec<Kernel> {
    let mut v = Vec::new();
    if has_avx512_vpopcntdq() {
        v.push(Kernel {
            name: "avx512",
            distances: distances_popcnt_or_portable(),
            blocks: blocks_avx512,
        });
    }
    if std::arch::is_x86_feature_detected!("avx2") {
        v.push(Kernel {
            name: "avx2",
            distances: distances_popcnt_or_portable(),
            blocks: blocks_avx2,
        });
    }
    if std::arch::is_x86_feature_detected!("popcnt") {
        v.push(Kernel {
            name: "popcnt",
            distances: distances_popcnt,
            blocks: blocks_popcnt,
        });
    }
    v
}

/// Asks the CPU to start loading every cache line of `bytes` (a hint: never faults).
#[inline]
pub fn prefetch(bytes: &[u8]) {
    for line in bytes.chunks(64) {
        // SAFETY: prefetch is a hint that never faults, and the pointer is in bounds anyway;
        // SSE is part of the x86-64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
}

/// Dot product with SSE (part of the x86-64 baseline): four registers hold the sixteen
/// lane-wise sums of [`super::rerank::dot_portable`], in the same order, so the result is
/// bit-identical to it.
#[inline]
pub fn dot_sse(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of vectors of different lengths");
    let n16 = a.len() / 16 * 16;
    // SAFETY: every load reads 4 floats at `i + 4j` with `i + 16 <= n16 <= len` for both slices
    // (unaligned loads); SSE is always present on x86-64.
    let lanes = unsafe {
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm_setzero_ps(); 4];
        let mut i = 0;
        while i < n16 {
            for (j, s) in acc.iter_mut().enumerate() {
                let x = _mm_loadu_ps(pa.add(i + 4 * j));
                let y = _mm_loadu_ps(pb.add(i + 4 * j));
                *s = _mm_add_ps(*s, _mm_mul_ps(x, y));
            }
            i += 16;
        }
        let sum = _mm_add_ps(_mm_add_ps(acc[0], acc[1]), _mm_add_ps(acc[2], acc[3]));
        let mut out = [0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), sum);
        out
    };
    let mut tail = 0f32;
    for (x, y) in a[n16..].iter().zip(&b[n16..]) {
        tail += x * y;
    }
    ((lanes[0] + lanes[2]) + (lanes[1] + lanes[3])) + tail
}

fn distances_popcnt_or_portable() -> super::DistancesFn {
    if std::arch::is_x86_feature_detected!("popcnt") {
        distances_popcnt
    } else {
        super::distances_portable
    }
}

fn distances_popcnt(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let words = query.len();
    assert_eq!(codes.len(), out.len() * words, "codes and output disagree");
    // SAFETY: only handed out by `available()` after `is_x86_feature_detected!("popcnt")`.
    unsafe { popcnt_rows(query, codes, out) }
}

/// Row-major codes, compiled with POPCNT (without it `count_ones` is a software bit count on
/// x86-64-v1).
#[target_feature(enable = "popcnt")]
fn popcnt_rows(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let words = query.len();
    for (d, code) in out.iter_mut().zip(codes.chunks_exact(words)) {
        *d = query
            .iter()
            .zip(code)
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
    }
}

fn blocks_popcnt(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    check_shapes(query, blocks, out);
    // SAFETY: only handed out by `available()` after `is_x86_feature_detected!("popcnt")`.
    unsafe { popcnt_blocks(query, blocks, out) }
}

#[target_feature(enable = "popcnt")]
fn popcnt_blocks(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    blocks_body(query, blocks, out)
}

/// Whether this CPU runs the AVX-512 kernel (AVX-512 F and VPOPCNTDQ).
pub fn has_avx512_vpopcntdq() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
}

fn blocks_avx512(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    check_shapes(query, blocks, out);
    // SAFETY: only handed out by `available()` after `has_avx512_vpopcntdq()`; shapes were
    // checked above, which is all the pointer arithmetic inside relies on.
    unsafe {
        match query.len() {
            8 => avx512_blocks_fixed::<8>(query, blocks, out),
            16 => avx512_blocks_fixed::<16>(query, blocks, out),
            _ => {
                let mut q = vec![_mm512_setzero_si512(); query.len()];
                avx512_broadcast(query, &mut q);
                avx512_scan(&q, blocks, out)
            }
        }
    }
}

/// `W`-word codes: the broadcast query words live in a fixed array, so they stay in registers
/// across blocks once [`avx512_scan`] is inlined here.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn avx512_blocks_fixed<const W: usize>(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    let mut q = [_mm512_setzero_si512(); W];
    avx512_broadcast(query, &mut q);
    avx512_scan(&q, blocks, out)
}

/// Each query word broadcast to the eight 64-bit lanes of a register.
#[inline]
#[target_feature(enable = "avx512f")]
fn avx512_broadcast(query: &[u64], q: &mut [__m512i]) {
    for (r, &word) in q.iter_mut().zip(query) {
        *r = _mm512_set1_epi64(word as i64);
    }
}

/// Distances to every block: per word, xor the eight rows' words with the broadcast query
/// word, count bits per 64-bit lane, add.
#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn avx512_scan(q: &[__m512i], blocks: &[u64], out: &mut [u32]) {
    let words = q.len();
    for (block, o) in blocks
        .chunks_exact(BLOCK_ROWS * words)
        .zip(out.chunks_exact_mut(BLOCK_ROWS))
    {
        let p = block.as_ptr();
        let mut acc = _mm512_setzero_si512();
        for (w, &qw) in q.iter().enumerate() {
            // SAFETY: `w < words`, so the 8-word load lies inside this block of `8 * words`
            // words (unaligned load: no alignment is assumed).
            let v = unsafe { _mm512_loadu_si512(p.add(w * BLOCK_ROWS).cast()) };
            acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(v, qw)));
        }
        store_rows(acc, o);
    }
}

/// Writes the eight 64-bit lane sums (one row's distance each, < 2^32) as eight u32.
#[inline]
#[target_feature(enable = "avx512f")]
fn store_rows(acc: __m512i, o: &mut [u32]) {
    assert_eq!(o.len(), BLOCK_ROWS);
    // SAFETY: `o` is exactly 8 u32 = 32 bytes (checked above); unaligned store.
    unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), _mm512_cvtepi64_epi32(acc)) };
}

fn blocks_avx2(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    check_shapes(query, blocks, out);
    // SAFETY: only handed out by `available()` after `is_x86_feature_detected!("avx2")`;
    // shapes were checked above, which is all the pointer arithmetic inside relies on.
    unsafe { avx2_blocks(query, blocks, out) }
}

/// Byte-wise popcount of `x` by two 16-entry nibble lookups.
#[inline]
#[target_feature(enable = "avx2")]
fn popcount_bytes(x: __m256i, lut: __m256i, low: __m256i) -> __m256i {
    let lo = _mm256_and_si256(x, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), low);
    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
}

#[target_feature(enable = "avx2")]
unsafe fn avx2_blocks(query: &[u64], blocks: &[u64], out: &mut [u32]) {
    // Byte counters hold at most 8 per word: reduce them every 31 words (31 × 8 < 256).
    const FLUSH: usize = 31;
    let words = query.len();
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let zero = _mm256_setzero_si256();
    for (block, o) in blocks
        .chunks_exact(BLOCK_ROWS * words)
        .zip(out.chunks_exact_mut(BLOCK_ROWS))
    {
        let p = block.as_ptr();
        let (mut sum0, mut sum1) = (zero, zero);
        let mut w = 0;
        while w < words {
            let end = (w + FLUSH).min(words);
            let (mut acc0, mut acc1) = (zero, zero);
            while w < end {
                let q = _mm256_set1_epi64x(query[w] as i64);
                // SAFETY: `w < words`, so both 4-word loads lie inside this block of
                // `8 * words` words (unaligned loads: no alignment is assumed).
                let (a, b) = unsafe {
                    (
                        _mm256_loadu_si256(p.add(w * BLOCK_ROWS).cast()),
                        _mm256_loadu_si256(p.add(w * BLOCK_ROWS + 4).cast()),
                    )
                };
                acc0 = _mm256_add_epi8(acc0, popcount_bytes(_mm256_xor_si256(a, q), lut, low));
                acc1 = _mm256_add_epi8(acc1, popcount_bytes(_mm256_xor_si256(b, q), lut, low));
                w += 1;
            }
            sum0 = _mm256_add_epi64(sum0, _mm256_sad_epu8(acc0, zero));
            sum1 = _mm256_add_epi64(sum1, _mm256_sad_epu8(acc1, zero));
        }
        // Each 64-bit lane holds one row's distance (< 2^32): keep the low halves.
        let pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        let lo = _mm256_permutevar8x32_epi32(sum0, pick);
        let hi = _mm256_permutevar8x32_epi32(sum1, pick);
        let both = _mm256_permute2x128_si256::<0x20>(lo, hi);
        // SAFETY: `o` is exactly 8 u32 = 32 bytes (chunks_exact_mut).
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), both) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::blocks::{block_distances_portable, interleave};

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn every_x86_kernel_matches_portable() {
        let mut state = 0x9e3779b97f4a7c15u64;
        for kernel in available() {
            for words in [1usize, 2, 4, 8, 16, 31, 32, 33, 64] {
                for rows in [1usize, 7, 8, 9, 100] {
                    let query: Vec<u64> = (0..words).map(|_| xorshift(&mut state)).collect();
                    let mut codes: Vec<u64> =
                        (0..words * rows).map(|_| xorshift(&mut state)).collect();
                    // Edge rows: all-zero, all-one, the query itself, its complement.
                    codes[..words].iter_mut().for_each(|w| *w = 0);
                    if rows > 3 {
                        codes[words..2 * words]
                            .iter_mut()
                            .for_each(|w| *w = u64::MAX);
                        codes[2 * words..3 * words].copy_from_slice(&query);
                        for (c, q) in codes[3 * words..4 * words].iter_mut().zip(&query) {
                            *c = !q;
                        }
                    }
                    let (mut a, mut b) = (vec![0u32; rows], vec![0u32; rows]);
                    (kernel.distances)(&query, &codes, &mut a);
                    crate::scan::distances_portable(&query, &codes, &mut b);
                    assert_eq!(
                        a, b,
                        "{} rows kernel, words {words}, rows {rows}",
                        kernel.name
                    );
                    if rows > 3 {
                        assert_eq!(
                            &b[..4],
                            &[
                                query.iter().map(|w| w.count_ones()).sum::<u32>(),
                                query.iter().map(|w| w.count_zeros()).sum(),
                                0,
                                64 * words as u32
                            ]
                        );
                    }
                    let blocks = interleave(&codes, words);
                    let padded = rows.div_ceil(8) * 8;
                    let (mut c, mut d) = (vec![0u32; padded], vec![0u32; padded]);
                    (kernel.blocks)(&query, &blocks, &mut c);
                    block_distances_portable(&query, &blocks, &mut d);
                    assert_eq!(
                        c, d,
                        "{} block kernel, words {words}, rows {rows}",
                        kernel.name
                    );
                    assert_eq!(&d[..rows], &b[..], "block layout vs rows, words {words}");
                }
            }
        }
    }
}
