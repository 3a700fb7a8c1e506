//! `faceflash-batch bench`: measured figures (medians of repeated runs).

use anyhow::Result;
use faceflash_batch::bench::quant as quant_bench;
use faceflash_batch::bench::synth::{write_dataset, SynthParams};
use faceflash_batch::quant::FitParams;

#[cfg(not(feature = "vision"))]
use super::unavailable;
use super::{Output, UsageError};
use crate::cli::{BenchArgs, BenchDedupArgs, BenchQuantArgs, BenchScanArgs, BenchWhat};

pub fn run(args: &BenchArgs, out: &Output) -> Result<()> {
    match &args.what {
        BenchWhat::Quant(a) => quant(a, out),
        BenchWhat::Scan(a) => scan(a, out),
        BenchWhat::Dedup(a) => dedup(a, out),
        BenchWhat::Ann(a) => super::bench_ann::run(a, out),
        #[cfg(feature = "vision")]
        BenchWhat::Embed(a) => embed(a, out),
        #[cfg(not(feature = "vision"))]
        BenchWhat::Embed(_) => unavailable::run("bench embed"),
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
         calibration: {} candidates for recall@1 ≥ 99.5% at {} rows; radii {}",
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
        r.candidates_target.map_or("-".into(), |c| c.to_string()),
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

fn scan(args: &BenchScanArgs, out: &Output) -> Result<()> {
    use faceflash_batch::bench::scan as scan_bench;
    use faceflash_batch::store::{EmbeddingReader, Gallery, ReadOptions};
    let gallery = Gallery::open(&args.gallery)?;
    let mut queries = Vec::new();
    for batch in EmbeddingReader::new(vec![args.queries.clone()], ReadOptions::default()) {
        let batch = batch?;
        if batch.dim != gallery.dim() {
            return Err(UsageError(format!(
                "{}: queries are {}-d, the gallery {}-d",
                args.queries.display(),
                batch.dim,
                gallery.dim()
            ))
            .into());
        }
        queries.extend_from_slice(&batch.vectors);
    }
    if let Some(max) = args.max_queries {
        queries.truncate(max * gallery.dim());
    }
    if queries.is_empty() {
        return Err(UsageError(format!("{}: no queries", args.queries.display())).into());
    }
    if let Some(dir) = &args.export_codes {
        export_codes(&gallery, &queries, dir)?;
        out.say(format!("codes written to {}", dir.display()));
    }
    let params = scan_bench::ScanBenchParams {
        k: args.k,
        candidates: args.candidates.clone(),
        rerank: args.rerank.clone(),
        recall_queries: args.recall_queries,
        single_queries: args.single_queries,
        repeat: args.repeat,
    };
    let r = scan_bench::run(&gallery, &queries, &params);
    let g = |v: f64| format!("{:.3} G", v / 1e9);
    let mut text = format!(
        "gallery {} rows × {} bits ({}-d), {} queries, {} threads, default kernel {}\n\
         read bandwidth: {:.1} GB/s on 1 thread, {:.1} GB/s on all\n\
         kernel      in-cache pairs/s   streaming pairs/s   (1 thread, 1 query)\n",
        r.gallery_rows,
        r.bits,
        r.dim,
        r.queries,
        r.threads,
        r.kernel,
        r.read_gbps_1_thread,
        r.read_gbps_all_threads
    );
    for k in &r.kernels {
        text += &format!(
            "  {:<9} {:>16} {:>19}\n",
            k.name,
            g(k.in_cache_pairs_per_second),
            g(k.streaming_pairs_per_second)
        );
    }
    text += &format!(
        "batched exact Hamming top-100: {} pairs/s on 1 thread, {} on all\n\
         identify (k={}, all threads):  candidates  floats reranked  queries/s  recall@1 vs exact cosine\n",
        g(r.exact_top100_pairs_per_second_1_thread),
        g(r.exact_top100_pairs_per_second_all_threads),
        args.k
    );
    for f in &r.identify {
        text += &format!(
            "  {:>10}{} {:>15} {:>10.0}  {:.4}\n",
            f.candidates,
            if f.default { "*" } else { " " },
            f.rerank.map_or("all".to_string(), |r| r.to_string()),
            f.queries_per_second,
            f.recall_at_1
        );
    }
    text += &format!(
        "  (* = calibrated default)\nsingle query: median {:.2} ms; streaming the code bytes at the measured bandwidth takes {:.2} ms (ratio {:.2})",
        r.single_query_ms,
        r.code_stream_ms,
        r.single_query_ms / r.code_stream_ms.max(1e-9)
    );
    if let Some(m) = r.resident_after {
        text += &format!(
            "\nresident after: {:.1} MiB ({:.1} MiB mapped files, {:.1} MiB heap)",
            m.total as f64 / 1048576.0,
            m.file as f64 / 1048576.0,
            m.anon as f64 / 1048576.0
        );
    }
    out.say(text);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&r)?)?;
    }
    Ok(())
}

