//! Errors of opening, writing and maintaining a gallery.

use std::path::PathBuf;

use crate::quant::QuantError;
use crate::store::{InputError, StoreError};

/// Errors of the gallery store. Every variant names the file or directory concerned.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// The directory has no `manifest.json`.
    #[error("{path}: not a gallery (no manifest.json); create one with `faceflash-batch index`")]
    NotAGallery { path: PathBuf },
    /// `index` without `--append` on a directory that already holds something.
    #[error("{path}: {message}")]
    Exists { path: PathBuf, message: String },
    /// The manifest cannot be read or does not describe a gallery this build reads.
    #[error("{path}: invalid gallery manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    /// The gallery directory does not exist.
    #[error("{path}: no such gallery (the directory does not exist)")]
    NotFound { path: PathBuf },
    /// A file the manifest lists is missing.
    #[error("{path}: missing gallery file (listed in manifest.json)")]
    Missing { path: PathBuf },
    /// A file is damaged: wrong size, bad header, checksum mismatch, disagreement with the
    /// manifest.
    #[error("{path}: corrupt gallery file: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// Another writer holds the gallery's lock.
    #[error("{path}: gallery is locked by pid {pid} (another index, remove or compact is running); readers are not blocked, writers run one at a time")]
    Locked { path: PathBuf, pid: String },
    /// The caller's quantizer or options do not fit the gallery.
    #[error("{path}: {message}")]
    Mismatch { path: PathBuf, message: String },
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reading a metadata shard failed.
    #[error("{path}: cannot read Parquet: {message}")]
    Parquet { path: PathBuf, message: String },
    /// The input faces are unusable.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Writing an output failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The quantizer failed (load, fit, encode).
    #[error(transparent)]
    Quant(#[from] QuantError),
}

impl GalleryError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GalleryError::Io {
            path: path.into(),
            source,
        }
    }

    /// An error opening or inspecting a listed file: `Missing` when it does not exist.
    pub(crate) fn opening(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::NotFound => GalleryError::Missing { path },
            _ => GalleryError::Io { path, source },
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        GalleryError::Corrupt {
            path: path.into(),
            message: message.into(),
        }
    }

    /// True when the gallery's files or the input data are at fault (exit code 3).
    pub fn is_bad_input(&self) -> bool {
        match self {
            GalleryError::NotAGallery { .. }
            | GalleryError::NotFound { .. }
            | GalleryError::Manifest { .. }
            | GalleryError::Missing { .. }
            | GalleryError::Corrupt { .. }
            | GalleryError::Mismatch { .. }
            | GalleryError::Parquet { .. }
            | GalleryError::Input(_) => true,
            GalleryError::Quant(q) => q.is_bad_input(),
            _ => false,
        }
    }
}
