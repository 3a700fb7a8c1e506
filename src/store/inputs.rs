//! Resolving input arguments (files and directories) into a sorted list of Parquet files.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};

use super::InputError;

/// Expands files and directories into Parquet files. A directory contributes every
/// `*.parquet` file below it (recursively, sorted by path, skipping hidden `.x` and `_x`
/// entries such as temporary files and `_SUCCESS` markers). Files given by name are kept in
/// the order given, whatever their extension.
pub fn resolve_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|_| InputError::NotFound {
            path: input.clone(),
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            collect_parquet(input, &mut found);
            if found.is_empty() {
                return Err(InputError::EmptyDirectory {
                    path: input.clone(),
                });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn collect_parquet(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_parquet(&path, out);
        } else if name.ends_with(".parquet") {
            out.push(path);
        }
    }
}

/// Total number of rows in `files`, read from the Parquet footers only.
pub fn count_rows(files: &[PathBuf]) -> Result<u64, InputError> {
    let mut total = 0u64;
    for path in files {
        let file = File::open(path).map_err(|e| InputError::NotParquet {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let reader = SerializedFileReader::new(file).map_err(|e| InputError::NotParquet {
            path: path.clone(),
            message: e.to_string(),
        })?;
        total += reader.metadata().file_metadata().num_rows().max(0) as u64;
    }
    Ok(total)
}
