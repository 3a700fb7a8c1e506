//! `faceflash-batch demo`: the pipeline on built-in synthetic data, for a newcomer.

use std::time::Instant;

use anyhow::Result;
use faceflash_batch::bench::stats::{table_summary, SUMMARY_ROWS};
use faceflash_batch::bench::synth::{write_dataset, SynthParams};
use faceflash_batch::jobs::{self, IdentifyParams};
use faceflash_batch::progress::Progress;
use faceflash_batch::quant::{self, FitParams};
use faceflash_batch::scan::SearchParams;
use faceflash_batch::store::gallery::{FloatType, GalleryWriter};
use faceflash_batch::store::{EmbeddingReader, Gallery, ReadOptions};

use super::{describe_summary, Output};
use crate::cli::DemoArgs;

pub fn run(args: &DemoArgs, out: &Output) -> Result<()> {
    let start = Instant::now();
    let params = SynthParams {
        n: args.n,
        queries: (args.n / 10).max(1),
        ..SynthParams::default()
    };
    out.say(format!(
        "faceflash-batch demo: outputs in {}\n\n1. synth: {} gallery + {} query faces, {}-d, {} per identity",
        args.out.display(),
        params.n,
        params.queries,
        params.dim,
        params.per_identity
    ));
    let written = write_dataset(&params, &args.out)?;
    out.say(format!(
        "   {}  ({} identities)\n   {}",
        written.gallery.display(),
        written.identities,
        written.queries.display()
    ));

    let progress = Progress::new("read back", "rows", Some(params.n as u64));
    let summary = table_summary(
        vec![written.gallery.clone()],
        ReadOptions::default(),
        SUMMARY_ROWS,
        &progress,
    )?;
    progress.finish();
    out.say(format!(
        "\n2. the gallery, read back and validated:\n   {}",
        describe_summary(&summary).replace('\n', "\n   ")
    ));

    let quantizer_path = args.out.join("quantizer.ffq");
    out.say(format!(
        "\n3. fit: PCA+ITQ quantizer, {}-d → 512 bits",
        summary.dim
    ));
    let progress = Progress::new("fit", "rows", Some(params.n as u64));
    let mut q = quant::fit(
        EmbeddingReader::new(vec![written.gallery.clone()], ReadOptions::default()),
        &FitParams::default(),
        Some(&progress),
    )?;
    progress.finish();
    let hash = quant::file::save(&mut q, &quantizer_path)?;
    let c = &q.calibration;
    out.say(format!(
        "   {}  (sha256 {}…, fitted in {:.1} s)\n   bit balance {:.3}..{:.3}; recall@1 after reranking 10 / 100 Hamming candidates: {}\n   calibrated defaults: {} candidates for recall@1 ≥ 99.5% at {} rows; dedup radius at cosine 0.5: {}",
        quantizer_path.display(),
        &hash[..16],
        q.info.seconds,
        q.info.bit_balance.0,
        q.info.bit_balance.1,
        [10, 100]
            .iter()
            .map(|&k| c.recall.iter().find(|p| p.candidates == k).map_or("-".into(), |p| format!("{:.3}", p.recall_at_1)))
            .collect::<Vec<_>>()
            .join(" / "),
        c.candidates_target.map_or("-".into(), |v| v.to_string()),
        c.database_rows,
        c.radius_for(0.5).map_or("-".into(), |r| r.to_string()),
    ));

    let gallery_dir = args.out.join("gallery");
    out.say(format!(
        "\n4. index: code, float and metadata shards in {}",
        gallery_dir.display()
    ));
    if gallery_dir
        .join(faceflash_batch::store::gallery::MANIFEST)
        .exists()
    {
        std::fs::remove_dir_all(&gallery_dir)?; // the previous demo's gallery
    }
    let mut writer = GalleryWriter::create(
        &gallery_dir,
        q,
        FloatType::F32,
        1_000_000,
        vec!["embedding".into(), "face_id".into(), "identity".into()],
    )?;
    let reader = EmbeddingReader::new(
        vec![written.gallery.clone()],
        ReadOptions {
            keep_columns: true,
            ..ReadOptions::default()
        },
    );
    for batch in reader {
        writer.push(&batch?)?;
    }
    writer.finish()?;
    let info = faceflash_batch::store::gallery::info(&gallery_dir)?;
    out.say(format!(
        "   {} faces in {} shard(s); {:.1} MiB of codes stay resident, {:.1} MiB of floats are read per candidate; opened in {:.1} ms",
        info.rows,
        info.shards,
        info.code_bytes as f64 / 1048576.0,
        info.float_bytes as f64 / 1048576.0,
        info.open_ms
    ));

    let matches = args.out.join("matches.parquet");
    out.say(format!(
        "\n5. identify: the 10 best gallery matches of every query → {}",
        matches.display()
    ));
    let gallery = Gallery::open(&gallery_dir)?;
    let progress = Progress::new("identify", "queries", Some(params.queries as u64));
    let s = jobs::identify(
        &gallery,
        vec![written.queries.clone()],
        ReadOptions::default(),
        &matches,
        &IdentifyParams {
            search: SearchParams::top(10),
            batch_size: 4096,
        },
        Some(&progress),
    )?;
    progress.finish();
    let (right, present) = rank1_identity_accuracy(&written.queries, &matches, &gallery)?;
    out.say(format!(
        "   {} matches for {} queries in {:.2} s ({:.0} queries/s, {} candidates, {} kernel)\n   rank-1 identity correct for {}/{} queries whose identity is in the gallery ({:.1}%)",
        s.matches,
        s.queries,
        s.seconds,
        s.queries_per_second,
        s.candidates,
        s.kernel,
        right,
        present,
        100.0 * right as f64 / present.max(1) as f64
    ));
    dedup_and_cluster(&gallery, args, out)?;

    let hits = args.out.join("hits.parquet");
    out.say(format!(
        "\n7. watchlist: the query faces as a stream against the gallery as a watchlist (cosine ≥ 0.5, best face of up to 3 people each) → {}",
        hits.display()
    ));
    let progress = Progress::new("watchlist", "faces", Some(params.queries as u64));
    let w = jobs::watchlist(
        &gallery,
        vec![written.queries.clone()],
        ReadOptions::default(),
        &hits,
        &jobs::WatchlistParams {
            threshold: 0.5,
            radius: None,
            k: 3,
            per_identity: true,
            batch_size: 4096,
        },
        Some(&progress),
    )?;
    progress.finish();
    out.say(format!(
        "   {} hits for {} of {} stream faces in {:.2} s ({:.0} faces/s, Hamming radius {})",
        w.hits, w.faces_with_hits, w.stream_faces, w.seconds, w.faces_per_second, w.radius
    ));
    sql_step(args, out)?;
    photos_step(args, out)?;
    out.say(format!(
        "\nQuery the outputs yourself, e.g.:\n   faceflash-batch sql --table clusters={} \\\n     \"SELECT cluster_id, max(cluster_size) AS faces FROM clusters GROUP BY cluster_id ORDER BY faces DESC LIMIT 5\"\ndone in {:.1} s",
        args.out.join("clusters.parquet").display(),
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Step 8: SQL over the outputs (the identify matches joined with the clusters).
#[cfg(feature = "sql")]
fn sql_step(args: &DemoArgs, out: &Output) -> Result<()> {
    use datafusion::prelude::ParquetReadOptions;
    let query = "SELECT c.cluster_size AS cluster_faces, count(*) AS rank1_matches, \
                 round(avg(m.cosine), 3) AS mean_cosine \
                 FROM matches m JOIN clusters c ON m.face_id = c.face_id \
                 WHERE m.rank = 1 GROUP BY c.cluster_size ORDER BY rank1_matches DESC LIMIT 5";
    out.say(format!(
        "\n8. sql (DataFusion with the ff_* functions): rank-1 matches by the size of the matched face's cluster\n   {query}"
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(rayon::current_num_threads())
        .enable_all()
        .build()?;
    let text = runtime.block_on(async {
        let ctx = faceflash_batch::sql::new_session();
        for name in ["matches", "clusters"] {
            let path = args.out.join(format!("{name}.parquet"));
            ctx.register_parquet(
                name,
                path.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await?;
        }
        let batches = ctx.sql(query).await?.collect().await?;
        anyhow::Ok(arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    })?;
    out.say(format!("   {}", text.replace('\n', "\n   ")));
    Ok(())
}

#[cfg(not(feature = "sql"))]
fn sql_step(_args: &DemoArgs, out: &Output) -> Result<()> {
    out.say("\n8. sql: not in this build (feature `sql`)");
    Ok(())
}

/// Step 9: the real sample photos (when `make demo` fetched them): embed, then show which
/// faces are the same person.
#[cfg(feature = "vision")]
fn photos_step(args: &DemoArgs, out: &Output) -> Result<()> {
    use faceflash_batch::jobs::embed::{embed, plan, EmbedOutputs, EmbedParams};
    use faceflash_batch::vision::{collect_images, Embedder, FaceOptions, ModelFiles, Profile};
    let photos = std::path::PathBuf::from("tests/data/photos");
    let files = match ModelFiles::locate(Profile::Sface, None) {
        Ok(f) if photos.is_dir() => f,
        _ => {
            out.say("\n9. embed: skipped (no models/ or tests/data/photos here: `make demo` fetches them)");
            return Ok(());
        }
    };
    let faces_path = args.out.join("photos.parquet");
    out.say(format!(
        "\n9. embed: the sample photos in {} (YuNet + SFace on ONNX Runtime) → {}",
        photos.display(),
        faces_path.display()
    ));
    let embedder = Embedder::load(files, FaceOptions::default(), rayon::current_num_threads())?;
    let items = collect_images(std::slice::from_ref(&photos))?;
    let outputs = EmbedOutputs {
        faces: &faces_path,
        errors: None,
    };
    let s = embed(
        &embedder,
        plan(items, &embedder.files, &outputs, false)?,
        None,
        &outputs,
        &EmbedParams { batch: 32 },
        None,
    )?;
    out.say(format!(
        "   {} faces ({}-d) from {} photos in {:.2} s",
        s.faces, s.dim, s.images, s.seconds
    ));
    let (names, vectors) = read_faces(&faces_path)?;
    // The same clustering as `dedup --clusters --min-faces 1` (connected components) over
    // every pair of the handful of faces at cosine ≥ 0.5.
    let n = names.len();
    let mut spill = jobs::EdgeSpill::create(&args.out)?;
    for i in 0..n {
        for j in i + 1..n {
            let cosine = pair_cosine(&vectors, s.dim, i, j);
            if cosine >= 0.5 {
                spill.push(jobs::Edge {
                    a: i as u64,
                    b: j as u64,
                    cosine,
                })?;
            }
        }
    }
    let mut edges = spill.finish()?;
    let params = jobs::ClusterParams {
        min_faces: 1,
        min_cluster: 2,
    };
    let (clusters, _) = jobs::cluster(
        n as u64,
        |_| true,
        &mut edges,
        |a, b| names[a as usize].cmp(&names[b as usize]),
        &params,
    )?;
    for c in clusters {
        let rows: Vec<usize> = c.members.iter().map(|m| m.row as usize).collect();
        let mut lowest = 1.0f32;
        for (x, &i) in rows.iter().enumerate() {
            for &j in &rows[x + 1..] {
                lowest = lowest.min(pair_cosine(&vectors, s.dim, i, j));
            }
        }
        let members: Vec<&str> = rows.iter().map(|&i| names[i].as_str()).collect();
        out.say(format!(
            "   same person (cosine ≥ 0.5, lowest pair {:.2}): {}",
            lowest,
            members.join(", ")
        ));
    }
    Ok(())
}

#[cfg(not(feature = "vision"))]
fn photos_step(_args: &DemoArgs, out: &Output) -> Result<()> {
    out.say("\n9. embed: not in this build (feature `vision`)");
    Ok(())
}

/// `file#face` names and the embeddings of a faces table written by `embed`.
#[cfg(feature = "vision")]
fn read_faces(path: &std::path::Path) -> Result<(Vec<String>, Vec<f32>)> {
    use arrow::array::AsArray;
    let file = std::fs::File::open(path)?;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let (mut names, mut vectors) = (Vec::new(), Vec::new());
    for batch in reader {
        let b = batch?;
        let paths = b
            .column_by_name("path")
            .expect("path")
            .as_string::<i32>()
            .clone();
        let index = b
            .column_by_name("face_index")
            .expect("face_index")
            .as_primitive::<arrow::datatypes::UInt16Type>()
            .clone();
        let emb = b
            .column_by_name("embedding")
            .expect("embedding")
            .as_fixed_size_list()
            .clone();
        for i in 0..b.num_rows() {
            let name = std::path::Path::new(paths.value(i))
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            names.push(format!("{name}#{}", index.value(i)));
            vectors.extend_from_slice(
                emb.value(i)
                    .as_primitive::<arrow::datatypes::Float32Type>()
                    .values(),
            );
        }
    }
    Ok((names, vectors))
}

/// Cosine of rows `i` and `j` of unit vectors.
#[cfg(feature = "vision")]
fn pair_cosine(vectors: &[f32], dim: usize, i: usize, j: usize) -> f32 {
    faceflash_batch::scan::dot(
        &vectors[i * dim..(i + 1) * dim],
        &vectors[j * dim..(j + 1) * dim],
    )
}

/// Step 6: dedup at cosine 0.5 with clusters and the HTML report.
fn dedup_and_cluster(gallery: &Gallery, args: &DemoArgs, out: &Output) -> Result<()> {
    let pairs = args.out.join("pairs.parquet");
    let clusters_path = args.out.join("clusters.parquet");
    let report = args.out.join("report.html");
    out.say(format!(
        "\n6. dedup: every pair of gallery faces at cosine ≥ 0.5 → {}, clusters → {}, report → {}",
        pairs.display(),
        clusters_path.display(),
        report.display()
    ));
    let progress = Progress::new("dedup", "code pairs", Some(jobs::dedup_work(gallery)));
    let d = jobs::dedup(
        gallery,
        &pairs,
        &jobs::DedupParams {
            threshold: 0.5,
            radius: None,
            keep_edges: true,
        },
        Some(&progress),
    )?;
    progress.finish();
    let s = d.summary;
    let mut edges = d.edges.expect("edges kept");
    let meta = jobs::MetaCache::new(gallery);
    let params = jobs::ClusterParams {
        min_faces: 2,
        min_cluster: 2,
    };
    let (clusters, stats) = jobs::cluster_gallery(gallery, &meta, &mut edges, &params)?;
    let provenance = faceflash_batch::store::Provenance::new("demo");
    jobs::write_clusters(&clusters_path, gallery, &meta, &clusters, &provenance)?;
    let header = jobs::ReportHeader {
        gallery: gallery.dir().display().to_string(),
        faces: s.faces,
        threshold: s.threshold,
        pairs: s.pairs,
        min_faces: params.min_faces,
        generated: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let r = jobs::write_report(
        &report,
        gallery,
        &meta,
        &clusters,
        &stats,
        &header,
        &jobs::ReportParams::default(),
    )?;
    out.say(format!(
        "   {} pairs among {} faces in {:.2} s ({} within Hamming radius {} checked exactly)\n   {} clusters of ≥ 2 faces (core faces need ≥ {} neighbours), largest {}; report {:.1} MB (synthetic faces have no photos: initials stand in)",
        s.pairs,
        s.faces,
        s.seconds,
        s.candidates,
        s.radius,
        stats.clusters,
        params.min_faces,
        stats.largest,
        r.bytes as f64 / 1e6
    ));
    Ok(())
}

/// (queries whose rank-1 match has their identity, queries whose identity is in the gallery).
fn rank1_identity_accuracy(
    queries: &std::path::Path,
    matches: &std::path::Path,
    gallery: &Gallery,
) -> Result<(usize, usize)> {
    use arrow::array::{Array, AsArray};
    use std::collections::{HashMap, HashSet};
    let mut in_gallery = HashSet::new();
    for shard in gallery.shards() {
        let (_, identities) = faceflash_batch::store::gallery::read_ids(&shard.meta_path)?;
        in_gallery.extend(identities.iter().flatten().map(String::from));
    }
    let mut truth: HashMap<String, String> = HashMap::new();
    for batch in EmbeddingReader::new(vec![queries.to_path_buf()], ReadOptions::default()) {
        let b = batch?;
        for i in 0..b.len() {
            if b.identity.is_valid(i) && in_gallery.contains(b.identity.value(i)) {
                truth.insert(
                    b.face_id.value(i).to_string(),
                    b.identity.value(i).to_string(),
                );
            }
        }
    }
    let file = std::fs::File::open(matches)?;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let mut right = 0;
    for batch in reader {
        let b = batch?;
        let (q, rank, ident) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_primitive::<arrow::datatypes::UInt32Type>(),
            b.column(3).as_string::<i32>(),
        );
        for i in 0..b.num_rows() {
            if rank.value(i) == 1
                && ident.is_valid(i)
                && truth.get(q.value(i)).is_some_and(|t| t == ident.value(i))
            {
                right += 1;
            }
        }
    }
    Ok((right, truth.len()))
}
