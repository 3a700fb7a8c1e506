//! `faceflash-batch identify`: the k best gallery matches of every query face.

use anyhow::Result;
use faceflash_batch::jobs::{self, IdentifyParams};
use faceflash_batch::progress::Progress;
use faceflash_batch::scan::{default_rerank, SearchParams};
use faceflash_batch::store::{count_rows, resolve_inputs, Gallery, ReadOptions};

use super::{dry_run, Output, UsageError};
use crate::cli::IdentifyArgs;

pub fn run(args: &IdentifyArgs, out: &Output) -> Result<()> {
    if args.k == 0 {
        return Err(UsageError("-k must be at least 1".into()).into());
    }
    if args.rerank == Some(0) {
        return Err(UsageError("--rerank must be at least 1".into()).into());
    }
    if args.candidates == Some(0) {
        return Err(UsageError("--candidates must be at least 1".into()).into());
    }
    if let Some(m) = args.min_cosine {
        if !(-1.0..=1.0).contains(&m) {
            return Err(UsageError(format!("--min-cosine {m} is outside -1..1")).into());
        }
    }
    let files = resolve_inputs(&args.queries)?;
    let total = count_rows(&files)?;
    let gallery = Gallery::open(&args.gallery)?;
    let params = IdentifyParams {
        search: SearchParams {
            k: args.k,
            candidates: args.candidates,
            min_cosine: args.min_cosine,
            rerank: args.rerank,
        },
        batch_size: args.batch_size,
    };
    let read = ReadOptions {
        column: args.column.clone(),
        ..ReadOptions::default()
    };
    if args.dry_run {
        let queries = dry_run::count_checked("identify", &gallery, files, read, total)?;
        let k = args.k;
        dry_run::report(
            "identify",
            format!(
                "would identify {queries} queries against {} faces of {} (k={k}, {} Hamming candidates, {} reranked by exact cosine)",
                gallery.live_rows(),
                args.gallery.display(),
                args.candidates.unwrap_or_else(|| gallery.default_candidates(k)),
                args.rerank.unwrap_or_else(|| default_rerank(k)),
            ),
            &[&args.output],
            out,
        );
        return Ok(());
    }
    let progress = Progress::new("identify", "queries", Some(total));
    let s = jobs::identify(
        &gallery,
        files,
        read,
        &args.output,
        &params,
        Some(&progress),
    )?;
    progress.finish();
    tracing::info!(
        event = "identify_done",
        output = %args.output.display(),
        queries = s.queries,
        matches = s.matches,
        k = s.k,
        candidates = s.candidates,
        gallery_rows = s.gallery_rows,
        kernel = s.kernel,
        seconds = s.seconds,
        queries_per_second = s.queries_per_second,
        heap_bytes = s.resident.map(|r| r.anon),
        mapped_bytes = s.resident.map(|r| r.file),
        "matches written"
    );
    out.say(format!(
        "wrote {}: {} matches for {} queries against {} faces (k={}, {} candidates reranked, {} kernel) in {:.2} s: {:.0} queries/s, {:.2} G code pairs/s",
        args.output.display(),
        s.matches,
        s.queries,
        s.gallery_rows,
        s.k,
        s.candidates,
        s.kernel,
        s.seconds,
        s.queries_per_second,
        s.pairs_per_second / 1e9
    ));
    Ok(())
}
