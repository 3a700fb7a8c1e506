//! The clusters table: `face_id, cluster_id, cluster_size, is_core`, largest clusters first.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{BooleanBuilder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::cluster::Cluster;
use super::table::{TableWriter, FLUSH_ROWS};
use super::{JobError, MetaCache};
use crate::store::{Gallery, Provenance};

/// Schema of a clusters table.
pub fn clusters_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("face_id", DataType::Utf8, false),
        Field::new("cluster_id", DataType::Utf8, false),
        Field::new("cluster_size", DataType::UInt32, false),
        Field::new("is_core", DataType::Boolean, false),
    ]))
}

/// Writes `clusters` of `gallery` to `path` atomically; returns the rows written.
pub fn write_clusters(
    path: &Path,
    gallery: &Gallery,
    meta: &MetaCache,
    clusters: &[Cluster],
    provenance: &Provenance,
) -> Result<u64, JobError> {
    let mut table = TableWriter::create(path, clusters_schema(), provenance)?;
    let mut face_id = StringBuilder::new();
    let mut cluster_id = StringBuilder::new();
    let mut size = UInt32Builder::new();
    let mut core = BooleanBuilder::new();
    let mut pending = 0;
    for c in clusters {
        let id = face_id_of(gallery, meta, c.representative)?;
        for m in &c.members {
            face_id.append_value(face_id_of(gallery, meta, m.row)?);
            cluster_id.append_value(id);
            size.append_value(c.members.len() as u32);
            core.append_value(m.is_core);
            pending += 1;
        }
        if pending >= FLUSH_ROWS {
            pending = 0;
            table.write(vec![
                Arc::new(face_id.finish()),
                Arc::new(cluster_id.finish()),
                Arc::new(size.finish()),
                Arc::new(core.finish()),
            ])?;
        }
    }
    table.write(vec![
        Arc::new(face_id.finish()),
        Arc::new(cluster_id.finish()),
        Arc::new(size.finish()),
        Arc::new(core.finish()),
    ])?;
    Ok(table.finish()?)
}

/// The face id of a global gallery row.
pub fn face_id_of<'m>(
    gallery: &Gallery,
    meta: &'m MetaCache,
    row: u64,
) -> Result<&'m str, JobError> {
    let (s, r) = gallery.locate(row).expect("row of the gallery");
    Ok(meta.face(s, r)?.0)
}
