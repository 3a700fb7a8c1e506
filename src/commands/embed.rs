//! `faceflash-batch embed`: photos (folders, files, lists, or a RecordIO file) into a faces
//! table with YuNet detection, 5-point alignment and SFace/ArcFace embeddings.

use anyhow::{Context, Result};
use faceflash_batch::jobs::embed::{embed, EmbedOutputs, EmbedParams};
use faceflash_batch::progress::Progress;
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
    let params = EmbedParams {
        batch: args.batch,
        resume: args.resume,
    };
    let outputs = EmbedOutputs {
        faces: &args.output,
        errors: args.errors.as_deref(),
    };
    let progress = Progress::new("embed", "images", Some(items.len() as u64));
    let s = embed(
        &embedder,
        items,
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
