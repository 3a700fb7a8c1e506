//! The hits table of a watchlist run: `face_id, watch_face_id, watch_identity, cosine, rank,
//! hamming` (rank 1-based among a stream face's hits).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float32Builder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::table::{TableWriter, FLUSH_ROWS};
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
pub struct HitsWriter {
    table: TableWriter,
    face_id: StringBuilder,
    watch_face_id: StringBuilder,
    watch_identity: StringBuilder,
    cosine: Float32Builder,
    rank: UInt32Builder,
    hamming: UInt32Builder,
    pending: usize,
}

impl HitsWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        Ok(Self {
            table: TableWriter::create(path, hits_schema(), provenance)?,
            face_id: StringBuilder::new(),
            watch_face_id: StringBuilder::new(),
            watch_identity: StringBuilder::new(),
            cosine: Float32Builder::new(),
            rank: UInt32Builder::new(),
            hamming: UInt32Builder::new(),
            pending: 0,
        })
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
        self.face_id.append_value(face_id);
        self.watch_face_id.append_value(watch_face_id);
        self.watch_identity.append_option(watch_identity);
        self.cosine.append_value(cosine);
        self.rank.append_value(rank);
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
            Arc::new(self.face_id.finish()),
            Arc::new(self.watch_face_id.finish()),
            Arc::new(self.watch_identity.finish()),
            Arc::new(self.cosine.finish()),
            Arc::new(self.rank.finish()),
            Arc::new(self.hamming.finish()),
        ])
    }

    /// Closes the file and moves it into place; returns the hits written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.flush()?;
        self.table.finish()
    }
}
