//! Errors of the vision pipeline: [`VisionError`] stops a job (no runtime, a bad model file);
//! [`Fault`] is one image that could not be embedded and becomes a row of the errors table.

use std::path::PathBuf;

/// A failure that stops the embedding job before or while it runs.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("ONNX Runtime library not found ({searched}); install it with `make setup` (pip package onnxruntime==1.32.0 into .venv) or point ORT_DYLIB_PATH at libonnxruntime.so")]
    RuntimeNotFound { searched: String },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("model file {path} not found; run `bash scripts/fetch-models.sh` (or `make setup`), or pass --models DIR")]
    ModelMissing { path: PathBuf },
    #[error("model file {path} has SHA-256 {actual}, expected {expected}: the file is corrupt or not the model this profile needs; re-run `bash scripts/fetch-models.sh`")]
    ModelChecksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("cannot load model {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },
    #[error("model {path} gave an unexpected output: {message}")]
    ModelOutput { path: PathBuf, message: String },
    #[error("inference failed in {model}: {message}")]
    Inference { model: String, message: String },
    #[error("unknown model profile `{0}` (expected sface or arcface)")]
    UnknownProfile(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("input {path} not found")]
    InputNotFound { path: PathBuf },
}

impl VisionError {
    /// True when the error comes from the user's input (exit code 3).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, VisionError::InputNotFound { .. })
    }
}

/// Why one image yielded no face embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// The file could not be opened or read.
    Unreadable,
    /// The file has zero bytes.
    Empty,
    /// The bytes are not an image format this tool decodes.
    NotImage,
    /// The image is cut short or its data is corrupt.
    Corrupt,
    /// The image exceeds the pixel limit (a decompression bomb guard).
    TooLarge,
    /// No face passed the detector's score and size thresholds.
    NoFace,
}

impl FaultKind {
    /// The name written in the errors table's `kind` column.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Unreadable => "unreadable",
            FaultKind::Empty => "empty",
            FaultKind::NotImage => "not_image",
            FaultKind::Corrupt => "corrupt",
            FaultKind::TooLarge => "too_large",
            FaultKind::NoFace => "no_face",
        }
    }
}

/// One image that yielded no embedding, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
}

impl Fault {
    pub fn new(kind: FaultKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}
