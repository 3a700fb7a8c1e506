//! Query and stream tables read against a gallery: the dimension check every job makes, and a
//! validation pass for dry runs.

use std::path::PathBuf;

use super::JobError;
use crate::progress::Progress;
use crate::store::{EmbeddingBatch, EmbeddingReader, Gallery, ReadOptions};

/// Checks that `batch` has the dimension of `gallery`'s embeddings (exit code 3 otherwise,
/// naming the file and the gallery).
pub fn check_batch_dim(batch: &EmbeddingBatch, gallery: &Gallery) -> Result<(), JobError> {
    if batch.dim == gallery.dim() {
        Ok(())
    } else {
        Err(JobError::Dimension {
            path: batch.path.to_path_buf(),
            found: batch.dim,
            expected: gallery.dim(),
            gallery: gallery.dir().to_path_buf(),
        })
    }
}

/// Reads every row of `files` as the job would (every value checked, the dimension against
/// `gallery`) without searching, and returns the number of rows: what a dry run does.
pub fn check_inputs(
    gallery: &Gallery,
    files: Vec<PathBuf>,
    read: ReadOptions,
    progress: Option<&Progress>,
) -> Result<u64, JobError> {
    let mut rows = 0u64;
    for batch in EmbeddingReader::new(files, read) {
        let batch = batch?;
        check_batch_dim(&batch, gallery)?;
        rows += batch.len() as u64;
        if let Some(p) = progress {
            p.inc(batch.len() as u64);
        }
    }
    Ok(rows)
}
