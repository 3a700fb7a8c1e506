//! `--dry-run` of the search jobs (identify, dedup, watchlist): check the inputs as the real
//! run would, say what it would do, write nothing.

use std::path::{Path, PathBuf};

use anyhow::Result;
use faceflash_batch::jobs;
use faceflash_batch::progress::Progress;
use faceflash_batch::store::{Gallery, ReadOptions};

use super::Output;

/// Reads every row of the query/stream `files` against `gallery` (values and dimension
/// checked) and returns their number.
pub fn count_checked(
    job: &str,
    gallery: &Gallery,
    files: Vec<PathBuf>,
    read: ReadOptions,
    total: u64,
) -> Result<u64> {
    let progress = Progress::new(&format!("{job}: dry run"), "faces", Some(total));
    let rows = jobs::check_inputs(gallery, files, read, Some(&progress))?;
    progress.finish();
    Ok(rows)
}

/// Logs the `<job>_plan` event and prints `dry run: <what>, writing <outputs>; nothing written`.
pub fn report(job: &str, what: String, outputs: &[&Path], out: &Output) {
    let outputs = outputs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    tracing::info!(event = %format!("{job}_plan"), outputs = %outputs, "dry run: {what}");
    out.say(format!(
        "dry run: {what}, writing {outputs}; nothing written"
    ));
}
