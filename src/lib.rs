//! faceflash-batch: batch face search at archive scale on Arrow/Parquet.
//!
//! The library is split the way the data flows (see `DESIGN.md`):
//! - [`store`]: Parquet embedding tables (streaming reader with validation, atomic writer) and
//!   the gallery store (code, float and metadata shards, manifest, tombstones, lock);
//! - [`quant`]: the PCA+ITQ binary quantizer (fit, encode, `.ffq` file, calibration);
//! - [`scan`]: Hamming kernels, top-C selection, the blocked batch scan, rerank and search;
//! - [`jobs`]: batch jobs over galleries (identify), streaming into Parquet results;
//! - `sql` (feature `sql`): DataFusion UDFs and table functions (`register_all`);
//! - [`bench`]: data generators and evaluation helpers (the `synth` data set);
//! - [`progress`]: progress reporting that works on a terminal and under cron/Airflow.
//!
//! Errors are `thiserror` enums per module; [`error::is_bad_input`] tells whether an error is
//! caused by the user's data (exit code 3) rather than by the environment (exit code 1).

pub mod bench;
pub mod error;
pub mod jobs;
pub mod linalg;
pub mod progress;
pub mod quant;
pub mod scan;
#[cfg(feature = "sql")]
pub mod sql;
pub mod store;
pub mod vision;

/// Version of this tool, recorded in every output's provenance.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
