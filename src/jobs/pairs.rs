//! The pairs table of a dedup run: `face_id_a, face_id_b, cosine, hamming` with
//! `face_id_a < face_id_b`, each pair once.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float32Builder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::table::RowBuffer;
use crate::store::{Provenance, StoreError};

/// Schema of a pairs table.
pub fn pairs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("face_id_a", DataType::Utf8, false),
        Field::new("face_id_b", DataType::Utf8, false),
        Field::new("cosine", DataType::Float32, false),
        Field::new("hamming", DataType::UInt32, false),
    ]))
}

/// Streams pairs into a Parquet file that appears on [`PairsWriter::finish`].
pub struct PairsWriter(RowBuffer);

impl PairsWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        Ok(Self(RowBuffer::create(path, pairs_schema(), provenance)?))
    }

    /// Adds the pair of two faces, the smaller face id first.
    pub fn push(&mut self, x: &str, y: &str, cosine: f32, hamming: u32) -> Result<(), StoreError> {
        let (a, c) = if x <= y { (x, y) } else { (y, x) };
        let b = &mut self.0;
        b.col::<StringBuilder>(0).append_value(a);
        b.col::<StringBuilder>(1).append_value(c);
        b.col::<Float32Builder>(2).append_value(cosine);
        b.col::<UInt32Builder>(3).append_value(hamming);
        b.end_row()
    }

    /// Closes the file and moves it into place; returns the pairs written.
    pub fn finish(self) -> Result<u64, StoreError> {
        self.0.finish()
    }
}
