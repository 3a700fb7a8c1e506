//! Streaming reader of face embeddings from one or many Parquet files.
//!
//! Reads `FixedSizeList<Float32|Float16|Float64, D>` and `List`/`LargeList` of the same,
//! validates every value (dimension, NaN/Inf, zero vectors, nulls) and L2-normalises. Memory
//! stays bounded by one record batch whatever the file size.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchReader, StringArray};
use arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use super::{l2_normalize, InputError};

const EXPECTED_EMBEDDING: &str =
    "FixedSizeList or List of Float32 (also Float16 or Float64), one embedding per row";

/// What to read from the input files.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Name of the embedding column.
    pub column: String,
    /// Name of the face id column; when absent, ids are derived as `<file>#<row>`.
    pub id_column: String,
    /// Name of the optional identity column.
    pub identity_column: String,
    /// Rows per record batch.
    pub batch_size: usize,
    /// Required dimension; when `None`, the first file's dimension is required of all.
    pub expected_dim: Option<usize>,
    /// Also return every other column of the input (for carrying metadata through).
    pub keep_columns: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            column: "embedding".into(),
            id_column: "face_id".into(),
            identity_column: "identity".into(),
            batch_size: 8192,
            expected_dim: None,
            keep_columns: false,
        }
    }
}

/// One batch of validated, L2-normalised embeddings with their ids.
#[derive(Debug, Clone)]
pub struct EmbeddingBatch {
    /// The file the rows come from.
    pub path: Arc<PathBuf>,
    /// Row number (0-based, within `path`) of the first row of this batch.
    pub first_row: u64,
    /// Face ids, never null.
    pub face_id: StringArray,
    /// Identities, null where unknown.
    pub identity: StringArray,
    /// Embedding dimension.
    pub dim: usize,
    /// `len() * dim` values, row-major, each row of unit L2 norm.
    pub vectors: Vec<f32>,
    /// The input's full record batch, when [`ReadOptions::keep_columns`] is set.
    pub columns: Option<RecordBatch>,
}

impl EmbeddingBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.face_id.len()
    }

    /// True when the batch holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The embedding of row `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// The rows where `keep` is true (`first_row` stays that of the whole batch).
    pub fn select(
        &self,
        keep: &arrow::array::BooleanArray,
    ) -> Result<EmbeddingBatch, arrow::error::ArrowError> {
        use arrow::array::AsArray;
        let filter = |a: &StringArray| -> Result<StringArray, arrow::error::ArrowError> {
            Ok(arrow::compute::filter(a, keep)?.as_string::<i32>().clone())
        };
        let vectors = (0..self.len())
            .filter(|&i| keep.value(i))
            .flat_map(|i| self.vector(i).iter().copied())
            .collect();
        Ok(EmbeddingBatch {
            path: self.path.clone(),
            first_row: self.first_row,
            face_id: filter(&self.face_id)?,
            identity: filter(&self.identity)?,
            dim: self.dim,
            vectors,
            columns: self
                .columns
                .as_ref()
                .map(|c| arrow::compute::filter_record_batch(c, keep))
                .transpose()?,
        })
    }
}

struct OpenFile {
    path: Arc<PathBuf>,
    reader: ParquetRecordBatchReader,
    next_row: u64,
    embedding_index: usize,
    id_index: Option<usize>,
    identity_index: Option<usize>,
}

/// Iterator over [`EmbeddingBatch`]es of a list of Parquet files, in order.
pub struct EmbeddingReader {
    files: std::vec::IntoIter<PathBuf>,
    options: ReadOptions,
    current: Option<OpenFile>,
    dim: Option<(usize, Arc<PathBuf>)>,
    failed: bool,
}

impl EmbeddingReader {
    /// A reader over `files` (see [`super::resolve_inputs`] to expand directories).
    pub fn new(files: Vec<PathBuf>, options: ReadOptions) -> Self {
        Self {
            files: files.into_iter(),
            options,
            current: None,
            dim: None,
            failed: false,
        }
    }

    /// The embedding dimension, once the first batch has been read (or as required).
    pub fn dim(&self) -> Option<usize> {
        self.options
            .expected_dim
            .or(self.dim.as_ref().map(|(d, _)| *d))
    }

