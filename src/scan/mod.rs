//! Hamming distance kernels. The kernel is chosen once per process at run time; the portable
//! kernel is the reference every other kernel is tested against.

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::OnceLock;

pub use portable::hamming_portable as hamming;
pub use portable::{distances_portable, hamming_portable};

/// Signature of a one-query-against-many distance kernel.
pub type DistancesFn = fn(query: &[u64], codes: &[u64], out: &mut [u32]);

/// A kernel and its name (for logs and benchmark reports).
#[derive(Clone, Copy)]
pub struct Kernel {
    /// Kernel name: `popcnt` or `portable`.
    pub name: &'static str,
    /// The distance function.
    pub distances: DistancesFn,
}

/// The fastest kernel this CPU supports, detected once per process.
pub fn kernel() -> Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = x86::best() {
            return k;
        }
        Kernel {
            name: "portable",
            distances: distances_portable,
        }
    })
}

/// Distances from `query` (one code of `query.len()` words) to every code in `codes`
/// (`out.len()` codes of the same length), with the process's kernel.
pub fn distances(query: &[u64], codes: &[u64], out: &mut [u32]) {
    (kernel().distances)(query, codes, out)
}
