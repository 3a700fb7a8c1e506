//! The `embed` job: images → faces table (+ errors table), streaming in chunks so memory
//! stays bounded whatever the number of photos. Decoding, detection and alignment run in
//! parallel over the images of a chunk; recognition runs on the chunk's crops in batches.
//! An image that yields no face never stops the job: it becomes a row of the errors table.

mod resume;
mod tables;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

pub use resume::{copy_rows, done_paths, provenance_value};
pub use tables::{embed_errors_schema, embedded_faces_schema, ErrorsOut, FaceRow, FacesOut};

use crate::jobs::JobError;
use crate::progress::Progress;
use crate::store::recordio::RecordIoReader;
use crate::store::{count_rows, Provenance};
use crate::vision::walk::ImageSource;
use crate::vision::{Embedder, FaceCrop, Fault, FaultKind, ImageItem, ModelFiles};

/// Parameters of an embedding run.
#[derive(Debug, Clone)]
pub struct EmbedParams {
    /// Faces per recognizer batch.
    pub batch: usize,
}

/// What a run will do, decided from the inputs and (with `--resume`) the previous outputs
/// alone, before any model is loaded: `embed --dry-run` prints it, and a rerun with nothing
/// new stops here without starting ONNX Runtime.
#[derive(Debug)]
pub struct EmbedPlan {
    /// Images this run will embed.
    pub todo: Vec<ImageItem>,
    /// Images a previous run already handled (in its faces or errors table).
    pub skipped: u64,
    keep_faces: bool,
    keep_errors: bool,
}

impl EmbedPlan {
    /// Nothing to embed and no output to add: every output would stay exactly as it is.
    pub fn nothing_new(&self, out: &EmbedOutputs) -> bool {
        self.keep_faces && self.todo.is_empty() && (out.errors.is_none() || self.keep_errors)
    }
}

