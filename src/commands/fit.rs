//! `faceflash-batch fit`: learn a quantizer from faces tables.

use anyhow::Result;
use faceflash_batch::progress::Progress;
use faceflash_batch::quant::{self, FitParams, Quantizer};
use faceflash_batch::store::{count_rows, resolve_inputs, EmbeddingReader, ReadOptions};

use super::{Output, UsageError};
use crate::cli::FitArgs;

pub fn run(args: &FitArgs, out: &Output) -> Result<()> {
    let params = FitParams {
        bits: args.bits,
        sample: args.sample,
        iterations: args.iterations,
        seed: args.seed,
        itq_rows: args.itq_rows,
        ..FitParams::default()
    };
    params.validate().map_err(|e| UsageError(e.to_string()))?;
    if args.output.is_dir() {
        return Err(UsageError(format!(
            "-o {}: is a directory; give a file name such as quantizer.ffq",
            args.output.display()
        ))
        .into());
    }
    let files = resolve_inputs(&args.inputs)?;
    let total = count_rows(&files)?;
    let options = ReadOptions {
        column: args.column.clone(),
        ..ReadOptions::default()
    };
    let progress = Progress::new("fit: reading", "rows", Some(total));
    let mut quantizer = quant::fit(
        EmbeddingReader::new(files, options),
        &params,
        Some(&progress),
    )?;
    progress.finish();
    let hash = quant::file::save(&mut quantizer, &args.output)?;
    let c = &quantizer.calibration;
    tracing::info!(
        event = "fit_done",
        output = %args.output.display(),
        dim = quantizer.dim(),
        bits = quantizer.bits(),
        rows = quantizer.info.rows_seen,
        seconds = quantizer.info.seconds,
        candidates_target = c.candidates_target,
        hash = hash.as_str(),
        "quantizer written"
    );
    out.say(format!(
        "wrote {} ({}-d → {} bits, sha256 {}…)\nfitted on {} rows ({} sampled, {} held out) in {:.1} s; ITQ {} iterations{}",
        args.output.display(),
        quantizer.dim(),
        quantizer.bits(),
        &hash[..16],
        quantizer.info.rows_seen,
        quantizer.info.sample_rows,
        quantizer.info.holdout_rows,
        quantizer.info.seconds,
        quantizer.info.objective.len().saturating_sub(1),
        if quantizer.info.converged { " (converged)" } else { " (iteration cap reached)" },
    ));
    out.say(format!(
        "calibrated: {} candidates for recall@1 ≥ {:.1}% at {} rows (growth ∝ rows^{:.2}); dedup radius at cosine 0.5: {}",
        c.candidates_target.map_or("-".into(), |v| v.to_string()),
        100.0 * c.recall_target,
        c.database_rows,
        c.growth_exponent,
        c.radius_for(0.5)
            .map_or("none (no pairs measured)".into(), |r| r.to_string())
    ));
    if args.report {
        out.say(report(&quantizer));
    }
    Ok(())
}

/// The `--report` text: bit balance, ITQ objective per iteration, calibration table.
pub fn report(q: &Quantizer) -> String {
    let info = &q.info;
    let mut s = String::new();
    s += &format!(
        "\nbit balance (share of ones per bit, held-out rows): min {:.3}, max {:.3}\n",
        info.bit_balance.0, info.bit_balance.1
    );
    s += &format!(
        "PCA: first block keeps {:.1}% of the variance\n",
        100.0 * info.explained_variance
    );
    s += &format!(
        "ITQ loss per bit ‖B − V̂R‖²/(n·c) on {} rows, per iteration:\n",
        info.itq_rows
    );
    for (i, o) in info.objective.iter().enumerate() {
        s += &format!("  {i:>3}  {o:.6}\n");
    }
    let c = &q.calibration;
    s += &format!(
        "calibration: {} held-out queries against {} rows\n  candidates  recall@1\n",
        c.queries, c.database_rows
    );
    for p in &c.recall {
        s += &format!("  {:>10}  {:.4}\n", p.candidates, p.recall_at_1);
    }
    s += "  cosine ≥  radius  pairs\n";
    for r in &c.radii {
        s += &format!(
            "  {:>8.1}  {:>6}  {}\n",
            r.cosine,
            r.radius.map_or("-".into(), |v| v.to_string()),
            r.pairs
        );
    }
    s
}
