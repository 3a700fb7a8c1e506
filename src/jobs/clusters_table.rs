//! The clusters table: `face_id, cluster_id, cluster_size, is_core`, largest clusters first.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{BooleanBuilder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::cluster::Cluster;
use super::table::RowBuffer;
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
    let mut b = RowBuffer::create(path, clusters_schema(), provenance)?;
    for c in clusters {
        let id = face_id_of(gallery, meta, c.representative)?;
        for m in &c.members {
            b.col::<StringBuilder>(0)
                .append_value(face_id_of(gallery, meta, m.row)?);
            b.col::<StringBuilder>(1).append_value(id);
            b.col::<UInt32Builder>(2)
                .append_value(c.members.len() as u32);
            b.col::<BooleanBuilder>(3).append_value(m.is_core);
            b.end_row()?;
        }
    }
    Ok(b.finish()?)
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
