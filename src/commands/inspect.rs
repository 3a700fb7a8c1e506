//! `faceflash-batch inspect`: validate faces tables and summarise them.

use anyhow::Result;
use faceflash_batch::bench::stats::table_summary;
use faceflash_batch::progress::Progress;
use faceflash_batch::store::{count_rows, resolve_inputs, ReadOptions};

use super::{describe_summary, Output};
use crate::cli::InspectArgs;

/// Rows kept for the similarity statistics.
const SUMMARY_ROWS: usize = 20_000;

pub fn run(args: &InspectArgs, out: &Output) -> Result<()> {
    let files = resolve_inputs(&args.inputs)?;
    let total = count_rows(&files)?;
    let progress = Progress::new("inspect", "rows", Some(total));
    let options = ReadOptions {
        column: args.column.clone(),
        ..ReadOptions::default()
    };
    let summary = table_summary(files, options, SUMMARY_ROWS, &progress)?;
    progress.finish();
    tracing::info!(
        event = "inspect_done",
        rows = summary.rows,
        dim = summary.dim,
        "all rows valid"
    );
    out.say(describe_summary(&summary));
    if out.json {
        out.say(serde_json::to_string(&summary)?);
    }
    Ok(())
}
