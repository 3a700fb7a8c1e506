//! `bench embed`: photo embedding throughput of `embed` against the Python baseline
//! (`scripts/embed_baseline.py photos`: OpenCV + onnxruntime, same models, same photos, same
//! threads), run alternately so both see the same machine load; medians and their ratio.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::stats::median;
use crate::jobs::embed::{embed, plan, EmbedOutputs, EmbedParams};
use crate::jobs::JobError;
use crate::vision::{collect_images, Embedder, VisionError};

/// What to measure.
#[derive(Debug, Clone)]
pub struct EmbedBenchParams {
    /// Photos (folders or files).
    pub photos: Vec<PathBuf>,
    /// Copies of the photo set to run over (a bigger set from the few real photos).
    pub copies: usize,
    /// Runs of each side.
    pub repeat: usize,
    pub batch: usize,
    /// Python interpreter and baseline script; `None` measures faceflash-batch alone.
    pub baseline: Option<(PathBuf, PathBuf)>,
    /// Models directory handed to the baseline.
    pub models_dir: PathBuf,
}

/// Measured throughput.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedBenchReport {
    pub images: usize,
    pub faces: u64,
    pub threads: usize,
    pub ours_images_per_second: Vec<f64>,
    pub baseline_images_per_second: Vec<f64>,
    pub baseline_faces: Option<u64>,
    pub ours_median: f64,
    pub baseline_median: Option<f64>,
    /// Ours / baseline medians.
    pub ratio: Option<f64>,
}

/// Runs the benchmark with the loaded `embedder`.
pub fn run(embedder: &Embedder, params: &EmbedBenchParams) -> Result<EmbedBenchReport, JobError> {
    let temp = tempfile::tempdir().map_err(|source| VisionError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let set = temp.path().join("photos");
    let originals = collect_images(&params.photos)?;
    for copy in 0..params.copies.max(1) {
        let dir = set.join(format!("copy{copy:04}"));
        std::fs::create_dir_all(&dir).map_err(|source| VisionError::Io {
            path: dir.clone(),
            source,
        })?;
        for (i, item) in originals.iter().enumerate() {
            let from = Path::new(&item.path);
            let name = format!(
                "{i:04}-{}",
                from.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            std::fs::copy(from, dir.join(name)).map_err(|source| VisionError::Io {
                path: from.to_path_buf(),
                source,
            })?;
        }
    }
    let images = collect_images(std::slice::from_ref(&set))?;
    let out = temp.path().join("faces.parquet");
    let embed_params = EmbedParams {
        batch: params.batch,
    };
    let mut report = EmbedBenchReport {
        images: images.len(),
        faces: 0,
        threads: rayon::current_num_threads(),
        ours_images_per_second: Vec::new(),
        baseline_images_per_second: Vec::new(),
        baseline_faces: None,
        ours_median: 0.0,
        baseline_median: None,
        ratio: None,
    };
    for _ in 0..params.repeat.max(1) {
        let outputs = EmbedOutputs {
            faces: &out,
            errors: None,
        };
        let s = embed(
            embedder,
            plan(images.clone(), &embedder.files, &outputs, false)?,
            None,
            &outputs,
            &embed_params,
            None,
        )?;
        report.faces = s.faces;
        report.ours_images_per_second.push(s.images_per_second);
        if let Some((python, script)) = &params.baseline {
            let (ips, faces) = baseline(
                python,
                script,
                &params.models_dir,
                report.threads,
                params.batch,
                &set,
            )?;
            report.baseline_images_per_second.push(ips);
            report.baseline_faces = Some(faces);
        }
    }
    report.ours_median = median(&report.ours_images_per_second);
    if !report.baseline_images_per_second.is_empty() {
        let b = median(&report.baseline_images_per_second);
        report.baseline_median = Some(b);
        report.ratio = Some(report.ours_median / b);
    }
    Ok(report)
}

fn baseline(
    python: &Path,
    script: &Path,
    models: &Path,
    threads: usize,
    batch: usize,
    photos: &Path,
) -> Result<(f64, u64), JobError> {
    let run = Command::new(python)
        .arg(script)
        .arg("photos")
        .arg("--models")
        .arg(models)
        .arg("--threads")
        .arg(threads.to_string())
        .arg("--batch")
        .arg(batch.to_string())
        .arg(photos)
        .output()
        .map_err(|e| {
            JobError::Params(format!(
                "cannot run the Python baseline {}: {e} (install it with `make peers`)",
                python.display()
            ))
        })?;
    if !run.status.success() {
        return Err(JobError::Params(format!(
            "the Python baseline failed (install its packages with `make peers`): {}",
            String::from_utf8_lossy(&run.stderr).trim()
        )));
    }
    let line = String::from_utf8_lossy(&run.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).map_err(|e| {
        JobError::Params(format!(
            "the Python baseline printed `{}`: {e}",
            line.trim()
        ))
    })?;
    Ok((
        v["images_per_second"].as_f64().unwrap_or(0.0),
        v["faces"].as_u64().unwrap_or(0),
    ))
}
