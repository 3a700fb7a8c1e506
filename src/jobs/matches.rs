//! The matches table: `query_id, rank, face_id, identity, cosine, hamming` (rank 1-based),
//! written atomically with provenance.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float32Builder, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::table::{TableWriter, FLUSH_ROWS};
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
pub struct MatchesWriter {
    table: TableWriter,
    query_id: StringBuilder,
    rank: UInt32Builder,
    face_id: StringBuilder,
    identity: StringBuilder,
    cosine: Float32Builder,
    hamming: UInt32Builder,
    pending: usize,
}

impl MatchesWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        Ok(Self {
            table: TableWriter::create(path, matches_schema(), provenance)?,
            query_id: StringBuilder::new(),
            rank: UInt32Builder::new(),
            face_id: StringBuilder::new(),
            identity: StringBuilder::new(),
            cosine: Float32Builder::new(),
            hamming: UInt32Builder::new(),
            pending: 0,
        })
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
        self.query_id.append_value(query_id);
        self.rank.append_value(rank);
        self.face_id.append_value(face_id);
        self.identity.append_option(identity);
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
            Arc::new(self.query_id.finish()),
            Arc::new(self.rank.finish()),
            Arc::new(self.face_id.finish()),
            Arc::new(self.identity.finish()),
            Arc::new(self.cosine.finish()),
            Arc::new(self.hamming.finish()),
        ])
    }

    /// Closes the file and moves it into place; returns the rows written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.flush()?;
        self.table.finish()
    }
}
