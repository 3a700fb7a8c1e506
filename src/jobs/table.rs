//! A result table being written: Parquet with Snappy and provenance metadata, into a hidden
//! temporary file that appears at its destination only when finished (a killed job leaves
//! no half-written output).

use std::fs::File;
use std::path::Path;

use arrow::array::{make_builder, ArrayBuilder, ArrayRef, RecordBatch};
use arrow::array::{FixedSizeListBuilder, Float32Builder};
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::store::{AtomicOutput, Provenance, StoreError};

/// Rows buffered before a batch goes to the file.
pub const FLUSH_ROWS: usize = 65_536;

/// Streams record batches of one schema into an atomic Parquet output.
pub struct TableWriter {
    out: AtomicOutput,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    rows: u64,
}

impl TableWriter {
    /// Starts writing `path` with `schema`.
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        provenance: &Provenance,
    ) -> Result<Self, StoreError> {
        let out = AtomicOutput::create(path)?;
        let props = WriterProperties::builder()
            // The writer holds a whole row group in memory: bound it by bytes, not rows.
            .set_max_row_group_row_count(Some(rows_per_group(&schema)))
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(provenance.to_key_values()))
            .build();
        let writer = ArrowWriter::try_new(out.file()?, schema.clone(), Some(props))
            .map_err(|e| parquet_error(path, e))?;
        Ok(Self {
            out,
            writer,
            schema,
            rows: 0,
        })
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        self.out.dest()
    }

    /// Appends one batch made of `columns` (in schema order).
    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<(), StoreError> {
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| StoreError::Arrow {
                path: self.out.dest().to_path_buf(),
                source: e,
            })?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.writer
            .write(&batch)
            .map_err(|e| parquet_error(self.out.dest(), e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Closes the file and moves it into place; returns the rows written.
    pub fn finish(self) -> Result<u64, StoreError> {
        let path = self.out.dest().to_path_buf();
        self.writer.close().map_err(|e| parquet_error(&path, e))?;
        self.out.commit()?;
        Ok(self.rows)
    }
}

/// Bytes of rows buffered per row group.
const ROW_GROUP_BYTES: usize = 64 << 20;

/// Rows per row group for `schema`, from a per-row size estimate (fixed-width columns at
/// their width, variable-width ones at 32 bytes).
fn rows_per_group(schema: &SchemaRef) -> usize {
    fn width(t: &DataType) -> usize {
        match t {
            DataType::FixedSizeList(f, n) => width(f.data_type()) * (*n).max(1) as usize,
            DataType::FixedSizeBinary(n) => (*n).max(1) as usize,
            t => t.primitive_width().unwrap_or(32),
        }
    }
    let row: usize = schema.fields().iter().map(|f| width(f.data_type())).sum();
    (ROW_GROUP_BYTES / row.max(1)).clamp(1024, 1 << 20)
}

fn parquet_error(path: &Path, source: parquet::errors::ParquetError) -> StoreError {
    StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

/// Rows of a result table being assembled: one Arrow builder per column (made from the
/// schema), flushed to the [`TableWriter`] every [`FLUSH_ROWS`] rows. The job-specific
/// writers fill a row column by column with [`RowBuffer::col`], then call
/// [`RowBuffer::end_row`].
pub struct RowBuffer {
    table: TableWriter,
    builders: Vec<Box<dyn ArrayBuilder>>,
    pending: usize,
}

impl RowBuffer {
    /// Starts writing `path` with `schema`.
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        provenance: &Provenance,
    ) -> Result<Self, StoreError> {
        let builders = schema
            .fields()
            .iter()
            .map(|f| make_builder(f.data_type(), FLUSH_ROWS))
            .collect();
        Ok(Self {
            table: TableWriter::create(path, schema, provenance)?,
            builders,
            pending: 0,
        })
    }

    /// The builder of column `i`, of the type the schema gives it.
    pub fn col<B: ArrayBuilder>(&mut self, i: usize) -> &mut B {
        self.builders[i]
            .as_any_mut()
            .downcast_mut::<B>()
            .expect("builder of the column's type")
    }

    /// Appends a fixed-size list of floats (or a null) to column `i`.
    pub fn push_f32_list(&mut self, i: usize, values: Option<&[f32]>, size: usize) {
        let list = self.col::<FixedSizeListBuilder<Box<dyn ArrayBuilder>>>(i);
        let items = list
            .values()
            .as_any_mut()
            .downcast_mut::<Float32Builder>()
            .expect("Float32 items");
        match values {
            Some(v) => items.append_slice(v),
            None => items.append_slice(&vec![0.0; size]),
        }
        list.append(values.is_some());
    }

    /// Appends whole batches (of this table's schema) after the rows buffered so far.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        self.flush()?;
        self.table.write(batch.columns().to_vec())
    }

    /// Ends the row being filled.
    pub fn end_row(&mut self) -> Result<(), StoreError> {
        self.pending += 1;
        if self.pending >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.pending = 0;
        let columns = self.builders.iter_mut().map(|b| b.finish()).collect();
        self.table.write(columns)
    }

    /// Closes the file and moves it into place; returns the rows written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.flush()?;
        self.table.finish()
    }
}

/// Provenance of a job's output over a gallery: the command, the gallery (under `role`, e.g.
/// `gallery` or `watchlist`), its generation and quantizer hash, and the job's parameters.
pub fn gallery_provenance(
    command: &str,
    role: &str,
    gallery: &crate::store::Gallery,
    params: &serde_json::Value,
) -> Provenance {
    let mut p = Provenance::new(command);
    p.set(role, &gallery.dir().display().to_string())
        .set(
            &format!("{role}_generation"),
            &gallery.manifest().generation.to_string(),
        )
        .set("quantizer_sha256", &gallery.manifest().quantizer.sha256)
        .params(params);
    p
}
