//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use assert_cmd::Command;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// The built CLI.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("faceflash-batch").expect("binary built");
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Writes one Parquet file from named columns, in batches of `batch_rows`.
pub fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>, batch_rows: usize) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|(_, a)| a).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("valid batch");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(batch_rows.max(1)))
        .build();
    let file = std::fs::File::create(path).expect("create parquet");
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = batch_rows.min(batch.num_rows() - offset);
        writer.write(&batch.slice(offset, len)).expect("write");
        offset += len;
    }
    writer.close().expect("close");
}

/// Deterministic pseudo-random vectors (not normalised), `rows × dim`.
pub fn vectors(rows: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..rows)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
                })
                .collect()
        })
        .collect()
}

/// A path as a command-line argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 test path")
}

/// Runs the CLI quietly with `args` and asserts it succeeded.
pub fn run_ok(args: &[&str]) {
    assert_ok(&bin().arg("-q").args(args).output().expect("run the CLI"));
}

/// An `embedding` column: `flat.len() / dim` rows of `dim` non-null f32 (as our writer makes).
pub fn embedding_column(flat: Vec<f32>, dim: usize) -> ArrayRef {
    let item = Arc::new(Field::new(
        "item",
        arrow::datatypes::DataType::Float32,
        false,
    ));
    Arc::new(
        arrow::array::FixedSizeListArray::try_new(
            item,
            dim as i32,
            Arc::new(arrow::array::Float32Array::from(flat)),
            None,
        )
        .expect("whole rows"),
    )
}

/// A temporary directory path joined with `name`.
pub fn path_in(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Asserts a failed run exited with `code`, mentions every needle, and did not panic.
pub fn assert_fails_with(output: &std::process::Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic in stderr: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
}

/// Asserts a run succeeded, showing its stderr otherwise.
pub fn assert_ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `synth` with `args` into `dir` and asserts it succeeded.
pub fn synth_into(dir: &Path, args: &[&str]) {
    let out = bin()
        .arg("synth")
        .args(args)
        .arg("--out")
        .arg(dir)
        .output()
        .expect("run synth");
    assert_ok(&out);
}

/// All embeddings of a faces table (validated, normalised) and their dimension.
pub fn read_vectors(path: &Path) -> (Vec<f32>, usize) {
    let mut all = Vec::new();
    let mut dim = 0;
    let reader =
        faceflash_batch::store::EmbeddingReader::new(vec![path.to_path_buf()], Default::default());
    for batch in reader {
        let batch = batch.expect("valid faces table");
        dim = batch.dim;
        all.extend_from_slice(&batch.vectors);
    }
    (all, dim)
}

/// Every row of a Parquet file as one record batch, with its key-value metadata.
pub fn read_table(
    path: &Path,
) -> (
    arrow::array::RecordBatch,
    std::collections::HashMap<String, String>,
) {
    let file = std::fs::File::open(path).expect("open parquet");
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet file");
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|v| {
            v.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let batches: Vec<_> = builder
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect();
    (
        arrow::compute::concat_batches(&schema, &batches).expect("one schema"),
        kv,
    )
}

/// Column `name` of `batch` as strings (nulls as `None`).
pub fn strings(batch: &arrow::array::RecordBatch, name: &str) -> Vec<Option<String>> {
    use arrow::array::Array;
    let col = batch.column_by_name(name).expect("column");
    let col = col
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .expect("Utf8 column");
    (0..col.len())
        .map(|i| col.is_valid(i).then(|| col.value(i).to_string()))
        .collect()
}

/// Column `name` of `batch` as f32 values.
pub fn floats(batch: &arrow::array::RecordBatch, name: &str) -> Vec<f32> {
    let col = batch.column_by_name(name).expect("column");
    col.as_any()
        .downcast_ref::<arrow::array::Float32Array>()
        .expect("Float32 column")
        .values()
        .to_vec()
}

/// Column `name` of `batch` as u32 values.
pub fn u32s(batch: &arrow::array::RecordBatch, name: &str) -> Vec<u32> {
    let col = batch.column_by_name(name).expect("column");
    col.as_any()
        .downcast_ref::<arrow::array::UInt32Array>()
        .expect("UInt32 column")
        .values()
        .to_vec()
}

/// The columns of a table (its data, without the schema's provenance metadata).
pub fn columns(batch: &arrow::array::RecordBatch) -> Vec<arrow::array::ArrayRef> {
    batch.columns().to_vec()
}

/// Writes a faces table: `face_id`, `identity` (nullable) and the `dim`-d `embedding` rows of
/// `flat`, in row groups of `batch_rows`.
pub fn write_faces_table(
    path: &Path,
    ids: impl IntoIterator<Item = String>,
    identities: impl IntoIterator<Item = Option<String>>,
    flat: Vec<f32>,
    dim: usize,
    batch_rows: usize,
) {
    write_parquet(
        path,
        vec![
            (
                "face_id",
                Arc::new(arrow::array::StringArray::from_iter_values(ids)) as ArrayRef,
            ),
            (
                "identity",
                Arc::new(arrow::array::StringArray::from_iter(identities)),
            ),
            ("embedding", embedding_column(flat, dim)),
        ],
        batch_rows,
    );
}

/// The column names of a table.
pub fn column_names(batch: &arrow::array::RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}
