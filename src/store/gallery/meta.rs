//! Metadata shards (`meta-NNNNN.parquet`): row `r` of the shard's code and float files is row
//! `r` here: `face_id`, `identity`, then every other column of the input carried through
//! (path, bbox, det_score, ...), so results join back to them with SQL.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, RecordBatch, StringArray};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use xxhash_rust::xxh3::Xxh3Default;

use super::manifest::FileEntry;
use super::{hex64, GalleryError};
use crate::store::{AtomicOutput, EmbeddingBatch, InputError, Provenance, StoreError};

/// Rows per row group of a metadata shard (small groups keep lookups by row cheap).
const META_ROW_GROUP: usize = 65_536;

/// A `Write` that hashes and counts what passes through.
struct HashingWriter<W> {
    inner: W,
    hasher: Xxh3Default,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Size and XXH3-64 of a whole file, read in 1 MiB chunks.
pub fn hash_file(path: &Path) -> Result<(u64, u64), GalleryError> {
    let mut file = File::open(path).map_err(|e| GalleryError::opening(path, e))?;
    let mut hasher = Xxh3Default::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| GalleryError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hasher.digest()))
}

/// Re-hashes a whole file (metadata shard, tombstones) against its manifest entry.
pub fn check_whole_file(path: &Path, entry: &FileEntry) -> Result<(), GalleryError> {
    let (bytes, sum) = hash_file(path)?;
    if bytes != entry.bytes || hex64(sum) != entry.xxh3 {
        return Err(GalleryError::corrupt(
            path,
            format!(
                "{bytes} bytes with checksum {}, the manifest says {} bytes with {}",
                hex64(sum),
                entry.bytes,
                entry.xxh3
            ),
        ));
    }
    Ok(())
}

/// The schema of a metadata shard carrying `carried` columns.
pub fn meta_schema(carried: &[Arc<Field>]) -> SchemaRef {
    let mut fields = vec![
        Arc::new(Field::new("face_id", DataType::Utf8, false)),
        Arc::new(Field::new("identity", DataType::Utf8, true)),
    ];
    fields.extend(carried.iter().cloned());
    Arc::new(Schema::new(fields))
}

/// Streams rows into a metadata shard.
pub struct MetaWriter {
    out: AtomicOutput,
    writer: ArrowWriter<HashingWriter<std::io::BufWriter<File>>>,
}

impl MetaWriter {
    /// Starts a metadata shard with `schema` (see [`meta_schema`]).
    pub fn create(dest: &Path, schema: SchemaRef) -> Result<Self, GalleryError> {
        let out = AtomicOutput::create(dest)?;
        let sink = HashingWriter {
            inner: std::io::BufWriter::new(out.file()?),
            hasher: Xxh3Default::new(),
            bytes: 0,
        };
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(META_ROW_GROUP))
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(Provenance::new("index").to_key_values()))
            .build();
        let writer =
            ArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| parquet_err(dest, e))?;
        Ok(Self { out, writer })
    }

    /// Appends rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), GalleryError> {
        self.writer
            .write(batch)
            .map_err(|e| parquet_err(self.out.dest(), e))
    }

    /// Closes the file and moves it into place; returns (file bytes, XXH3-64 of the file).
    pub fn finish(self) -> Result<(u64, u64), GalleryError> {
        let dest: PathBuf = self.out.dest().to_path_buf();
        let mut sink = self
            .writer
            .into_inner()
            .map_err(|e| parquet_err(&dest, e))?;
        sink.flush().map_err(|e| GalleryError::io(&dest, e))?;
        let (bytes, sum) = (sink.bytes, sink.hasher.digest());
        drop(sink);
        self.out.commit()?;
        Ok((bytes, sum))
    }
}

fn parquet_err(path: &Path, source: parquet::errors::ParquetError) -> GalleryError {
    GalleryError::Store(StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    })
}

/// Which input columns a gallery carries into its metadata shards, fixed by the first input
/// batch of the gallery (appends take them from the newest shard): later files missing a
/// column get nulls, columns not carried are dropped (with a warning), and types are cast to
/// the carried type where Arrow can.
pub struct CarriedColumns {
    fields: Vec<Arc<Field>>,
    skip: Vec<String>,
    warned: BTreeSet<PathBuf>,
}

impl CarriedColumns {
    /// Columns named in `skip` (embedding, id, identity) are never carried.
    pub fn new(skip: Vec<String>) -> Self {
        Self {
            fields: Vec::new(),
            skip,
            warned: BTreeSet::new(),
        }
    }

    /// Carries the columns of an existing metadata shard (appends keep the gallery's schema).
    pub fn from_schema(skip: Vec<String>, schema: &Schema) -> Self {
        Self {
            fields: schema.fields().iter().skip(2).cloned().collect(),
            skip,
            warned: BTreeSet::new(),
        }
    }