    fn open(&self, path: PathBuf) -> Result<OpenFile, InputError> {
        let not_parquet = |message: String| InputError::NotParquet {
            path: path.clone(),
            message,
        };
        let file = File::open(&path).map_err(|e| not_parquet(e.to_string()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| not_parquet(e.to_string()))?;
        let schema = builder.schema().clone();
        let find = |name: &str| schema.fields().iter().position(|f| f.name() == name);
        let embedding_index = find(&self.options.column).ok_or_else(|| {
            let available: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| format!("{} ({})", f.name(), f.data_type()))
                .collect();
            InputError::MissingColumn {
                path: path.clone(),
                column: self.options.column.clone(),
                available: available.join(", "),
            }
        })?;
        check_embedding_type(
            schema.field(embedding_index).data_type(),
            &path,
            &self.options.column,
        )?;
        let id_index = find(&self.options.id_column);
        let identity_index = find(&self.options.identity_column);
        let mask = if self.options.keep_columns {
            ProjectionMask::all()
        } else {
            let mut roots: Vec<usize> = [Some(embedding_index), id_index, identity_index]
                .into_iter()
                .flatten()
                .collect();
            roots.sort_unstable();
            ProjectionMask::roots(builder.parquet_schema(), roots)
        };
        let reader = builder
            .with_projection(mask)
            .with_batch_size(self.options.batch_size.max(1))
            .build()
            .map_err(|e| not_parquet(e.to_string()))?;
        // Indices in the projected schema.
        let projected = reader.schema();
        let pfind = |name: &str| projected.fields().iter().position(|f| f.name() == name);
        Ok(OpenFile {
            path: Arc::new(path.clone()),
            embedding_index: pfind(&self.options.column).expect("projected embedding column"),
            id_index: id_index.and_then(|_| pfind(&self.options.id_column)),
            identity_index: identity_index.and_then(|_| pfind(&self.options.identity_column)),
            reader,
            next_row: 0,
        })
    }

    fn convert(&mut self, batch: RecordBatch) -> Result<EmbeddingBatch, InputError> {
        let file = self.current.as_mut().expect("open file");
        let path = file.path.clone();
        let first_row = file.next_row;
        file.next_row += batch.num_rows() as u64;
        let (embedding_index, id_index, identity_index) =
            (file.embedding_index, file.id_index, file.identity_index);

        let column = batch.column(embedding_index);
        let expected = self.options.expected_dim.or(self.dim.as_ref().map(|d| d.0));
        let (dim, vectors) = extract_vectors(
            column,
            expected,
            &Ctx {
                path: &path,
                first_row,
                column: &self.options.column,
                // Where the expected dimension comes from: an earlier file, or this file's
                // first row (unless the caller fixed it).
                dim_source: self.dim.as_ref().map(|d| d.1.as_ref().clone()).or_else(|| {
                    self.options
                        .expected_dim
                        .is_none()
                        .then(|| path.to_path_buf())
                }),
            },
        )?;
        if self.dim.is_none() {
            self.dim = Some((dim, path.clone()));
        }
        let face_id = match id_index {
            Some(i) => {
                let ids = to_strings(batch.column(i), &path, &self.options.id_column)?;
                if let Some(row) = (0..ids.len()).find(|&r| ids.is_null(r)) {
                    return Err(InputError::Null {
                        path: path.to_path_buf(),
                        row: first_row + row as u64,
                        column: self.options.id_column.clone(),
                    });
                }
                ids
            }
            None => StringArray::from_iter_values(
                (0..batch.num_rows())
                    .map(|r| format!("{}#{}", path.display(), first_row + r as u64)),
            ),
        };
        let identity = match identity_index {
            Some(i) => to_strings(batch.column(i), &path, &self.options.identity_column)?,
            None => StringArray::new_null(batch.num_rows()),
        };
        Ok(EmbeddingBatch {
            path,
            first_row,
            face_id,
            identity,
            dim,
            vectors,
            columns: self.options.keep_columns.then_some(batch),
        })
    }

    fn next_batch(&mut self) -> Option<Result<EmbeddingBatch, InputError>> {
        loop {
            if self.current.is_none() {
                let path = self.files.next()?;
                match self.open(path) {
                    Ok(f) => self.current = Some(f),
                    Err(e) => return Some(Err(e)),
                }
            }
            let file = self.current.as_mut().expect("open file");
            match file.reader.next() {
                Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                Some(Ok(batch)) => return Some(self.convert(batch)),
                Some(Err(e)) => {
                    return Some(Err(InputError::Corrupt {
                        path: file.path.to_path_buf(),
                        row: file.next_row,
                        message: e.to_string(),
                    }))
                }
                None => self.current = None,
            }
        }
    }
}

impl Iterator for EmbeddingReader {
    type Item = Result<EmbeddingBatch, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_batch();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

struct Ctx<'a> {
    path: &'a std::path::Path,
    first_row: u64,
    column: &'a str,
    dim_source: Option<PathBuf>,
}

impl Ctx<'_> {
    fn wrong_dim(&self, row: usize, found: usize, expected: usize) -> InputError {
        let why = match &self.dim_source {
            Some(p) if p.as_path() != self.path => format!(" (the dimension of {})", p.display()),
            Some(_) => " (the dimension of the first row)".to_string(),
            None => String::new(),
        };
        InputError::WrongDimension {
            path: self.path.to_path_buf(),
            row: self.first_row + row as u64,
            column: self.column.to_string(),
            found,
            expected,
            why,
        }
    }

    fn null(&self, row: usize) -> InputError {
        InputError::Null {
            path: self.path.to_path_buf(),
            row: self.first_row + row as u64,
            column: self.column.to_string(),
        }
    }
}

