//! The matches table: `query_id, rank, face_id, identity, cosine, hamming` (rank 1-based),
//! written atomically with provenance.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float32Builder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::table::RowBuffer;
use crate::store::{Provenance, StoreError};

/// Schema of a matches table.
pub fn matches_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("query_id", DataType::Utf8, false),
        Field::new("rank", DataType::UInt32, false),
        Field::new("face_id", DataType::Utf8, false),
        Field::new("identity", DataType::Utf8, true),
        Field::new("cosine", DataType::Float32, false),
        Field::new("hamming", DataType::UInt32, false),
    ]))
}

/// Streams match rows into a Parquet file that appears on [`MatchesWriter::finish`].
pub struct MatchesWriter(RowBuffer);

impl MatchesWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        Ok(Self(RowBuffer::create(path, matches_schema(), provenance)?))
    }

    /// Adds one row.
    pub fn push(
        &mut self,
        query_id: &str,
        rank: u32,
        face_id: &str,
        identity: Option<&str>,
        cosine: f32,
        hamming: u32,
    ) -> Result<(), StoreError> {
        let b = &mut self.0;
        b.col::<StringBuilder>(0).append_value(query_id);
        b.col::<UInt32Builder>(1).append_value(rank);
        b.col::<StringBuilder>(2).append_value(face_id);
        b.col::<StringBuilder>(3).append_option(identity);
        b.col::<Float32Builder>(4).append_value(cosine);
        b.col::<UInt32Builder>(5).append_value(hamming);
        b.end_row()
    }

    /// Closes the file and moves it into place; returns the rows written.
    pub fn finish(self) -> Result<u64, StoreError> {
        self.0.finish()
    }
}
