//! Errors of the store: bad input data ([`InputError`], exit code 3) and I/O failures while
//! writing outputs ([`StoreError`], exit code 1).

use std::path::PathBuf;

/// The user's input data is unusable. Every variant names the file and, where there is one,
/// the row (0-based, counted from the start of the file) and the column.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// An input path does not exist.
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    /// A directory given as input holds no `.parquet` file.
    #[error("{path}: directory contains no .parquet files")]
    EmptyDirectory { path: PathBuf },
    /// A `.rec` file is not MXNet RecordIO (or is cut short).
    #[error("{path}: not a readable RecordIO file: {message}")]
    NotRecordIo { path: PathBuf, message: String },
    /// The file could not be opened or decoded as Parquet.
    #[error("{path}: not a readable Parquet file: {message}")]
    NotParquet { path: PathBuf, message: String },
    /// The embedding (or another required) column is missing.
    #[error("{path}: no column `{column}`; the file has columns: {available}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    /// A column has a type we cannot read.
    #[error("{path}: column `{column}` has type {found}; expected {expected}")]
    UnsupportedType {
        path: PathBuf,
        column: String,
        found: String,
        expected: String,
    },
    /// An embedding has the wrong number of values.
    #[error(
        "{path}, row {row}, column `{column}`: embedding has dimension {found}, expected {expected}{why}"
    )]
    WrongDimension {
        path: PathBuf,
        row: u64,
        column: String,
        found: usize,
        expected: usize,
        why: String,
    },
    /// An embedding contains NaN or an infinity.
    #[error(
        "{path}, row {row}, column `{column}`: element {index} is {value} (not a finite number)"
    )]
    NonFinite {
        path: PathBuf,
        row: u64,
        column: String,
        index: usize,
        value: f32,
    },
    /// An embedding is all zeros and cannot be L2-normalised.
    #[error(
        "{path}, row {row}, column `{column}`: embedding is a zero vector (cannot be normalised)"
    )]
    ZeroVector {
        path: PathBuf,
        row: u64,
        column: String,
    },
    /// A required value is null.
    #[error("{path}, row {row}, column `{column}`: value is null")]
    Null {
        path: PathBuf,
        row: u64,
        column: String,
    },
    /// Reading failed in the middle of the file (corrupt page, truncated file).
    #[error("{path}, near row {row}: cannot decode Parquet data: {message}")]
    Corrupt {
        path: PathBuf,
        row: u64,
        message: String,
    },
}

/// Writing an output failed (disk full, permissions, ...).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed on `path`.
    #[error("{path}: cannot write Parquet: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed (a bug or an inconsistent caller).
    #[error("{path}: cannot build Arrow data: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The caller passed data of the wrong shape.
    #[error("{path}: {message}")]
    Shape { path: PathBuf, message: String },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}
