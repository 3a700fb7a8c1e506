//! `faceflash-batch inspect`: validate faces tables and quantizer files, and summarise them.

use std::path::PathBuf;

use anyhow::Result;
use faceflash_batch::bench::stats::{table_summary, SUMMARY_ROWS};
use faceflash_batch::progress::Progress;
use faceflash_batch::quant::{self, bit_balance, Quantizer};
use faceflash_batch::store::{count_rows, resolve_inputs, EmbeddingReader, ReadOptions};

use super::{describe_summary, Output};
use crate::cli::InspectArgs;

fn is_quantizer(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "ffq")
}

pub fn run(args: &InspectArgs, out: &Output) -> Result<()> {
    let (quantizers, tables): (Vec<PathBuf>, Vec<PathBuf>) =
        args.inputs.iter().cloned().partition(|p| is_quantizer(p));
    for path in &quantizers {
        let q = quant::file::load(path)?;
        out.say(describe_quantizer(path, &q));
    }
    if tables.is_empty() {
        return Ok(());
    }
    let files = resolve_inputs(&tables)?;
    let total = count_rows(&files)?;
    let options = ReadOptions {
        column: args.column.clone(),
        ..ReadOptions::default()
    };
    let progress = Progress::new("inspect", "rows", Some(total));
    let summary = table_summary(files.clone(), options.clone(), SUMMARY_ROWS, &progress)?;
    progress.finish();
    tracing::info!(
        event = "inspect_done",
        rows = summary.rows,
        dim = summary.dim,
        "all rows valid"
    );
    out.say(describe_summary(&summary));
    if let Some(path) = &args.quantizer {
        let q = quant::file::load(path)?;
        q.check_dim(
            summary.dim,
            &format!(
                "{} (with quantizer {})",
                tables[0].display(),
                path.display()
            ),
        )?;
        let mut codes = Vec::new();
        for batch in EmbeddingReader::new(files, options) {
            codes.extend(q.encode(&batch?.vectors)?);
        }
        let (lo, hi) = bit_balance(&codes, q.bits());
        out.say(format!(
            "codes: {} bits, share of ones per bit {lo:.3}..{hi:.3}",
            q.bits()
        ));
    }
    if out.json {
        out.say(serde_json::to_string(&summary)?);
    }
    Ok(())
}

fn describe_quantizer(path: &std::path::Path, q: &Quantizer) -> String {
    format!(
        "{}: quantizer {}-d → {} bits, sha256 {}, fitted by faceflash-batch {} on {} rows (seed {}) at {}{}",
        path.display(),
        q.dim(),
        q.bits(),
        q.hash().unwrap_or("-"),
        q.info.tool_version,
        q.info.rows_seen,
        q.info.seed,
        q.info.created,
        super::fit::report(q)
    )
}
