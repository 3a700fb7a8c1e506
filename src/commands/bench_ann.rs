//! `faceflash-batch bench ann`: prepare each scale's dataset, then measure our side in a
//! child process of its own (so its resident and peak memory are its own, as each peer's is
//! in scripts/compare_peers.py), and print the figures.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use faceflash_batch::bench::ann::data::{prepare, LabelledSet, PrepareParams, Source};
use faceflash_batch::bench::ann::measure::{self, MeasureParams};
use faceflash_batch::store::resolve_inputs;

use super::{Output, UsageError};
use crate::cli::BenchAnnArgs;

/// The name a scale goes by in directory names: `100k`, `1m`, or the number.
pub fn scale_name(n: usize) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}m", n / 1_000_000)
    } else if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn measure_params(a: &BenchAnnArgs) -> MeasureParams {
    MeasureParams {
        bits: a.bits,
        k: a.k,
        latency_queries: a.latency_queries,
        repeat: a.repeat,
        repeat_budget_seconds: a.repeat_budget,
        candidates: a.candidates.clone(),
        impostor_pairs: a.impostor_pairs,
        seed: a.seed,
    }
}

pub fn run(a: &BenchAnnArgs, out: &Output) -> Result<()> {
    if a.k == 0 || a.queries == 0 {
        return Err(UsageError("--k and --queries must be at least 1".into()).into());
    }
    if !(0.0..1.0).contains(&a.absent_share) {
        return Err(UsageError(format!(
            "--absent-share must be in [0, 1), got {}",
            a.absent_share
        ))
        .into());
    }
    if let Some(dir) = &a.dataset {
        return measure_dataset(a, dir, out);
    }
    let (tag, source) = source(a, out)?;
    for &scale in &a.scales {
        let name = format!("{tag}-{}", scale_name(scale));
        let dir = a.work.join(&name);
        let p = PrepareParams {
            scale,
            queries: a.queries,
            fit_rows: a.fit_rows,
            absent_share: a.absent_share,
            truth_k: a.k.max(10),
            seed: a.seed,
        };
        let info = prepare(&source, &p, &dir)?;
        out.say(format!(
            "{name}: dataset {} ({} gallery, {} queries of which {} enrolled, {} fit rows, {}-d)",
            dir.display(),
            info.gallery_rows,
            info.queries,
            info.enrolled_queries,
            info.fit_rows,
            info.dim
        ));
        if a.prepare_only {
            continue;
        }
        let json = a.out.join(&name).join("faceflash-batch.json");
        run_child(a, &dir, &json, out)?;
        summarize(&json, out)?;
    }
    Ok(())
}

/// The data tag (for directory names) and the rows' source.
fn source(a: &BenchAnnArgs, out: &Output) -> Result<(String, Source)> {
    if a.data == "synth" {
        return Ok((
            "synth".into(),
            Source::Synth {
                dim: a.dim,
                per_identity: a.per_identity.max(1),
                intra_cosine: a.intra_cosine,
            },
        ));
    }
    let path = PathBuf::from(&a.data);
    let tag = path
        .file_stem()
        .map(|s| s.to_string_lossy().replace(['.', ' '], "_"))
        .unwrap_or_else(|| "data".into());
    if !path.exists() {
        return Err(UsageError(format!(
            "--data {}: no such file or directory",
            path.display()
        ))
        .into());
    }
    let set = match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let labels = a.labels.as_ref().ok_or_else(|| {
                UsageError(format!(
                    "--data {}: an .npy matrix needs --labels LABELS.npy",
                    path.display()
                ))
            })?;
            LabelledSet::from_npy(&path, labels)?
        }
        Some("rec") => {
            let faces = a.work.join(format!("{tag}.faces.parquet"));
            embed_recordio(&path, &faces, out)?;
            LabelledSet::from_parquet(vec![faces])?
        }
        _ => LabelledSet::from_parquet(resolve_inputs(std::slice::from_ref(&path))?)?,
    };
    out.say(format!(
        "{}: {} labelled rows, {}-d",
        path.display(),
        set.len(),
        set.dim
    ));
    Ok((tag, Source::Labelled(set)))
}

/// Embeds a RecordIO file with our own `embed` (resumable: a rerun continues).
fn embed_recordio(rec: &Path, faces: &Path, out: &Output) -> Result<()> {
    std::fs::create_dir_all(faces.parent().unwrap_or(Path::new(".")))?;
    out.say(format!(
        "embedding {} into {} first",
        rec.display(),
        faces.display()
    ));
    let status = Command::new(std::env::current_exe()?)
        .arg("embed")
        .arg("--recordio")
        .arg(rec)
        .arg("-o")
        .arg(faces)
        .arg("--resume")
        .status()
        .context("starting faceflash-batch embed")?;
    if !status.success() {
        bail!("embedding {} failed ({status})", rec.display());
    }
    Ok(())
}

