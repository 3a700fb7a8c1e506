//! ONNX Runtime, loaded at run time (`ort` with `load-dynamic`): the library is found via
//! `ORT_DYLIB_PATH`, else in the project's `.venv` (PyPI wheel `onnxruntime`), and loaded
//! with `ort::init_from`, so a missing library is an error with a remedy, never a panic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use super::models::project_dirs;
use super::VisionError;

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The ONNX Runtime library to load: `$ORT_DYLIB_PATH`, else
/// `.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*` under the working
/// directory or the project the executable was built in.
pub fn find_library() -> Result<PathBuf, VisionError> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(VisionError::RuntimeNotFound {
                searched: format!("ORT_DYLIB_PATH={} does not exist", path.display()),
            })
        };
    }
    let mut roots = vec![PathBuf::from(".")];
    roots.extend(project_dirs());
    let mut searched = Vec::new();
    for root in roots {
        let lib = root.join(".venv").join("lib");
        searched.push(lib.display().to_string());
        if let Some(found) = venv_library(&lib) {
            return Ok(found);
        }
    }
    Err(VisionError::RuntimeNotFound {
        searched: format!("ORT_DYLIB_PATH unset; looked in {}", searched.join(", ")),
    })
}

fn venv_library(lib: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .map(|python| python.path().join("site-packages/onnxruntime/capi"))
        .filter_map(|capi| std::fs::read_dir(capi).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so.") || n == "libonnxruntime.dylib")
        })
        .collect();
    found.sort();
    found.pop()
}

/// The process's ONNX Runtime environment, created on first use.
pub fn environment() -> Result<&'static Environment, VisionError> {
    let path = find_library()?;
    let env = ENVIRONMENT.get_or_init(|| {
        let builder = ort::init_from(&path).map_err(|e| format!("{e}"))?;
        builder
            .with_name("faceflash-batch")
            .build()
            .map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|message| VisionError::RuntimeLoad {
        path: path.clone(),
        message: message.clone(),
    })
}

/// A session over `model` using `threads` intra-op threads (no spinning: the machine is
/// shared with the decoding workers).
pub fn session(model: &Path, threads: usize) -> Result<Session, VisionError> {
    let env = environment()?;
    let fail = |e: ort::Error| VisionError::ModelLoad {
        path: model.to_path_buf(),
        message: e.to_string(),
    };
    Session::builder(env)
        .map_err(fail)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(e.into()))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| fail(e.into()))?
        .with_inter_threads(1)
        .map_err(|e| fail(e.into()))?
        .with_intra_op_spinning(false)
        .map_err(|e| fail(e.into()))?
        .commit_from_file(model)
        .map_err(fail)
}
