//! The hits table of a watchlist run: `face_id, watch_face_id, watch_identity, cosine, rank,
//! hamming` (rank 1-based among a stream face's hits).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float32Builder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::table::RowBuffer;
use crate::store::{Provenance, StoreError};

/// Schema of a hits table.
pub fn hits_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("face_id", DataType::Utf8, false),
        Field::new("watch_face_id", DataType::Utf8, false),
        Field::new("watch_identity", DataType::Utf8, true),
        Field::new("cosine", DataType::Float32, false),
        Field::new("rank", DataType::UInt32, false),
        Field::new("hamming", DataType::UInt32, false),
    ]))
}

/// Streams hits into a Parquet file that appears on [`HitsWriter::finish`].
pub struct HitsWriter(RowBuffer);

impl HitsWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        Ok(Self(RowBuffer::create(path, hits_schema(), provenance)?))
    }

    /// Adds one hit.
    pub fn push(
        &mut self,
        face_id: &str,
        watch_face_id: &str,
        watch_identity: Option<&str>,
        cosine: f32,
        rank: u32,
        hamming: u32,
    ) -> Result<(), StoreError> {
        let b = &mut self.0;
        b.col::<StringBuilder>(0).append_value(face_id);
        b.col::<StringBuilder>(1).append_value(watch_face_id);
        b.col::<StringBuilder>(2).append_option(watch_identity);
        b.col::<Float32Builder>(3).append_value(cosine);
        b.col::<UInt32Builder>(4).append_value(rank);
        b.col::<UInt32Builder>(5).append_value(hamming);
        b.end_row()
    }

    /// Closes the file and moves it into place; returns the hits written.
    pub fn finish(self) -> Result<u64, StoreError> {
        self.0.finish()
    }
}
