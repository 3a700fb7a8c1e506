//! `faceflash-batch dedup`: every pair of faces at or above a cosine, clusters and a report.

use anyhow::Result;
use faceflash_batch::jobs::{
    self, ClusterParams, DedupParams, MetaCache, ReportHeader, ReportParams,
};
use faceflash_batch::progress::Progress;
use faceflash_batch::store::Gallery;

use super::{check_threshold, dry_run, Output, UsageError};
use crate::cli::DedupArgs;

pub fn run(args: &DedupArgs, out: &Output) -> Result<()> {
    check_threshold(args.threshold)?;
    if args.min_faces == 0 {
        return Err(UsageError("--min-faces must be at least 1".into()).into());
    }
    if args.report.is_some() && (args.report_clusters == 0 || args.report_faces == 0) {
        return Err(
            UsageError("--report-clusters and --report-faces must be at least 1".into()).into(),
        );
    }
    let gallery = Gallery::open(&args.gallery)?;
    let cluster_wanted = args.clusters.is_some() || args.report.is_some();
    let params = DedupParams {
        threshold: args.threshold,
        radius: args.radius,
        keep_edges: cluster_wanted,
    };
    if args.dry_run {
        let radius = jobs::prefilter_radius(&gallery, args.threshold, args.radius)?;
        let outputs: Vec<&std::path::Path> = [
            Some(&args.output),
            args.clusters.as_ref(),
            args.report.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|p| p.as_path())
        .collect();
        dry_run::report(
            "dedup",
            format!(
                "would self-join {} faces of {} at cosine ≥ {} ({} code pairs compared, those within Hamming radius {radius} checked by exact cosine)",
                gallery.live_rows(),
                args.gallery.display(),
                args.threshold,
                jobs::dedup_work(&gallery),
            ),
            &outputs,
            out,
        );
        return Ok(());
    }
    let progress = Progress::new("dedup", "code pairs", Some(jobs::dedup_work(&gallery)));
    let result = jobs::dedup(&gallery, &args.output, &params, Some(&progress))?;
    progress.finish();
    let s = &result.summary;
    tracing::info!(
        event = "dedup_done",
        output = %args.output.display(),
        faces = s.faces,
        pairs = s.pairs,
        candidates = s.candidates,
        radius = s.radius,
        threshold = s.threshold,
        kernel = s.kernel,
        seconds = s.seconds,
        pairs_per_second = s.pairs_per_second,
        "pairs written"
    );
    out.say(format!(
        "wrote {}: {} pairs at cosine ≥ {} among {} faces ({} within Hamming radius {} checked exactly, {} kernel) in {:.1} s: {:.2} G code pairs/s",
        args.output.display(),
        s.pairs,
        s.threshold,
        s.faces,
        s.candidates,
        s.radius,
        s.kernel,
        s.seconds,
        s.pairs_per_second / 1e9
    ));
    let Some(mut edges) = result.edges else {
        return Ok(());
    };
    let meta = MetaCache::new(&gallery);
    let cluster_params = ClusterParams {
        min_faces: args.min_faces,
        min_cluster: args.min_cluster,
    };
    let (clusters, stats) = jobs::cluster_gallery(&gallery, &meta, &mut edges, &cluster_params)?;
    if let Some(path) = &args.clusters {
        let provenance = jobs::gallery_provenance(
            "dedup",
            "gallery",
            &gallery,
            &serde_json::json!({
                "threshold": s.threshold,
                "radius": s.radius,
                "min_faces": args.min_faces,
                "min_cluster": args.min_cluster,
            }),
        );
        let n = jobs::write_clusters(path, &gallery, &meta, &clusters, &provenance)?;
        tracing::info!(event = "clusters_done", output = %path.display(), clusters = stats.clusters, faces = n, core_faces = stats.core_faces, largest = stats.largest, "clusters written");
        out.say(format!(
            "wrote {}: {} clusters of ≥ {} faces holding {} faces (largest {}, {} core faces with ≥ {} neighbours)",
            path.display(),
            stats.clusters,
            args.min_cluster,
            n,
            stats.largest,
            stats.core_faces,
            args.min_faces
        ));
    }
    if let Some(path) = &args.report {
        let header = ReportHeader {
            gallery: gallery.dir().display().to_string(),
            faces: s.faces,
            threshold: s.threshold,
            pairs: s.pairs,
            min_faces: args.min_faces,
            generated: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        };
        let report_params = ReportParams {
            max_clusters: args.report_clusters,
            faces_per_cluster: args.report_faces,
            ..ReportParams::default()
        };
        let r = jobs::write_report(
            path,
            &gallery,
            &meta,
            &clusters,
            &stats,
            &header,
            &report_params,
        )?;
        tracing::info!(event = "report_done", output = %path.display(), clusters = r.clusters_shown, thumbnails = r.thumbnails, thumbnail_errors = r.thumbnail_errors, bytes = r.bytes, "report written");
        out.say(format!(
            "wrote {}: {} clusters, {} faces shown, {} thumbnails{} ({:.1} MB)",
            path.display(),
            r.clusters_shown,
            r.faces_shown,
            r.thumbnails,
            if r.thumbnail_errors > 0 {
                format!(", {} photos unreadable", r.thumbnail_errors)
            } else {
                String::new()
            },
            r.bytes as f64 / 1e6
        ));
    }
    Ok(())
}
