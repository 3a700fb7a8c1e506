//! The scan engine: Hamming kernels with run-time dispatch, top-C selection, the blocked batch
//! scan over a gallery, exact cosine rerank and the search API.
//!
//! The kernel is chosen once per process (the fastest this CPU supports, or the one named by
//! `FACEFLASH_KERNEL`); the portable kernel is the reference every other kernel is tested
//! against. Results never depend on the kernel or the thread count: ties break by (distance,
//! global row).

pub mod adc;
mod batch;
pub mod blocks;
mod portable;
pub mod range;
mod rerank;
mod search;
pub mod selfjoin;
mod topc;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::OnceLock;

pub use adc::AdcTable;
pub use batch::{chunk_blocks, scan_batch, scan_batch_unsorted, scan_group, ScanStats, GROUP};
pub use blocks::{block_distances_portable, interleave, BlockDistancesFn, BLOCK_ROWS};
pub use portable::hamming_portable as hamming;
pub use portable::{distances_portable, hamming_portable};
pub use rerank::{dot, dot_portable, rerank, row_dot, Match};
pub use search::{default_rerank, SearchError, SearchParams};
pub use topc::{merge_best, TopC};

/// Signature of a one-query-against-many distance kernel over row-major codes.
pub type DistancesFn = fn(query: &[u64], codes: &[u64], out: &mut [u32]);

/// A kernel and its name (for logs and benchmark reports).
#[derive(Clone, Copy)]
pub struct Kernel {
    /// Kernel name: `avx512`, `avx2`, `popcnt` or `portable`.
    pub name: &'static str,
    /// Distances to row-major codes.
    pub distances: DistancesFn,
    /// Distances to codes in the gallery's interleaved blocks.
    pub blocks: BlockDistancesFn,
}

/// The portable reference kernel.
pub fn portable_kernel() -> Kernel {
    Kernel {
        name: "portable",
        distances: distances_portable,
        blocks: block_distances_portable,
    }
}

/// Every kernel this CPU can run, the default first, the portable one last.
pub fn kernels() -> Vec<Kernel> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    v.extend(x86::available());
    v.push(portable_kernel());
    v
}

/// The process's kernel: `FACEFLASH_KERNEL` if set to an available kernel's name, else the
/// fastest on this CPU, measured once (about 3 ms on 512-bit codes kept in cache:
/// which SIMD unit wins depends on the microarchitecture, e.g. POPCNT beats AVX2 on Zen 1,
/// whose AVX2 runs at 128 bits). Every kernel gives identical results, so the choice changes
/// speed only.
pub fn kernel() -> Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        let all: Vec<Kernel> = kernels()
            .into_iter()
            .filter(|k| {
                let ok = agrees_with_portable(k);
                if !ok {
                    tracing::error!(
                        kernel = k.name,
                        "scan kernel disagrees with the portable reference on this CPU; not used"
                    );
                }
                ok
            })
            .collect();
        if let Ok(name) = std::env::var("FACEFLASH_KERNEL") {
            if let Some(k) = all.iter().find(|k| k.name == name) {
                return *k;
            }
            tracing::warn!(
                requested = name.as_str(),
                available = all.iter().map(|k| k.name).collect::<Vec<_>>().join(", "),
                "FACEFLASH_KERNEL names no kernel this CPU runs; using the default"
            );
        }
        let chosen = fastest(&all);
        tracing::debug!(kernel = chosen.name, "scan kernel chosen");
        chosen
    })
}

/// Whether `k` gives the portable kernel's distances, row-major and blocked, on random and
/// edge codes (zero, all-ones, the query itself) of several lengths. Checked once per process
/// before a kernel can be chosen (a few microseconds), so a kernel that disagrees on some CPU
/// is never used: results stay exact whatever the machine.
pub fn agrees_with_portable(k: &Kernel) -> bool {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let rows = 2 * BLOCK_ROWS;
    [1usize, 2, 3, 4, 8, 16, 17].iter().all(|&words| {
        let query: Vec<u64> = (0..words).map(|_| next()).collect();
        let mut codes: Vec<u64> = (0..rows * words).map(|_| next()).collect();
        codes[..words].fill(0);
        codes[words..2 * words].fill(u64::MAX);
        codes[2 * words..3 * words].copy_from_slice(&query);
        let blocks = interleave(&codes, words);
        let mut got = vec![0u32; rows];
        let mut want = vec![0u32; rows];
        (k.blocks)(&query, &blocks, &mut got);
        block_distances_portable(&query, &blocks, &mut want);
        let blocked = got == want;
        (k.distances)(&query, &codes, &mut got);
        distances_portable(&query, &codes, &mut want);
        blocked && got == want
    })
}

/// The kernel with the best time on 256 cached 512-bit codes: the best of 15 rounds each, the
/// kernels taking turns round by round so that a burst of load elsewhere on the machine hits
/// them alike (about 3 ms in all).
fn fastest(all: &[Kernel]) -> Kernel {
    let words = 8;
    let codes: Vec<u64> = (0..256 * words as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let query: Vec<u64> = (0..words as u64)
        .map(|i| i.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .collect();
    let mut out = vec![0u32; 256];
    let mut best = vec![std::time::Duration::MAX; all.len()];
    for _ in 0..15 {
        for (k, b) in all.iter().zip(best.iter_mut()) {
            let t = std::time::Instant::now();
            for _ in 0..20 {
                (k.blocks)(&query, &codes, &mut out);
                std::hint::black_box(&out);
            }
            *b = (*b).min(t.elapsed());
        }
    }
    let i = (0..all.len())
        .min_by_key(|&i| best[i])
        .expect("the portable kernel is always available");
    all[i]
}

/// Hints the CPU to load `bytes` into cache (a no-op where unsupported).
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    x86::prefetch(bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Distances from `query` (one code of `query.len()` words) to every row-major code in
/// `codes` (`out.len()` codes of the same length), with the process's kernel.
pub fn distances(query: &[u64], codes: &[u64], out: &mut [u32]) {
    (kernel().distances)(query, codes, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_zero_distances(_: &[u64], _: &[u64], out: &mut [u32]) {
        out.fill(0);
    }

    fn off_by_one_in_second_block(query: &[u64], blocks: &[u64], out: &mut [u32]) {
        block_distances_portable(query, blocks, out);
        out[BLOCK_ROWS + 1] += 1;
    }

    #[test]
    fn every_kernel_passes_the_self_check_and_broken_ones_fail_it() {
        for k in kernels() {
            assert!(agrees_with_portable(&k), "{} disagrees", k.name);
        }
        let portable = portable_kernel();
        let wrong_rows = Kernel {
            distances: all_zero_distances,
            ..portable
        };
        let wrong_blocks = Kernel {
            blocks: off_by_one_in_second_block,
            ..portable
        };
        assert!(!agrees_with_portable(&wrong_rows));
        assert!(!agrees_with_portable(&wrong_blocks));
        assert!(agrees_with_portable(&kernel()));
    }
}
