//! The ANN comparison benchmark (`faceflash-batch bench ann`): our side of the comparison
//! against FAISS, HNSWLIB, USearch and ScaNN (`scripts/compare_peers.py` measures those on
//! the same prepared data).
//!
//! A *dataset directory* holds one scale, prepared once ([`data`]) and read by every
//! system: `fit.parquet` (quantizer training rows whose identities are in neither the gallery
//! nor the queries), `gallery.parquet`, `queries.parquet`, `truth.parquet` (each query's
//! exact-cosine top-k over the gallery) and `dataset.json` (written last: its presence marks
//! a complete directory). [`measure`] runs our side on it: fit, build, single-query latency,
//! batched throughput, tie-aware recall, resident memory, and the identification and
//! verification protocols ([`protocol`]).

pub mod data;
pub mod measure;
pub mod protocol;
pub mod truth;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::quant::QuantError;
use crate::scan::SearchError;
use crate::store::{GalleryError, InputError, StoreError};

/// Training rows of the quantizer.
pub const FIT_FILE: &str = "fit.parquet";
/// The gallery rows.
pub const GALLERY_FILE: &str = "gallery.parquet";
/// The query rows.
pub const QUERIES_FILE: &str = "queries.parquet";
/// Exact top-k of each query: `query` (UInt32), `rank` (UInt32), `gallery_row` (UInt32),
/// `cosine` (Float32).
pub const TRUTH_FILE: &str = "truth.parquet";
/// The dataset's description, written last.
pub const DATASET_FILE: &str = "dataset.json";

/// What a dataset directory holds (`dataset.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// `synth`, or the input path.
    pub source: String,
    /// How the source was split (one line for reports).
    pub split: String,
    /// Gallery rows.
    pub gallery_rows: usize,
    /// Query rows.
    pub queries: usize,
    /// Queries whose identity is in the gallery.
    pub enrolled_queries: usize,
    /// Rows of the fit table.
    pub fit_rows: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Ranks kept in `truth.parquet`.
    pub truth_k: usize,
    /// Seed of the split or the generator.
    pub seed: u64,
    /// Parameters the directory was made with (compared before reuse).
    pub key: String,
}

/// Errors of the ANN benchmark.
#[derive(Debug, thiserror::Error)]
pub enum AnnError {
    /// An input table could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A table could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Fitting or loading the quantizer failed.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// Building or opening the gallery failed.
    #[error(transparent)]
    Gallery(#[from] GalleryError),
    /// A search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The source data cannot make the requested split (too few identities or rows) or is
    /// malformed; names the file.
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl AnnError {
    /// True when the user's data caused the error (exit code 3).
    pub fn is_bad_input(&self) -> bool {
        match self {
            AnnError::Input(_) | AnnError::Data { .. } => true,
            AnnError::Quant(e) => e.is_bad_input(),
            AnnError::Gallery(e) => e.is_bad_input(),
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AnnError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        AnnError::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}
