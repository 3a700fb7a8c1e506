//! The dedup HTML report: one self-contained file (no network, no side files) showing the
//! largest clusters first with small JPEG thumbnails embedded as data, paginated in the page
//! so 10,000 clusters stay usable on a laptop (only the current page is in the DOM). Hovering a
//! face shows its id, identity and cosine to the cluster's representative.

mod thumbs;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;
use base64::Engine;
use rayon::prelude::*;
use serde::Serialize;

pub use thumbs::{thumbnail, FaceSource, ThumbError};

use super::cluster::{Cluster, ClusterStats};
use super::{JobError, MetaCache};
use crate::scan::dot;
use crate::store::gallery::read_meta_batches;
use crate::store::{AtomicOutput, Gallery, StoreError};

const TEMPLATE: &str = include_str!("template.html");

/// What the report shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportParams {
    /// Clusters shown (the largest).
    pub max_clusters: usize,
    /// Faces shown per cluster (core faces first).
    pub faces_per_cluster: usize,
    /// Thumbnail side in pixels.
    pub thumb_px: u32,
}

impl Default for ReportParams {
    fn default() -> Self {
        Self {
            max_clusters: 10_000,
            faces_per_cluster: 8,
            thumb_px: 64,
        }
    }
}

/// Facts of the run shown in the report's header.
#[derive(Debug, Clone, Serialize)]
pub struct ReportHeader {
    pub gallery: String,
    pub faces: u64,
    pub threshold: f32,
    pub pairs: u64,
    pub min_faces: usize,
    pub generated: String,
}

/// What the report holds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ReportSummary {
    pub clusters_shown: usize,
    pub faces_shown: usize,
    pub thumbnails: usize,
    /// Faces with a photo path whose thumbnail failed (unreadable or missing photo).
    pub thumbnail_errors: usize,
    pub bytes: u64,
}

#[derive(Serialize)]
struct Page<'a> {
    header: &'a ReportHeader,
    clusters_total: u64,
    clusters: Vec<ClusterView>,
}

#[derive(Serialize)]
struct ClusterView {
    id: String,
    size: usize,
    core: usize,
    faces: Vec<FaceView>,
}

#[derive(Serialize)]
struct FaceView {
    id: String,
    identity: Option<String>,
    cosine: f32,
    core: bool,
    /// `data:` URL of the thumbnail, if any.
    img: Option<String>,
}

/// Writes the report for `clusters` (largest first) of `gallery` to `path` atomically.
pub fn write_report(
    path: &Path,
    gallery: &Gallery,
    meta: &MetaCache,
    clusters: &[Cluster],
    stats: &ClusterStats,
    header: &ReportHeader,
    params: &ReportParams,
) -> Result<ReportSummary, JobError> {
    let shown = &clusters[..clusters.len().min(params.max_clusters)];
    let rows: Vec<u64> = shown
        .iter()
        .flat_map(|c| {
            c.members
                .iter()
                .take(params.faces_per_cluster.max(1))
                .map(|m| m.row)
        })
        .collect();
    let sources = face_sources(gallery, &rows)?;
    let thumbs: Vec<(u64, Result<Vec<u8>, ThumbError>)> = sources
        .par_iter()
        .map(|(&row, src)| (row, thumbnail(src, params.thumb_px)))
        .collect();
    let mut summary = ReportSummary::default();
    let mut images: HashMap<u64, String> = HashMap::with_capacity(thumbs.len());
    for (row, t) in thumbs {
        match t {
            Ok(jpeg) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(jpeg);
                images.insert(row, format!("data:image/jpeg;base64,{b64}"));
            }
            Err(e) => {
                if summary.thumbnail_errors == 0 {
                    tracing::warn!(error = %e, "a face has no thumbnail (more are counted silently)");
                }
                summary.thumbnail_errors += 1;
            }
        }
    }
    summary.thumbnails = images.len();
    let mut rep = vec![0f32; gallery.dim()];
    let mut other = vec![0f32; gallery.dim()];
    let mut views = Vec::with_capacity(shown.len());
    for c in shown {
        vector(gallery, c.representative, &mut rep);
        let mut faces = Vec::new();
        for m in c.members.iter().take(params.faces_per_cluster.max(1)) {
            vector(gallery, m.row, &mut other);
            let (s, r) = gallery.locate(m.row).expect("row of the gallery");
            let (id, identity) = meta.face(s, r)?;
            faces.push(FaceView {
                id: id.to_string(),
                identity: identity.map(str::to_string),
                cosine: dot(&rep, &other),
                core: m.is_core,
                img: images.remove(&m.row),
            });
        }
        summary.faces_shown += faces.len();
        let (s, r) = gallery
            .locate(c.representative)
            .expect("row of the gallery");
        views.push(ClusterView {
            id: meta.face(s, r)?.0.to_string(),
            size: c.members.len(),
            core: c.members.iter().filter(|m| m.is_core).count(),
            faces,
        });
    }
    summary.clusters_shown = views.len();
    let data = serde_json::to_string(&Page {
        header,
        clusters_total: stats.clusters,
        clusters: views,
    })
    .expect("report data serialises");
    // Inside <script>, "</" could end the element: JSON allows "<\/" for it.
    let data = data.replace("</", "<\\/");
    let html = TEMPLATE.replacen("/*REPORT_DATA*/null", &data, 1);
    let out = AtomicOutput::create(path)?;
    let mut file = std::io::BufWriter::new(out.file()?);
    file.write_all(html.as_bytes())
        .and_then(|_| file.flush())
        .map_err(|e| StoreError::io(path, e))?;
    drop(file);
    out.commit()?;
    summary.bytes = html.len() as u64;
    Ok(summary)
}

