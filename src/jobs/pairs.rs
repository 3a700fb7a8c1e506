//! The pairs table of a dedup run: `face_id_a, face_id_b, cosine, hamming` with
//! `face_id_a < face_id_b`, each pair once.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float32Builder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::table::{TableWriter, FLUSH_ROWS};
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
pub struct PairsWriter {
    table: TableWriter,
    a: StringBuilder,
    b: StringBuilder,
    cosine: Float32Builder,
    hamming: UInt32Builder,
    pending: usize,
}

impl PairsWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        Ok(Self {
            table: TableWriter::create(path, pairs_schema(), provenance)?,
            a: StringBuilder::new(),
            b: StringBuilder::new(),
            cosine: Float32Builder::new(),
            hamming: UInt32Builder::new(),
            pending: 0,
        })
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        self.table.dest()
    }

    /// Adds the pair of two distinct faces, the smaller face id first.
    pub fn push(&mut self, x: &str, y: &str, cosine: f32, hamming: u32) -> Result<(), StoreError> {
        let (a, b) = if x <= y { (x, y) } else { (y, x) };
        self.a.append_value(a);
        self.b.append_value(b);
        self.cosine.append_value(cosine);
        self.hamming.append_value(hamming);
        self.pending += 1;
        if self.pending >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.pending = 0;
        self.table.write(vec![
            Arc::new(self.a.finish()),
            Arc::new(self.b.finish()),
            Arc::new(self.cosine.finish()),
            Arc::new(self.hamming.finish()),
        ])
    }

    /// Closes the file and moves it into place; returns the pairs written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.flush()?;
        self.table.finish()
    }
}
