//! `faceflash-batch index`: build a gallery from faces tables, or append to one.

use std::time::Instant;

use anyhow::{Context, Result};
use faceflash_batch::progress::Progress;
use faceflash_batch::quant::{self, FitParams};
use faceflash_batch::store::gallery::{
    indexed_face_ids, FloatType, GalleryWriter, Manifest, MANIFEST,
};
use faceflash_batch::store::{
    count_rows, resolve_inputs, EmbeddingReader, GalleryError, ReadOptions,
};

use super::{Output, UsageError};
use crate::cli::IndexArgs;

pub fn run(args: &IndexArgs, out: &Output) -> Result<()> {
    if args.shard_rows == 0 || args.shard_rows > u32::MAX as usize {
        return Err(UsageError(format!(
            "--shard-rows must be between 1 and {} (rows are numbered with 32 bits inside a shard)",
            u32::MAX
        ))
        .into());
    }
    let start = Instant::now();
    let files = resolve_inputs(&args.inputs)?;
    let total = count_rows(&files)?;
    let options = ReadOptions {
        column: args.column.clone(),
        ..ReadOptions::default()
    };
    let skip = vec![
        options.column.clone(),
        options.id_column.clone(),
        options.identity_column.clone(),
    ];
    let existing = args.output.join(MANIFEST).exists();
    if existing && !args.append {
        return Err(UsageError(format!(
            "{} is already a gallery: add faces with --append, or choose another directory",
            args.output.display()
        ))
        .into());
    }
    if args.dry_run {
        return dry_run(args, &files, options, existing, total, out);
    }
    let mut writer = if existing {
        let expected = match &args.quantizer {
            Some(p) => Some(quant::file::load(p)?),
            None => None,
        };
        GalleryWriter::append(
            &args.output,
            expected.as_ref(),
            args.floats,
            args.shard_rows,
            skip,
        )
        .map_err(usage_if_exists)?
    } else {
        let quantizer = match &args.quantizer {
            Some(p) => quant::file::load(p)?,
            None => {
                tracing::info!(
                    rows = total,
                    bits = args.bits,
                    "no --quantizer: fitting one on the input first"
                );
                let params = FitParams {
                    bits: args.bits,
                    seed: args.seed,
                    ..FitParams::default()
                };
                params.validate().map_err(|e| UsageError(e.to_string()))?;
                let progress = Progress::new("index: fitting quantizer", "rows", Some(total));
                let q = quant::fit(
                    EmbeddingReader::new(files.clone(), options.clone()),
                    &params,
                    Some(&progress),
                )
                .context(
                    "fitting a quantizer on the input (pass --quantizer to use an existing one)",
                )?;
                progress.finish();
                q
            }
        };
        GalleryWriter::create(
            &args.output,
            quantizer,
            args.floats.unwrap_or(FloatType::F32),
            args.shard_rows,
            skip,
        )
        .map_err(usage_if_exists)?
    };
    let reader = EmbeddingReader::new(
        files,
        ReadOptions {
            keep_columns: true,
            ..options
        },
    );
    let progress = Progress::new("index", "faces", Some(total));
    for batch in reader {
        let batch = batch?;
        writer.push(&batch)?;
        progress.inc(batch.len() as u64);
    }
    progress.finish();
    let summary = writer.finish()?;
    let seconds = start.elapsed().as_secs_f64();
    tracing::info!(
        event = "index_done",
        gallery = %summary.gallery.display(),
        rows_added = summary.rows_added,
        rows_skipped = summary.rows_skipped,
        shards_added = summary.shards_added,
        total_rows = summary.total_rows,
        generation = summary.generation,
        seconds,
        "gallery written"
    );
    out.say(format!(
        "{} {}: +{} faces{} in {} new shard(s); now {} faces in {} shard(s), generation {} ({:.1} s, {:.0} faces/s)",
        if summary.created { "created" } else { "appended to" },
        summary.gallery.display(),
        summary.rows_added,
        if summary.rows_skipped > 0 {
            format!(" ({} already indexed, skipped)", summary.rows_skipped)
        } else {
            String::new()
        },
        summary.shards_added,
        summary.total_rows,
        summary.shards,
        summary.generation,
        seconds,
        summary.rows_added as f64 / seconds.max(1e-9)
    ));
    Ok(())
}

/// `--dry-run`: reads the inputs (validating them as the real run would) and the gallery's
/// face ids, and says how many faces would be added and skipped; writes nothing, takes no
/// lock.
fn dry_run(
    args: &IndexArgs,
    files: &[std::path::PathBuf],
    options: ReadOptions,
    existing: bool,
    total: u64,
    out: &Output,
) -> Result<()> {
    let manifest = existing.then(|| Manifest::read(&args.output)).transpose()?;
    let mut known = match &manifest {
        Some(m) => indexed_face_ids(&args.output, m)?,
        None => Default::default(),
    };
    let (mut new, mut skipped) = (0u64, 0u64);
    let progress = Progress::new("index: dry run", "faces", Some(total));
    for batch in EmbeddingReader::new(files.to_vec(), options) {
        let batch = batch?;
        for id in batch.face_id.iter() {
            if known.insert(id.unwrap_or_default().to_string()) {
                new += 1;
            } else {
                skipped += 1;
            }
        }
        progress.inc(batch.len() as u64);
    }
    progress.finish();
    tracing::info!(
        event = "index_plan",
        gallery = %args.output.display(),
        rows_new = new,
        rows_skipped = skipped,
        exists = existing,
        "dry run"
    );
    let what = match &manifest {
        Some(m) => format!(
            "would append {new} face(s) to {} ({skipped} already indexed, skipped); it holds {} \
             faces in {} shard(s), generation {}",
            args.output.display(),
            m.total_rows(),
            m.shards.len(),
            m.generation
        ),
        None => format!(
            "would create {} with {new} face(s){} from {} file(s), {}",
            args.output.display(),
            if skipped > 0 {
                format!(" ({skipped} repeated face ids skipped)")
            } else {
                String::new()
            },
            files.len(),
            match &args.quantizer {
                Some(q) => format!("encoded with {}", q.display()),
                None => format!("fitting a {}-bit quantizer on them first", args.bits),
            }
        ),
    };
    out.say(format!("dry run: {what}; nothing written"));
    Ok(())
}

/// An existing directory or a --quantizer/--floats that does not fit the gallery is the
/// user's choice of options: a usage error (exit 2).
fn usage_if_exists(e: GalleryError) -> anyhow::Error {
    match e {
        GalleryError::Exists { .. } | GalleryError::Mismatch { .. } => {
            UsageError(e.to_string()).into()
        }
        other => other.into(),
    }
}