fn vector(gallery: &Gallery, row: u64, out: &mut [f32]) {
    let (s, r) = gallery.locate(row).expect("row of the gallery");
    gallery.shards()[s].floats.vector(r, out);
}

/// Photo path and face box of each of `rows` that has a `path`, from the metadata shards
/// (only shards holding one of the rows are read).
fn face_sources(gallery: &Gallery, rows: &[u64]) -> Result<HashMap<u64, FaceSource>, JobError> {
    let mut wanted: HashMap<usize, Vec<(usize, u64)>> = HashMap::new();
    for &g in rows {
        let (s, r) = gallery.locate(g).expect("row of the gallery");
        wanted.entry(s).or_default().push((r, g));
    }
    let mut out = HashMap::new();
    for (s, mut want) in wanted {
        let path = &gallery.shards()[s].meta_path;
        let schema = crate::store::gallery::read_meta_schema(path)?;
        if schema.field_with_name("path").is_err() {
            continue;
        }
        let has_bbox = schema.field_with_name("bbox").is_ok();
        let columns: Vec<&str> = if has_bbox {
            vec!["path", "bbox"]
        } else {
            vec!["path"]
        };
        want.sort_unstable();
        let mut next = 0;
        let mut base = 0usize;
        read_meta_batches(path, Some(&columns), |batch| {
            let n = batch.num_rows();
            let paths = batch.column_by_name("path").expect("projected");
            let paths = arrow::compute::cast(paths, &arrow::datatypes::DataType::Utf8)
                .map_err(|e| crate::store::GalleryError::corrupt(path, e.to_string()))?;
            let paths = paths.as_string::<i32>();
            let boxes = batch
                .column_by_name("bbox")
                .and_then(|c| c.as_fixed_size_list_opt().cloned());
            while next < want.len() && want[next].0 < base + n {
                let (r, g) = want[next];
                let i = r - base;
                if paths.is_valid(i) {
                    let bbox = boxes.as_ref().and_then(|b| {
                        if !b.is_valid(i) || b.value_length() != 4 {
                            return None;
                        }
                        let v = b.value(i);
                        let v = v.as_primitive_opt::<Float32Type>()?;
                        Some([v.value(0), v.value(1), v.value(2), v.value(3)])
                    });
                    out.insert(
                        g,
                        FaceSource {
                            path: paths.value(i).to_string(),
                            bbox,
                        },
                    );
                }
                next += 1;
            }
            base += n;
            Ok(())
        })?;
    }
    Ok(out)
}
