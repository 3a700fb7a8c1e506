//! `--resume`: the paths a previous run already handled (in its faces or errors table), and
//! the copy of its rows into the new output, so a cron rerun only embeds new photos.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, StringArray};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::jobs::{JobError, RowBuffer};
use crate::store::InputError;

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, JobError> {
    let not_parquet = |message: String| InputError::NotParquet {
        path: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(|e| not_parquet(e.to_string()))?;
    Ok(ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| not_parquet(e.to_string()))?)
}

/// A provenance entry of a previous output (`faceflash.KEY`).
pub fn provenance_value(path: &Path, key: &str) -> Result<Option<String>, JobError> {
    let builder = open(path)?;
    let kv = builder.metadata().file_metadata().key_value_metadata();
    let want = format!("faceflash.{key}");
    Ok(kv.and_then(|kv| {
        kv.iter()
            .find(|e| e.key == want)
            .and_then(|e| e.value.clone())
    }))
}

/// Every `path` in a previous output.
pub fn done_paths(path: &Path, into: &mut HashSet<String>) -> Result<(), JobError> {
    let builder = open(path)?;
    let Some(index) = builder
        .schema()
        .fields()
        .iter()
        .position(|f| f.name() == "path")
    else {
        return Err(InputError::MissingColumn {
            path: path.to_path_buf(),
            column: "path".into(),
            available: builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| InputError::NotParquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    for batch in reader {
        let batch = batch.map_err(|e| InputError::NotParquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let Some(paths) = batch.column(0).as_any().downcast_ref::<StringArray>() else {
            return Err(InputError::UnsupportedType {
                path: path.to_path_buf(),
                column: "path".into(),
                found: batch.column(0).data_type().to_string(),
                expected: "Utf8".into(),
            }
            .into());
        };
        into.extend(paths.iter().flatten().map(str::to_string));
    }
    Ok(())
}

/// Copies every row of a previous output into `rows`; its schema must be `schema` (same
/// columns, same embedding dimension). Returns the rows copied.
pub fn copy_rows(path: &Path, schema: &SchemaRef, rows: &mut RowBuffer) -> Result<u64, JobError> {
    let builder = open(path)?;
    let found = builder.schema().clone();
    if found.fields() != schema.fields() {
        return Err(JobError::Params(format!(
            "--resume: {} was not written by this embed configuration (its columns are [{}], expected [{}]); write to a new output instead",
            path.display(),
            found.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>().join(", "),
            schema.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>().join(", "),
        )));
    }
    let reader = builder.build().map_err(|e| InputError::NotParquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut copied = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| InputError::NotParquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        copied += batch.num_rows() as u64;
        rows.write_batch(&batch)?;
    }
    Ok(copied)
}