fn check_embedding_type(
    dt: &DataType,
    path: &std::path::Path,
    column: &str,
) -> Result<(), InputError> {
    let child = match dt {
        DataType::FixedSizeList(f, _) | DataType::List(f) | DataType::LargeList(f) => {
            Some(f.data_type())
        }
        _ => None,
    };
    match child {
        Some(DataType::Float16 | DataType::Float32 | DataType::Float64) => Ok(()),
        _ => Err(InputError::UnsupportedType {
            path: path.to_path_buf(),
            column: column.to_string(),
            found: dt.to_string(),
            expected: EXPECTED_EMBEDDING.to_string(),
        }),
    }
}

/// Row ranges into the child values array, one per row.
fn row_ranges(column: &ArrayRef) -> Vec<(usize, usize)> {
    match column.data_type() {
        DataType::FixedSizeList(_, n) => {
            let list = column.as_fixed_size_list();
            let n = *n as usize;
            (0..list.len())
                .map(|i| {
                    let start = list.value_offset(i) as usize;
                    (start, start + n)
                })
                .collect()
        }
        DataType::List(_) => {
            let o = column.as_list::<i32>().value_offsets();
            o.windows(2)
                .map(|w| (w[0] as usize, w[1] as usize))
                .collect()
        }
        DataType::LargeList(_) => {
            let o = column.as_list::<i64>().value_offsets();
            o.windows(2)
                .map(|w| (w[0] as usize, w[1] as usize))
                .collect()
        }
        _ => unreachable!("type checked when the file was opened"),
    }
}

fn child_values(column: &ArrayRef) -> &ArrayRef {
    match column.data_type() {
        DataType::FixedSizeList(..) => column.as_fixed_size_list().values(),
        DataType::List(_) => column.as_list::<i32>().values(),
        DataType::LargeList(_) => column.as_list::<i64>().values(),
        _ => unreachable!("type checked when the file was opened"),
    }
}

/// Copies, validates and normalises the embeddings of one batch.
fn extract_vectors(
    column: &ArrayRef,
    expected: Option<usize>,
    ctx: &Ctx<'_>,
) -> Result<(usize, Vec<f32>), InputError> {
    let ranges = row_ranges(column);
    let values = child_values(column);
    let dim = expected.unwrap_or_else(|| ranges.first().map_or(0, |r| r.1 - r.0));
    let mut out = vec![0f32; ranges.len() * dim];
    for (row, &(start, end)) in ranges.iter().enumerate() {
        if column.is_null(row) {
            return Err(ctx.null(row));
        }
        if end - start != dim {
            return Err(ctx.wrong_dim(row, end - start, dim));
        }
        if dim == 0 {
            return Err(ctx.wrong_dim(row, 0, 1));
        }
        if values.null_count() > 0 && (start..end).any(|j| values.is_null(j)) {
            return Err(ctx.null(row));
        }
        let dst = &mut out[row * dim..(row + 1) * dim];
        match values.data_type() {
            DataType::Float32 => {
                dst.copy_from_slice(&values.as_primitive::<Float32Type>().values()[start..end])
            }
            DataType::Float16 => {
                let src = &values.as_primitive::<Float16Type>().values()[start..end];
                dst.iter_mut().zip(src).for_each(|(d, s)| *d = s.to_f32());
            }
            DataType::Float64 => {
                let src = &values.as_primitive::<Float64Type>().values()[start..end];
                dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s as f32);
            }
            _ => unreachable!("type checked when the file was opened"),
        }
        if let Some(index) = dst.iter().position(|x| !x.is_finite()) {
            return Err(InputError::NonFinite {
                path: ctx.path.to_path_buf(),
                row: ctx.first_row + row as u64,
                column: ctx.column.to_string(),
                index,
                value: dst[index],
            });
        }
        let norm = l2_normalize(dst);
        if norm == 0.0 || !norm.is_finite() {
            return Err(InputError::ZeroVector {
                path: ctx.path.to_path_buf(),
                row: ctx.first_row + row as u64,
                column: ctx.column.to_string(),
            });
        }
    }
    Ok((dim, out))
}

/// Casts an id-like column (strings, integers, dictionaries) to `Utf8`.
fn to_strings(
    column: &ArrayRef,
    path: &std::path::Path,
    name: &str,
) -> Result<StringArray, InputError> {
    let unsupported = || InputError::UnsupportedType {
        path: path.to_path_buf(),
        column: name.to_string(),
        found: column.data_type().to_string(),
        expected: "a string or integer column".to_string(),
    };
    let cast = match column.data_type() {
        DataType::Utf8 => column.clone(),
        DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Dictionary(..)
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            arrow::compute::cast(column, &DataType::Utf8).map_err(|_| unsupported())?
        }
        _ => return Err(unsupported()),
    };
    cast.as_string_opt::<i32>().cloned().ok_or_else(unsupported)
}
