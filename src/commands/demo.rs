//! `faceflash-batch demo`: the pipeline on built-in synthetic data, for a newcomer.

use std::time::Instant;

use anyhow::Result;
use faceflash_batch::bench::stats::{table_summary, SUMMARY_ROWS};
use faceflash_batch::bench::synth::{write_dataset, SynthParams};
use faceflash_batch::progress::Progress;
use faceflash_batch::quant::{self, FitParams};
use faceflash_batch::store::{EmbeddingReader, ReadOptions};

use super::{describe_summary, Output};
use crate::cli::DemoArgs;

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

    let quantizer_path = args.out.join("quantizer.ffq");
    out.say(format!(
        "\n3. fit: PCA+ITQ quantizer, {}-d → 512 bits",
        summary.dim
    ));
    let progress = Progress::new("fit", "rows", Some(params.n as u64));
    let mut q = quant::fit(
        EmbeddingReader::new(vec![written.gallery.clone()], ReadOptions::default()),
        &FitParams::default(),
        Some(&progress),
    )?;
    progress.finish();
    let hash = quant::file::save(&mut q, &quantizer_path)?;
    let c = &q.calibration;
    out.say(format!(
        "   {}  (sha256 {}…, fitted in {:.1} s)\n   bit balance {:.3}..{:.3}; recall@1 after reranking 10 / 100 Hamming candidates: {}\n   calibrated defaults: {} candidates for recall@1 ≥ 99.5% at {} rows; dedup radius at cosine 0.5: {}",
        quantizer_path.display(),
        &hash[..16],
        q.info.seconds,
        q.info.bit_balance.0,
        q.info.bit_balance.1,
        [10, 100]
            .iter()
            .map(|&k| c.recall.iter().find(|p| p.candidates == k).map_or("-".into(), |p| format!("{:.3}", p.recall_at_1)))
            .collect::<Vec<_>>()
            .join(" / "),
        c.candidates_target.map_or("-".into(), |v| v.to_string()),
        c.database_rows,
        c.radius_for(0.5).map_or("-".into(), |r| r.to_string()),
    ));
    out.say(format!(
        "\nNot yet in this build: index, identify, dedup, watchlist, sql.\ndone in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}
