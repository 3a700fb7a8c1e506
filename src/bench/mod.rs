//! Benchmark and evaluation helpers: the `synth` data generator and similarity statistics.

pub mod ann;
pub mod dedup;
#[cfg(feature = "vision")]
pub mod embed;
pub mod memory;
pub mod quant;
pub mod scan;
pub mod stats;
pub mod synth;