/// Row-major gallery and query codes as raw bytes, with their shapes, for the peer script.
fn export_codes(
    gallery: &faceflash_batch::store::Gallery,
    queries: &[f32],
    dir: &std::path::Path,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let words = gallery.bits() / 64;
    let mut bytes = Vec::with_capacity(gallery.total_rows() as usize * words * 8);
    let mut code = vec![0u64; words];
    for s in gallery.shards() {
        for r in 0..s.rows() {
            s.codes.code(r, &mut code);
            bytes.extend(code.iter().flat_map(|w| w.to_le_bytes()));
        }
    }
    std::fs::write(dir.join("gallery_codes.u8"), &bytes)?;
    let q = gallery.quantizer().encode(queries)?;
    let qb: Vec<u8> = q.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::fs::write(dir.join("query_codes.u8"), &qb)?;
    let meta = serde_json::json!({
        "gallery_rows": gallery.total_rows(),
        "queries": queries.len() / gallery.dim(),
        "bits": gallery.bits(),
    });
    std::fs::write(dir.join("codes.json"), serde_json::to_vec_pretty(&meta)?)?;
    Ok(())
}

fn dedup(args: &BenchDedupArgs, out: &Output) -> Result<()> {
    use faceflash_batch::bench::dedup as dedup_bench;
    use faceflash_batch::store::Gallery;
    super::check_threshold(args.threshold)?;
    let gallery = Gallery::open(&args.gallery)?;
    let temp = tempfile::tempdir()?;
    let r = dedup_bench::run(
        &gallery,
        &temp.path().join("pairs.parquet"),
        args.threshold,
        args.radius,
        args.exact,
    )?;
    let d = &r.dedup;
    out.say(format!(
        "dedup of {} faces at cosine ≥ {} (Hamming radius {}, {} kernel, {} threads): {:.1} s, \
         {:.3} G code pairs/s, {} pairs ({} candidates checked exactly), heap {} MB",
        d.faces,
        d.threshold,
        d.radius,
        d.kernel,
        rayon::current_num_threads(),
        d.seconds,
        d.pairs_per_second / 1e9,
        d.pairs,
        d.candidates,
        r.resident_after_dedup
            .map_or("-".into(), |m| format!("{:.0}", m.anon as f64 / 1e6)),
    ));
    if let (Some(exact), Some(recall), Some(false_pairs), Some(s)) = (
        r.exact_pairs,
        r.pair_recall,
        r.false_pairs,
        r.brute_force_seconds,
    ) {
        out.say(format!(
            "brute force: {exact} exact pairs in {s:.1} s; pair recall {:.4}%, {false_pairs} false pairs",
            recall * 100.0
        ));
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&r)?)?;
    }
    Ok(())
}

#[cfg(feature = "vision")]
fn embed(args: &crate::cli::BenchEmbedArgs, out: &Output) -> Result<()> {
    use faceflash_batch::bench::embed::{run, EmbedBenchParams};
    use faceflash_batch::vision::{Embedder, FaceOptions, ModelFiles, Profile};
    let files = ModelFiles::locate(Profile::Sface, Some(&args.models))?;
    let threads = rayon::current_num_threads();
    let embedder = Embedder::load(files, FaceOptions::default(), threads)?;
    let params = EmbedBenchParams {
        photos: args.photos.clone(),
        copies: args.copies,
        repeat: args.repeat,
        batch: args.batch.max(1),
        baseline: (!args.no_baseline).then(|| (args.python.clone(), args.baseline.clone())),
        models_dir: args.models.clone(),
    };
    let r = run(&embedder, &params)?;
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.say(format!(
        "embed benchmark: {} images ({} faces), {} threads, sface profile\n\
         faceflash-batch: median {:.1} images/s (runs: {})",
        r.images,
        r.faces,
        r.threads,
        r.ours_median,
        list(&r.ours_images_per_second)
    ));
    if let (Some(b), Some(ratio)) = (r.baseline_median, r.ratio) {
        out.say(format!(
            "Python baseline (OpenCV + onnxruntime): median {:.1} images/s (runs: {}), {} faces\n\
             ratio: {:.2}×",
            b,
            list(&r.baseline_images_per_second),
            r.baseline_faces.unwrap_or(0),
            ratio
        ));
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&r)?)?;
    }
    Ok(())
}