/// Plans a run over `items`: with `resume`, the paths already in the previous faces or errors
/// table are skipped and their rows kept. A previous faces table made with another recognizer
/// (by its provenance) is refused: its embeddings would not be comparable.
pub fn plan(
    items: Vec<ImageItem>,
    files: &ModelFiles,
    out: &EmbedOutputs,
    resume: bool,
) -> Result<EmbedPlan, JobError> {
    let mut done = HashSet::new();
    let keep_faces = resume && out.faces.is_file();
    let keep_errors = resume && out.errors.is_some_and(Path::is_file);
    if keep_faces {
        let made_with = provenance_value(out.faces, "recognizer_sha256")?;
        if made_with
            .as_deref()
            .is_some_and(|sha| sha != files.recognizer_sha256)
        {
            return Err(JobError::Params(format!(
                "--resume: {} was embedded with another recognizer model; its embeddings would not be comparable — write to a new output",
                out.faces.display()
            )));
        }
        done_paths(out.faces, &mut done)?;
    }
    if let (true, Some(errors)) = (keep_errors, out.errors) {
        done_paths(errors, &mut done)?;
    }
    let total = items.len() as u64;
    let todo: Vec<ImageItem> = items
        .into_iter()
        .filter(|i| !done.contains(&i.path))
        .collect();
    Ok(EmbedPlan {
        skipped: total - todo.len() as u64,
        todo,
        keep_faces,
        keep_errors,
    })
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EmbedSummary {
    /// Images looked at in this run.
    pub images: u64,
    /// Images skipped because a previous run handled them (`--resume`).
    pub skipped: u64,
    /// Images that gave at least one face.
    pub images_with_faces: u64,
    /// Faces embedded in this run.
    pub faces: u64,
    /// Rows in the output, including those kept from a previous run.
    pub rows: u64,
    /// Images without a face, by kind (`no_face`, `corrupt`, …).
    pub faults: BTreeMap<String, u64>,
    pub dim: usize,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// A stable face id from the XXH3 hash of the image's bytes, a hash of its path and the face
/// index: `{content:016x}{path:08x}-{index}`. The same photo under the same path always gets
/// the same ids; a copy under another path gets other ids.
pub fn face_id(content_hash: u64, path: &str, face_index: u16) -> String {
    format!(
        "{content_hash:016x}{:08x}-{face_index}",
        xxh3_64(path.as_bytes()) as u32
    )
}

struct ImageResult {
    content_hash: u64,
    outcome: Result<Vec<FaceCrop>, Fault>,
}

/// Where `embed` writes.
pub struct EmbedOutputs<'a> {
    pub faces: &'a Path,
    pub errors: Option<&'a Path>,
}

/// Embeds the images of `plan` (files, or records of `recordio`) into `out.faces`, after the
/// rows the plan keeps from a previous run.
pub fn embed(
    embedder: &Embedder,
    plan: EmbedPlan,
    recordio: Option<&Path>,
    out: &EmbedOutputs,
    params: &EmbedParams,
    progress: Option<&Progress>,
) -> Result<EmbedSummary, JobError> {
    let start = Instant::now();
    let dim = embedder.dim;
    let mut provenance = Provenance::new("embed");
    provenance
        .set("model", embedder.files.profile.name())
        .set("detector_sha256", &embedder.files.detector_sha256)
        .set("recognizer_sha256", &embedder.files.recognizer_sha256)
        .params(&serde_json::json!({
            "profile": embedder.files.profile.name(),
            "all_faces": embedder.options.all_faces,
            "min_face": embedder.options.min_face,
            "min_score": embedder.options.min_score,
            "aligned": embedder.options.aligned,
            "batch": params.batch,
        }));
    let mut summary = EmbedSummary {
        dim,
        ..EmbedSummary::default()
    };

    // --resume: what earlier runs did stays, and is not done again.
    summary.skipped = plan.skipped;
    if let Some(p) = progress {
        p.inc(summary.skipped);
    }
    if plan.nothing_new(out) {
        // Nothing new: the outputs stay exactly as they are (a cron rerun writes nothing).
        summary.rows = count_rows(std::slice::from_ref(&out.faces.to_path_buf()))?;
        summary.seconds = start.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let (items, resume_faces, resume_errors) = (plan.todo, plan.keep_faces, plan.keep_errors);

    let mut faces_out =
        FacesOut::create(out.faces, dim, embedder.files.profile.name(), &provenance)?;
    let mut errors_out = out
        .errors
        .map(|p| ErrorsOut::create(p, &provenance))
        .transpose()?;
    if resume_faces {
        summary.rows += copy_rows(out.faces, &embedded_faces_schema(dim), faces_out.rows())?;
    }
    if let (true, Some(errors)) = (resume_errors, errors_out.as_mut()) {
        copy_rows(out.errors.unwrap(), &embed_errors_schema(), errors.rows())?;
    }

    let mut records = recordio.map(RecordIoReader::open).transpose()?;
    let chunk = (params.batch.max(1) * 4).max(64);
    for items in items.chunks(chunk) {
        // Records are read in order on this thread; files are read by the workers.
        let record_bytes: Vec<Option<Vec<u8>>> = items
            .iter()
            .map(|item| match (&item.source, records.as_mut()) {
                (ImageSource::Record { offset }, Some(reader)) => {
                    reader.read_at(*offset).map(|(_, bytes)| Some(bytes))
                }
                _ => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        let results: Vec<ImageResult> = items
            .par_iter()
            .zip(record_bytes.into_par_iter())
            .map(|(item, bytes)| process(embedder, item, bytes))
            .collect::<Result<_, _>>()?;
        let crops: Vec<&[u8]> = results
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok())
            .flat_map(|faces| faces.iter().map(|f| f.crop.as_slice()))
            .collect();
        let mut embeddings = Vec::with_capacity(crops.len() * dim);
        for batch in crops.chunks(params.batch.max(1)) {
            let (values, got) = embedder.embed(batch)?;
            if got != dim {
                return Err(JobError::Params(format!(
                    "the recognizer returned {got}-d embeddings after {dim}-d ones"
                )));
            }
            embeddings.extend_from_slice(&values);
        }
        let mut next = embeddings.chunks_exact(dim.max(1));
        for (item, result) in items.iter().zip(&results) {
            summary.images += 1;
            match &result.outcome {
                Ok(faces) => {
                    summary.images_with_faces += 1;
                    for face in faces {
                        let embedding = next.next().expect("one embedding per crop");
                        let id = face_id(result.content_hash, &item.path, face.face_index);
                        faces_out.push(&FaceRow {
                            face_id: &id,
                            path: &item.path,
                            identity: item.identity.as_deref(),
                            face,
                            embedding,
                        })?;
                        summary.faces += 1;
                    }
                }
                Err(fault) => {
                    *summary
                        .faults
                        .entry(fault.kind.name().to_string())
                        .or_default() += 1;
                    match errors_out.as_mut() {
                        Some(errors) => errors.push(&item.path, fault)?,
                        None => {
                            tracing::warn!(path = %item.path, kind = fault.kind.name(), "{}", fault.message)
                        }
                    }
                }
            }
        }
        if let Some(p) = progress {
            p.inc(items.len() as u64);
        }
    }
    summary.rows += summary.faces;
    faces_out.finish()?;
    if let Some(errors) = errors_out {
        errors.finish()?;
    }
    summary.seconds = start.elapsed().as_secs_f64();
    summary.images_per_second = summary.images as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

/// Reads (unless given), decodes, detects and aligns one image.
fn process(
    embedder: &Embedder,
    item: &ImageItem,
    bytes: Option<Vec<u8>>,
) -> Result<ImageResult, JobError> {
    let bytes = match (bytes, &item.source) {
        (Some(bytes), _) => bytes,
        (None, ImageSource::File(path)) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Ok(ImageResult {
                    content_hash: 0,
                    outcome: Err(Fault::new(FaultKind::Unreadable, e.to_string())),
                })
            }
        },
        (None, ImageSource::Record { .. }) => Vec::new(),
    };
    let outcome = embedder.faces(&bytes)?;
    Ok(ImageResult {
        content_hash: xxh3_64(&bytes),
        outcome,
    })
}
