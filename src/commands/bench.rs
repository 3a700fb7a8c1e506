//! `faceflash-batch bench`: measured figures (medians of repeated runs).

use anyhow::Result;
use faceflash_batch::bench::quant as quant_bench;
use faceflash_batch::bench::synth::{write_dataset, SynthParams};
use faceflash_batch::quant::FitParams;

use super::{unavailable, Output, UsageError};
use crate::cli::{BenchArgs, BenchQuantArgs, BenchWhat};

pub fn run(args: &BenchArgs, out: &Output) -> Result<()> {
    match &args.what {
        BenchWhat::Quant(a) => quant(a, out),
        BenchWhat::Scan => unavailable::run("bench scan"),
        BenchWhat::Ann => unavailable::run("bench ann"),
        BenchWhat::Embed => unavailable::run("bench embed"),
    }
}

fn quant(args: &BenchQuantArgs, out: &Output) -> Result<()> {
    let params = FitParams {
        bits: args.bits,
        ..FitParams::default()
    };
    params.validate().map_err(|e| UsageError(e.to_string()))?;
    let temp = tempfile::tempdir()?;
    let input = match &args.input {
        Some(p) => p.clone(),
        None => {
            out.say(format!("generating synth {} × {} ...", args.n, args.dim));
            let synth = SynthParams {
                n: args.n,
                queries: 1,
                dim: args.dim,
                ..SynthParams::default()
            };
            write_dataset(&synth, temp.path())?.gallery
        }
    };
    let r = quant_bench::run(input, &params, args.repeat)?;
    out.say(format!(
        "quantizer benchmark: {} rows × {}-d → {} bits, {} threads\n\
         fit: median {:.1} s (runs: {})\n\
         encode: {:.0} vectors/s on 1 thread, {:.0} vectors/s on {} threads (median of {} runs)\n\
         bit balance: {:.3}..{:.3}\n\
         calibration: {} candidates for recall@1 ≥ 99.9% at {} rows; radii {}",
        r.rows,
        r.dim,
        r.bits,
        r.threads,
        r.fit_median_seconds,
        r.fit_seconds
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.encode_per_second_1_thread,
        r.encode_per_second_all_threads,
        r.threads,
        args.repeat.max(3),
        r.bit_balance.0,
        r.bit_balance.1,
        r.candidates_999.map_or("-".into(), |c| c.to_string()),
        r.calibration_rows,
        r.radii
            .iter()
            .map(|(c, rad)| format!("{c:.1}→{}", rad.map_or("-".into(), |v| v.to_string())))
            .collect::<Vec<_>>()
            .join(" "),
    ));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&r)?)?;
    }
    Ok(())
}
