//! Errors of fitting, loading and applying a quantizer.

use std::path::PathBuf;

use crate::linalg::LinalgError;
use crate::store::{InputError, StoreError};

/// Errors of the quantizer.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// The file does not start with the quantizer magic.
    #[error("{path}: not a faceflash quantizer file (bad magic bytes)")]
    BadMagic { path: PathBuf },
    /// The file's format version is not one this build reads.
    #[error("{path}: quantizer format version {found} is not supported (this build reads version {supported})")]
    Version {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The file is shorter than its header says.
    #[error("{path}: file is truncated ({found} bytes, expected {expected})")]
    Truncated {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    /// The stored checksum does not match the contents.
    #[error("{path}: checksum mismatch, the file is corrupt")]
    Checksum { path: PathBuf },
    /// The header is not valid.
    #[error("{path}: malformed quantizer header: {message}")]
    Header { path: PathBuf, message: String },
    /// Input embeddings do not have the quantizer's dimension.
    #[error("{context}: embeddings have dimension {found}, but the quantizer expects {expected}")]
    DimensionMismatch {
        context: String,
        found: usize,
        expected: usize,
    },
    /// The input cannot be fitted (too few rows, degenerate data).
    #[error("cannot fit a quantizer: {0}")]
    Unfittable(String),
    /// Invalid parameters (bits not a multiple of 64, ...).
    #[error("invalid quantizer parameters: {0}")]
    Params(String),
    /// Reading the input failed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Writing the file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the file failed for a reason other than its contents.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A decomposition failed.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
}

impl QuantError {
    /// True when the error is caused by the user's data or files (exit code 3).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            QuantError::BadMagic { .. }
                | QuantError::Version { .. }
                | QuantError::Truncated { .. }
                | QuantError::Checksum { .. }
                | QuantError::Header { .. }
                | QuantError::DimensionMismatch { .. }
                | QuantError::Unfittable(_)
                | QuantError::Input(_)
        )
    }
}
