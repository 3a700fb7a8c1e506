//! Integration tests: one binary (every test target links all of DataFusion), one module per
//! area. Tests run the built `faceflash-batch` binary on real Parquet files.

mod bad_input;
mod bench_ann;
mod cli;
mod common;
mod dedup;
#[cfg(feature = "vision")]
mod embed;
mod gallery;
mod identify;
mod interop;
#[cfg(feature = "vision")]
mod pipelines;
mod quant;
mod reader;
#[cfg(feature = "sql")]
mod sql;
mod synth;
mod watchlist;
