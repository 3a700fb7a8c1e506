//! The matches table: `query_id, rank, face_id, identity, cosine, hamming` (rank 1-based),
//! written atomically with provenance.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Builder, RecordBatch, StringBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::store::{AtomicOutput, Provenance, StoreError};

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
    out: AtomicOutput,
    writer: ArrowWriter<std::fs::File>,
    query_id: StringBuilder,
    rank: UInt32Builder,
    face_id: StringBuilder,
    identity: StringBuilder,
    cosine: Float32Builder,
    hamming: UInt32Builder,
    pending: usize,
    rows: u64,
}

const FLUSH_ROWS: usize = 65_536;

impl MatchesWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path, provenance: &Provenance) -> Result<Self, StoreError> {
        let out = AtomicOutput::create(path)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(provenance.to_key_values()))
            .build();
        let writer =
            ArrowWriter::try_new(out.file()?, matches_schema(), Some(props)).map_err(|e| {
                StoreError::Parquet {
                    path: path.to_path_buf(),
                    source: e,
                }
            })?;
        Ok(Self {
            out,
            writer,
            query_id: StringBuilder::new(),
            rank: UInt32Builder::new(),
            face_id: StringBuilder::new(),
            identity: StringBuilder::new(),
            cosine: Float32Builder::new(),
            hamming: UInt32Builder::new(),
            pending: 0,
            rows: 0,
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
        if self.pending == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.query_id.finish()),
            Arc::new(self.rank.finish()),
            Arc::new(self.face_id.finish()),
            Arc::new(self.identity.finish()),
            Arc::new(self.cosine.finish()),
            Arc::new(self.hamming.finish()),
        ];
        let path = self.out.dest().to_path_buf();
        let batch =
            RecordBatch::try_new(matches_schema(), columns).map_err(|e| StoreError::Arrow {
                path: path.clone(),
                source: e,
            })?;
        self.writer
            .write(&batch)
            .map_err(|e| StoreError::Parquet { path, source: e })?;
        self.rows += self.pending as u64;
        self.pending = 0;
        Ok(())
    }

    /// Closes the file and moves it into place; returns the rows written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.flush()?;
        let path = self.out.dest().to_path_buf();
        self.writer
            .close()
            .map_err(|e| StoreError::Parquet { path, source: e })?;
        self.out.commit()?;
        Ok(self.rows)
    }
}