    /// The carried fields (empty until the first batch).
    pub fn fields(&self) -> &[Arc<Field>] {
        &self.fields
    }

    /// Fixes the carried columns from the first batch.
    pub fn init(&mut self, batch: &EmbeddingBatch) {
        if let Some(columns) = &batch.columns {
            self.fields = columns
                .schema()
                .fields()
                .iter()
                .filter(|f| !self.skip.iter().any(|s| s == f.name()))
                .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
                .collect();
        }
    }

    /// The metadata rows of `batch`, aligned to the carried schema.
    pub fn rows(
        &mut self,
        batch: &EmbeddingBatch,
        schema: &SchemaRef,
    ) -> Result<RecordBatch, GalleryError> {
        let n = batch.len();
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(batch.face_id.clone()),
            Arc::new(batch.identity.clone()),
        ];
        let input = batch.columns.as_ref();
        for field in &self.fields {
            let found = input.and_then(|b| b.column_by_name(field.name()));
            let array = match found {
                None => new_null_array(field.data_type(), n),
                Some(a) if a.data_type() == field.data_type() => a.clone(),
                Some(a) => cast(a, field.data_type()).map_err(|e| {
                    GalleryError::Input(InputError::UnsupportedType {
                        path: batch.path.to_path_buf(),
                        column: field.name().clone(),
                        found: a.data_type().to_string(),
                        expected: format!(
                            "{} (the type in the first input file; cast failed: {e})",
                            field.data_type()
                        ),
                    })
                })?,
            };
            arrays.push(array);
        }
        if let Some(input) = input {
            let extra: Vec<&str> = input
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .filter(|n| !self.skip.iter().any(|s| s == n))
                .filter(|n| !self.fields.iter().any(|f| f.name() == n))
                .collect();
            if !extra.is_empty() && self.warned.insert(batch.path.to_path_buf()) {
                tracing::warn!(
                    file = %batch.path.display(),
                    columns = extra.join(", "),
                    "columns absent from the first input file are not carried into the gallery"
                );
            }
        }
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| {
            GalleryError::Store(StoreError::Arrow {
                path: batch.path.to_path_buf(),
                source: e,
            })
        })
    }
}

fn open_builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, GalleryError> {
    let file = File::open(path).map_err(|e| GalleryError::opening(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| GalleryError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads `columns` (all when `None`) of a metadata shard, batch by batch, calling `each`.
pub fn for_each_batch(
    path: &Path,
    columns: Option<&[&str]>,
    mut each: impl FnMut(RecordBatch) -> Result<(), GalleryError>,
) -> Result<(), GalleryError> {
    let builder = open_builder(path)?;
    let mask = match columns {
        None => ProjectionMask::all(),
        Some(names) => {
            let schema = builder.schema().clone();
            let mut roots = Vec::new();
            for name in names {
                let i = schema
                    .fields()
                    .iter()
                    .position(|f| f.name() == name)
                    .ok_or_else(|| GalleryError::corrupt(path, format!("no column `{name}`")))?;
                roots.push(i);
            }
            roots.sort_unstable();
            ProjectionMask::roots(builder.parquet_schema(), roots)
        }
    };
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| GalleryError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    for batch in reader {
        let batch = batch.map_err(|e| GalleryError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        each(batch)?;
    }
    Ok(())
}

/// The schema of a metadata shard.
pub fn schema_of(path: &Path) -> Result<SchemaRef, GalleryError> {
    Ok(open_builder(path)?.schema().clone())
}

/// `face_id` and `identity` of every row of a metadata shard.
pub fn read_ids(path: &Path) -> Result<(StringArray, StringArray), GalleryError> {
    let mut ids = Vec::new();
    let mut identities = Vec::new();
    for_each_batch(path, Some(&["face_id", "identity"]), |b| {
        ids.push(b.column(0).clone());
        identities.push(b.column(1).clone());
        Ok(())
    })?;
    let concat = |parts: Vec<ArrayRef>| -> Result<StringArray, GalleryError> {
        if parts.is_empty() {
            return Ok(StringArray::from(Vec::<String>::new()));
        }
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        let all = arrow::compute::concat(&refs)
            .map_err(|e| GalleryError::corrupt(path, e.to_string()))?;
        all.as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| GalleryError::corrupt(path, "face_id/identity are not Utf8"))
    };
    Ok((concat(ids)?, concat(identities)?))
}

/// Keeps the rows of `batch` where `keep` is true.
pub fn filter_rows(
    batch: &RecordBatch,
    keep: &[bool],
    path: &Path,
) -> Result<RecordBatch, GalleryError> {
    let mask = arrow::array::BooleanArray::from(keep.to_vec());
    filter_record_batch(batch, &mask).map_err(|e| GalleryError::corrupt(path, e.to_string()))
}
