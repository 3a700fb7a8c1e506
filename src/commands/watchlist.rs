//! `faceflash-batch watchlist`: stream faces matched against a watchlist gallery.

use anyhow::Result;
use faceflash_batch::jobs::{self, WatchlistParams};
use faceflash_batch::progress::Progress;
use faceflash_batch::store::{count_rows, resolve_inputs, Gallery, ReadOptions};

use super::{check_threshold, dry_run, Output, UsageError};
use crate::cli::WatchlistArgs;

pub fn run(args: &WatchlistArgs, out: &Output) -> Result<()> {
    check_threshold(args.threshold)?;
    if args.k == 0 {
        return Err(UsageError("-k must be at least 1".into()).into());
    }
    let files = resolve_inputs(&args.stream)?;
    let total = count_rows(&files)?;
    let gallery = Gallery::open(&args.watchlist)?;
    let params = WatchlistParams {
        threshold: args.threshold,
        radius: args.radius,
        k: args.k,
        per_identity: args.per_identity,
        batch_size: args.batch_size,
    };
    let read = ReadOptions {
        column: args.column.clone(),
        ..ReadOptions::default()
    };
    if args.dry_run {
        let radius = jobs::prefilter_radius(&gallery, args.threshold, args.radius)?;
        let faces = dry_run::count_checked("watchlist", &gallery, files, read, total)?;
        dry_run::report(
            "watchlist",
            format!(
                "would match {faces} stream faces against {} watchlist faces of {} at cosine ≥ {} (Hamming radius {radius}, {} hit(s) per face{})",
                gallery.live_rows(),
                args.watchlist.display(),
                args.threshold,
                args.k,
                if args.per_identity { ", best per identity" } else { "" },
            ),
            &[&args.output],
            out,
        );
        return Ok(());
    }
    let progress = Progress::new("watchlist", "faces", Some(total));
    let s = jobs::watchlist(
        &gallery,
        files,
        read,
        &args.output,
        &params,
        Some(&progress),
    )?;
    progress.finish();
    tracing::info!(
        event = "watchlist_done",
        output = %args.output.display(),
        stream_faces = s.stream_faces,
        faces_with_hits = s.faces_with_hits,
        hits = s.hits,
        watchlist_faces = s.watchlist_faces,
        radius = s.radius,
        candidates = s.candidates,
        kernel = s.kernel,
        seconds = s.seconds,
        faces_per_second = s.faces_per_second,
        "hits written"
    );
    out.say(format!(
        "wrote {}: {} hits for {} of {} stream faces against {} watchlist faces (cosine ≥ {}, Hamming radius {}, {} kernel) in {:.2} s: {:.0} faces/s",
        args.output.display(),
        s.hits,
        s.faces_with_hits,
        s.stream_faces,
        s.watchlist_faces,
        s.threshold,
        s.radius,
        s.kernel,
        s.seconds,
        s.faces_per_second
    ));
    Ok(())
}