/// One dataset: the build stage in a child process, then the search stage here, so each
/// process's memory is its own (as with `index`, then `identify`).
fn measure_dataset(a: &BenchAnnArgs, dir: &Path, out: &Output) -> Result<()> {
    let params = measure_params(a);
    let json = a
        .json
        .clone()
        .unwrap_or_else(|| dir.join("faceflash-batch.json"));
    if let Some(gallery) = &a.build_into {
        let built = measure::build(dir, gallery, &params)?;
        return write_json(&json, &serde_json::to_value(&built)?);
    }
    std::fs::create_dir_all(&a.work)?;
    let temp = tempfile::tempdir_in(&a.work)?;
    let gallery = temp.path().join("gallery");
    let build_json = temp.path().join("build.json");
    let status = child_command(a, dir, &build_json, out)?
        .arg("--build-into")
        .arg(&gallery)
        .status()
        .context("starting the build process")?;
    if !status.success() {
        bail!(
            "building the gallery of {} failed ({status})",
            dir.display()
        );
    }
    let built: measure::BuildFigures =
        serde_json::from_str(&std::fs::read_to_string(&build_json)?)?;
    let report = measure::search(dir, &gallery, built, &params)?;
    write_json(&json, &serde_json::to_value(&report)?)?;
    out.say(format!("wrote {}", json.display()));
    Ok(())
}

/// `faceflash-batch bench ann --dataset DIR --json JSON` with this run's parameters.
fn child_command(a: &BenchAnnArgs, dir: &Path, json: &Path, out: &Output) -> Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--threads")
        .arg(rayon::current_num_threads().to_string())
        .arg("-q");
    if out.json {
        cmd.args(["--log-format", "json"]);
    }
    cmd.args(["bench", "ann", "--dataset"])
        .arg(dir)
        .arg("--json")
        .arg(json)
        .arg("--work")
        .arg(&a.work)
        .args(["--bits", &a.bits.to_string()])
        .args(["--k", &a.k.to_string()])
        .args(["--latency-queries", &a.latency_queries.to_string()])
        .args(["--repeat", &a.repeat.to_string()])
        .args(["--repeat-budget", &a.repeat_budget.to_string()])
        .args(["--impostor-pairs", &a.impostor_pairs.to_string()])
        .args(["--seed", &a.seed.to_string()]);
    if !a.candidates.is_empty() {
        let list: Vec<String> = a.candidates.iter().map(|c| c.to_string()).collect();
        cmd.arg("--candidates").arg(list.join(","));
    }
    Ok(cmd)
}

fn run_child(a: &BenchAnnArgs, dir: &Path, json: &Path, out: &Output) -> Result<()> {
    let status = child_command(a, dir, json, out)?
        .status()
        .context("starting the measuring process")?;
    if !status.success() {
        bail!("measuring {} failed ({status})", dir.display());
    }
    Ok(())
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let out = faceflash_batch::store::AtomicOutput::create(path)?;
    std::io::Write::write_all(
        &mut out.file()?,
        serde_json::to_string_pretty(value)?.as_bytes(),
    )?;
    out.commit()?;
    Ok(())
}

fn summarize(json: &Path, out: &Output) -> Result<()> {
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json)?)?;
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let mib = |v: &serde_json::Value| f(v) / 1048576.0;
    let mut text = format!(
        "faceflash-batch: fit {:.1} s, build {:.1} s (peak {:.0} MiB); search process resident {:.0} MiB \
         (peak {:.0} MiB), {} threads\n  \
         point                   queries/s  recall@1  recall@10  latency p50/p95/p99 ms (1 thread)\n",
        f(&r["fit_seconds"]),
        f(&r["build_seconds"]),
        mib(&r["build_peak_bytes"]),
        mib(&r["memory"]["resident_bytes"]),
        mib(&r["memory"]["peak_bytes"]),
        r["threads"]
    );
    for p in r["points"].as_array().into_iter().flatten() {
        text += &format!(
            "  {:<21}{} {:>10.0}  {:>8.4}  {:>9.4}  {:.2} / {:.2} / {:.2}\n",
            p["config"].as_str().unwrap_or("?"),
            if p["default"].as_bool() == Some(true) {
                "*"
            } else {
                " "
            },
            f(&p["qps"]),
            f(&p["recall_at_1"]),
            f(&p["recall_at_10"]),
            f(&p["latency_ms"]["p50"]),
            f(&p["latency_ms"]["p95"]),
            f(&p["latency_ms"]["p99"]),
        );
    }
    let id = &r["identification"];
    text += &format!(
        "  identification rank-1 over {} enrolled probes: exact {:.4}, quantized {:.4}\n",
        id["probes"],
        f(&id["rank1_exact"]),
        f(&id["rank1_quantized"])
    );
    let v = &r["verification"];
    for (i, far) in ["1e-3", "1e-4"].iter().enumerate() {
        text += &format!(
            "  verification TAR@FAR={far}: exact {:.4}, Hamming codes {:.4} ({} genuine, {} impostor pairs)\n",
            f(&v["exact"][i]["tar"]),
            f(&v["quantized"][i]["tar"]),
            v["genuine_pairs"],
            v["impostor_pairs"]
        );
    }
    text += &format!("  (* = calibrated default) → {}", json.display());
    out.say(text);
    Ok(())
}
