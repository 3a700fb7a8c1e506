//! `faceflash-batch synth`: write a synthetic gallery and query set.

use std::time::Instant;

use anyhow::Result;
use faceflash_batch::bench::synth::{write_dataset, SynthParams};

use super::{Output, UsageError};
use crate::cli::SynthArgs;

pub fn params(args: &SynthArgs) -> Result<SynthParams> {
    if args.dim < 2 {
        return Err(UsageError(format!("--dim must be at least 2, got {}", args.dim)).into());
    }
    if args.per_identity == 0 {
        return Err(UsageError("--per-identity must be at least 1".into()).into());
    }
    if !(0.0..=1.0).contains(&args.absent_share) {
        return Err(UsageError(format!(
            "--absent-share must be in 0..1, got {}",
            args.absent_share
        ))
        .into());
    }
    if !(args.intra_cosine > 0.0 && args.intra_cosine < 1.0) {
        return Err(UsageError(format!(
            "--intra-cosine must be in (0, 1), got {}",
            args.intra_cosine
        ))
        .into());
    }
    Ok(SynthParams {
        n: args.n,
        queries: args.queries,
        dim: args.dim,
        per_identity: args.per_identity,
        absent_share: args.absent_share,
        intra_cosine: args.intra_cosine,
        seed: args.seed,
        fit: args.fit,
    })
}

pub fn run(args: &SynthArgs, out: &Output) -> Result<()> {
    let params = params(args)?;
    let start = Instant::now();
    let written = write_dataset(&params, &args.out)?;
    let secs = start.elapsed().as_secs_f64();
    tracing::info!(
        event = "synth_done",
        gallery = %written.gallery.display(),
        queries = %written.queries.display(),
        rows = params.n,
        query_rows = params.queries,
        identities = written.identities,
        seconds = secs,
        "synth finished"
    );
    out.say(format!(
        "wrote {} gallery faces ({} identities) to {}\nwrote {} query faces to {}\n{}-d, seed {}, {:.1} s",
        params.n,
        written.identities,
        written.gallery.display(),
        params.queries,
        written.queries.display(),
        params.dim,
        params.seed,
        secs
    ));
    if let Some(fit) = &written.fit {
        out.say(format!(
            "wrote {} fit faces (identities in neither table) to {}",
            params.fit,
            fit.display()
        ));
    }
    Ok(())
}
