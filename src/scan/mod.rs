//! Hamming distance kernels. The portable kernel is the reference every SIMD kernel is
//! tested against.

mod portable;

pub use portable::hamming_portable as hamming;
pub use portable::hamming_portable;
