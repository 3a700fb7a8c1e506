//! Writer of faces tables: `face_id`, `identity`, `embedding` (FixedSizeList<Float32, D>),
//! L2-normalised, written atomically with provenance metadata.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::{l2_normalize, AtomicOutput, Provenance, StoreError};

/// Schema of a faces table with `dim`-dimensional embeddings.
pub fn faces_schema(dim: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("face_id", DataType::Utf8, false),
        Field::new("identity", DataType::Utf8, true),
        Field::new(
            "embedding",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, false)),
                dim as i32,
            ),
            false,
        ),
    ]))
}

/// Bytes of embeddings buffered per row group (the writer's memory bound).
pub const ROW_GROUP_BYTES: usize = 64 << 20;

fn rows_per_group(dim: usize) -> usize {
    (ROW_GROUP_BYTES / (4 * dim.max(1))).max(1024)
}

/// Streams rows into a faces table; the file appears only when [`FacesWriter::finish`]
/// succeeds.
pub struct FacesWriter {
    out: AtomicOutput,
    writer: ArrowWriter<std::fs::File>,
    schema: SchemaRef,
    dim: usize,
    rows: u64,
}

impl FacesWriter {
    /// Starts writing `path` with `dim`-dimensional embeddings.
    pub fn create(path: &Path, dim: usize, provenance: &Provenance) -> Result<Self, StoreError> {
        let out = AtomicOutput::create(path)?;
        let schema = faces_schema(dim);
        let props = WriterProperties::builder()
            // The writer buffers a whole row group in memory: bound it by bytes, not rows.
            .set_max_row_group_row_count(Some(rows_per_group(dim)))
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled(ColumnPath::from("identity"), true)
            // Min/max statistics of embedding values serve no query and cost write time.
            .set_column_statistics_enabled(
                ColumnPath::new(vec!["embedding".into(), "list".into(), "item".into()]),
                EnabledStatistics::None,
            )
            .set_key_value_metadata(Some(provenance.to_key_values()))
            .build();
        let writer = ArrowWriter::try_new(out.file()?, schema.clone(), Some(props))
            .map_err(|e| parquet_err(path, e))?;
        Ok(Self {
            out,
            writer,
            schema,
            dim,
            rows: 0,
        })
    }

    /// Appends rows; `vectors` holds `face_id.len() * dim` values and is L2-normalised here.
    pub fn write(
        &mut self,
        face_id: StringArray,
        identity: StringArray,
        mut vectors: Vec<f32>,
    ) -> Result<(), StoreError> {
        let n = face_id.len();
        if identity.len() != n || vectors.len() != n * self.dim {
            return Err(StoreError::Shape {
                path: self.out.dest().to_path_buf(),
                message: format!(
                    "{n} ids, {} identities and {} values do not make {n} rows of dimension {}",
                    identity.len(),
                    vectors.len(),
                    self.dim
                ),
            });
        }
        vectors.chunks_exact_mut(self.dim).for_each(|v| {
            l2_normalize(v);
        });
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let embedding = FixedSizeListArray::try_new(
            item,
            self.dim as i32,
            Arc::new(Float32Array::from(vectors)),
            None,
        )
        .map_err(|e| self.arrow_err(e))?;
        let columns: Vec<ArrayRef> =
            vec![Arc::new(face_id), Arc::new(identity), Arc::new(embedding)];
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| self.arrow_err(e))?;
        self.writer
            .write(&batch)
            .map_err(|e| parquet_err(self.out.dest(), e))?;
        self.rows += n as u64;
        Ok(())
    }

    /// Closes the file and moves it into place; returns the number of rows written.
    pub fn finish(self) -> Result<u64, StoreError> {
        let dest: PathBuf = self.out.dest().to_path_buf();
        self.writer.close().map_err(|e| parquet_err(&dest, e))?;
        self.out.commit()?;
        Ok(self.rows)
    }

    fn arrow_err(&self, source: arrow::error::ArrowError) -> StoreError {
        StoreError::Arrow {
            path: self.out.dest().to_path_buf(),
            source,
        }
    }
}

fn parquet_err(path: &Path, source: parquet::errors::ParquetError) -> StoreError {
    StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}
