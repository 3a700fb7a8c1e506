//! The scan engine: Hamming kernels with run-time dispatch, top-C selection, the blocked batch
//! scan over a gallery, exact cosine rerank and the search API.
//!
//! The kernel is chosen once per process (the fastest this CPU supports, or the one named by
//! `FACEFLASH_KERNEL`); the portable kernel is the reference every other kernel is tested
//! against. Results never depend on the kernel or the thread count: ties break by (distance,
//! global row).

mod batch;
pub mod blocks;
mod portable;
mod rerank;
mod search;
mod topc;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::OnceLock;

pub use batch::{scan_batch, ScanStats};
pub use blocks::{block_distances_portable, interleave, BlockDistancesFn, BLOCK_ROWS};
pub use portable::hamming_portable as hamming;
pub use portable::{distances_portable, hamming_portable};
pub use rerank::{dot, rerank, Match};
pub use search::{SearchError, SearchParams};
pub use topc::{merge_sorted, TopC};

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
/// fastest available. Chosen once.
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
        all[0]
    })
}

/// Distances from `query` (one code of `query.len()` words) to every row-major code in
/// `codes` (`out.len()` codes of the same length), with the process's kernel.
pub fn distances(query: &[u64], codes: &[u64], out: &mut [u32]) {
    (kernel().distances)(query, codes, out)
}
