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
    /// Kernel name: `avx2`, `popcnt` or `portable`.
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
        let all = kernels();
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
