//! `faceflash-batch demo`: the pipeline on built-in synthetic data, for a newcomer.

use std::time::Instant;

use anyhow::Result;
use faceflash_batch::bench::stats::table_summary;
use faceflash_batch::bench::synth::{write_dataset, SynthParams};
use faceflash_batch::progress::Progress;
use faceflash_batch::store::ReadOptions;

use super::{describe_summary, Output};
use crate::cli::DemoArgs;

/// Rows kept for the similarity statistics.
const SUMMARY_ROWS: usize = 20_000;

pub fn run(args: &DemoArgs, out: &Output) -> Result<()> {
    let start = Instant::now();
    let params = SynthParams {
        n: args.n,
        queries: (args.n / 10).max(1),
        ..SynthParams::default()
    };
    out.say(format!(
        "faceflash-batch demo: outputs in {}\n\n1. synth: {} gallery + {} query faces, {}-d, {} per identity",
        args.out.display(),
        params.n,
        params.queries,
        params.dim,
        params.per_identity
    ));
    let written = write_dataset(&params, &args.out)?;
    out.say(format!(
        "   {}  ({} identities)\n   {}",
        written.gallery.display(),
        written.identities,
        written.queries.display()
    ));

    let progress = Progress::new("read back", "rows", Some(params.n as u64));
    let summary = table_summary(
        vec![written.gallery.clone()],
        ReadOptions::default(),
        SUMMARY_ROWS,
        &progress,
    )?;
    progress.finish();
    out.say(format!(
        "\n2. the gallery, read back and validated:\n   {}",
        describe_summary(&summary).replace('\n', "\n   ")
    ));
    out.say(format!(
        "\nNot yet in this build: fit, index, identify, dedup, watchlist, sql.\ndone in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}
