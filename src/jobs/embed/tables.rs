//! The two tables `embed` writes: faces (DESIGN.md's faces columns, one row per face) and
//! errors (one row per image that yielded no face: `path, kind, message`).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float32Builder, StringBuilder, UInt16Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::jobs::RowBuffer;
use crate::store::{Provenance, StoreError};
use crate::vision::{FaceCrop, Fault};

fn float_list(n: i32, nullable: bool, name: &str) -> Field {
    Field::new(
        name,
        DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, false)), n),
        nullable,
    )
}

/// Schema of `embed`'s faces table with `dim`-dimensional embeddings.
pub fn embedded_faces_schema(dim: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("face_id", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("identity", DataType::Utf8, true),
        Field::new("face_index", DataType::UInt16, false),
        float_list(4, true, "bbox"),
        float_list(10, true, "landmarks"),
        Field::new("det_score", DataType::Float32, true),
        Field::new("model", DataType::Utf8, false),
        float_list(dim as i32, false, "embedding"),
    ]))
}

/// Schema of `embed`'s errors table.
pub fn embed_errors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
    ]))
}

/// One face row's identifying fields.
pub struct FaceRow<'a> {
    pub face_id: &'a str,
    pub path: &'a str,
    pub identity: Option<&'a str>,
    pub face: &'a FaceCrop,
    pub embedding: &'a [f32],
}

/// Rows of the faces table.
pub struct FacesOut {
    rows: RowBuffer,
    model: String,
    dim: usize,
}

impl FacesOut {
    pub fn create(
        path: &Path,
        dim: usize,
        model: &str,
        provenance: &Provenance,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            rows: RowBuffer::create(path, embedded_faces_schema(dim), provenance)?,
            model: model.into(),
            dim,
        })
    }

    /// Appends one face.
    pub fn push(&mut self, row: &FaceRow) -> Result<(), StoreError> {
        let r = &mut self.rows;
        r.col::<StringBuilder>(0).append_value(row.face_id);
        r.col::<StringBuilder>(1).append_value(row.path);
        r.col::<StringBuilder>(2).append_option(row.identity);
        r.col::<UInt16Builder>(3).append_value(row.face.face_index);
        r.push_f32_list(4, row.face.bbox.as_ref().map(|b| &b[..]), 4);
        r.push_f32_list(5, row.face.landmarks.as_ref().map(|l| &l[..]), 10);
        r.col::<Float32Builder>(6).append_option(row.face.det_score);
        r.col::<StringBuilder>(7).append_value(&self.model);
        r.push_f32_list(8, Some(row.embedding), self.dim);
        r.end_row()
    }

    /// The underlying rows (for copying a previous run's batches).
    pub fn rows(&mut self) -> &mut RowBuffer {
        &mut self.rows
    }

    pub fn finish(self) -> Result<u64, StoreError> {
        self.rows.finish()
    }
}

/// Rows of the errors table.
pub struct ErrorsOut {
    rows: RowBuffer,
}

impl ErrorsOut {
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        Ok(Self {
            rows: RowBuffer::create(path, embed_errors_schema(), provenance)?,
        })
    }

    /// Appends one image's fault.
    pub fn push(&mut self, path: &str, fault: &Fault) -> Result<(), StoreError> {
        let r = &mut self.rows;
        r.col::<StringBuilder>(0).append_value(path);
        r.col::<StringBuilder>(1).append_value(fault.kind.name());
        r.col::<StringBuilder>(2).append_value(&fault.message);
        r.end_row()
    }

    pub fn rows(&mut self) -> &mut RowBuffer {
        &mut self.rows
    }

    pub fn finish(self) -> Result<u64, StoreError> {
        self.rows.finish()
    }
}
