//! Errors of the batch jobs.

use std::path::PathBuf;

use crate::quant::QuantError;
use crate::scan::SearchError;
use crate::store::{GalleryError, InputError, StoreError};

/// Errors of a batch job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Query embeddings do not have the gallery's dimension.
    #[error("{path}: embeddings have dimension {found}, but the gallery {gallery} holds {expected}-d embeddings")]
    Dimension {
        path: PathBuf,
        found: usize,
        expected: usize,
        gallery: PathBuf,
    },
    /// Invalid job parameters.
    #[error("{0}")]
    Params(String),
    /// The input is unusable.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The gallery is unusable.
    #[error(transparent)]
    Gallery(#[from] GalleryError),
    /// A search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Encoding failed.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// The embedding pipeline failed (no runtime, a bad model file, inference).
    #[cfg(feature = "vision")]
    #[error(transparent)]
    Vision(#[from] crate::vision::VisionError),
    /// Writing the output failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl JobError {
    /// True when the user's data is at fault (exit code 3).
    pub fn is_bad_input(&self) -> bool {
        match self {
            JobError::Dimension { .. } | JobError::Input(_) => true,
            JobError::Gallery(g) => g.is_bad_input(),
            JobError::Quant(q) => q.is_bad_input(),
            JobError::Search(s) => !matches!(s, SearchError::Params(_)),
            #[cfg(feature = "vision")]
            JobError::Vision(v) => v.is_bad_input(),
            JobError::Params(_) | JobError::Store(_) => false,
        }
    }
}
