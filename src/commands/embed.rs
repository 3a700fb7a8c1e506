//! `faceflash-batch embed`: photos (folders, files, lists, or a RecordIO file) into a faces
//! table with YuNet detection, 5-point alignment and SFace/ArcFace embeddings.

use anyhow::{Context, Result};
use faceflash_batch::jobs::embed::{embed, plan, EmbedOutputs, EmbedParams, EmbedPlan};
use faceflash_batch::progress::Progress;
use faceflash_batch::store::count_rows;
use faceflash_batch::vision::{
    collect_images, collect_records, Embedder, FaceOptions, ModelFiles, Profile,
};

use super::{Output, UsageError};
use crate::cli::EmbedArgs;

pub fn run(args: &EmbedArgs, out: &Output) -> Result<()> {
    if args.batch == 0 {
        return Err(UsageError("--batch must be at least 1".into()).into());
    }
    if !(args.min_score.is_finite() && (0.0..=1.0).contains(&args.min_score)) {
        return Err(UsageError(format!(
            "--min-score must be in 0..1, got {}",
            args.min_score
        ))
        .into());
    }
    if !(args.min_face.is_finite() && args.min_face >= 0.0) {
        return Err(UsageError(format!(
            "--min-face must be ≥ 0 pixels, got {}",
            args.min_face
        ))
        .into());
    }
    if !(args.max_megapixels.is_finite() && args.max_megapixels > 0.0) {
        return Err(UsageError(format!(
            "--max-megapixels must be positive, got {}",
            args.max_megapixels
        ))
        .into());
    }
    if args.detector_size < 32 {
        return Err(UsageError(format!(
            "--detector-size must be at least 32, got {}",
            args.detector_size
        ))
        .into());
    }
    let profile = Profile::parse(&args.profile).map_err(|e| UsageError(e.to_string()))?;
    let items = match &args.recordio {
        Some(rec) => collect_records(rec)?,
        None => collect_images(&args.inputs)?,
    };
    let files = ModelFiles::locate(profile, args.models.as_deref())?;
    let outputs = EmbedOutputs {
        faces: &args.output,
        errors: args.errors.as_deref(),
    };
    let planned = plan(items, &files, &outputs, args.resume)?;
    if args.dry_run || planned.nothing_new(&outputs) {
        return report_plan(args, &planned, &outputs, out);
    }
    let options = FaceOptions {
        all_faces: !args.largest,
        min_face: args.min_face,
        min_score: args.min_score,
        aligned: args.aligned || args.recordio.is_some(),
        max_pixels: (args.max_megapixels * 1e6) as u64,
        detector_side: args.detector_size,
    };
    let threads = rayon::current_num_threads();
    let embedder = Embedder::load(files, options, threads).context("loading the models")?;
    let params = EmbedParams { batch: args.batch };
    let progress = Progress::new(
        "embed",
        "images",
        Some(planned.todo.len() as u64 + planned.skipped),
    );
    let s = embed(
        &embedder,
        planned,
        args.recordio.as_deref(),
        &outputs,
        &params,
        Some(&progress),
    )?;
    progress.finish();
    let faults: u64 = s.faults.values().sum();
    tracing::info!(
        event = "embed_done",
        output = %args.output.display(),
        images = s.images,
        skipped = s.skipped,
        faces = s.faces,
        rows = s.rows,
        faults = faults,
        seconds = s.seconds,
        images_per_second = s.images_per_second,
        "faces written"
    );
    let kinds: Vec<String> = s.faults.iter().map(|(k, n)| format!("{n} {k}")).collect();
    out.say(format!(
        "wrote {}: {} faces ({}-d, {}) from {} of {} images in {:.2} s: {:.1} images/s{}{}",
        args.output.display(),
        s.faces,
        s.dim,
        embedder.files.profile.name(),
        s.images_with_faces,
        s.images,
        s.seconds,
        s.images_per_second,
        if s.skipped > 0 {
            format!(
                "; {} skipped (already done), {} rows in all",
                s.skipped, s.rows
            )
        } else {
            String::new()
        },
        if faults > 0 {
            format!(
                "; no face from {faults} ({}){}",
                kinds.join(", "),
                args.errors
                    .as_ref()
                    .map(|p| format!(", listed in {}", p.display()))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        },
    ));
    Ok(())
}

/// A dry run, or a rerun with nothing new: says so (and, for the rerun, emits the usual
/// `embed_done` event) without loading a model or touching an output.
fn report_plan(
    args: &EmbedArgs,
    planned: &EmbedPlan,
    outputs: &EmbedOutputs,
    out: &Output,
) -> Result<()> {
    let rows = if args.output.is_file() {
        count_rows(std::slice::from_ref(&args.output))?
    } else {
        0
    };
    let todo = planned.todo.len();
    if args.dry_run {
        tracing::info!(
            event = "embed_plan",
            output = %args.output.display(),
            images = todo,
            skipped = planned.skipped,
            rows,
            "dry run"
        );
        out.say(format!(
            "dry run: would embed {todo} image(s) into {}{}; nothing written",
            args.output.display(),
            if planned.skipped > 0 {
                format!(
                    " ({} already done by an earlier run, whose {rows} rows would be kept)",
                    planned.skipped
                )
            } else if args.output.exists() {
                " (replacing it: without --resume its rows are not kept)".to_string()
            } else {
                String::new()
            }
        ));
        return Ok(());
    }
    debug_assert!(planned.nothing_new(outputs));
    tracing::info!(
        event = "embed_done",
        output = %args.output.display(),
        images = 0,
        skipped = planned.skipped,
        faces = 0,
        rows,
        faults = 0,
        seconds = 0.0,
        images_per_second = 0.0,
        "nothing new"
    );
    out.say(format!(
        "{}: nothing new to embed ({} image(s) already done); left unchanged, {rows} rows",
        args.output.display(),
        planned.skipped
    ));
    Ok(())
}
