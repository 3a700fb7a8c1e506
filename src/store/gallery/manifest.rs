//! `manifest.json`: the one file that says what a gallery holds. Every other file is written
//! first and the manifest last (atomically), so the manifest always describes complete files.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::codes::BLOCK_ROWS;
use super::{FloatType, GalleryError};
use crate::store::AtomicOutput;

/// Value of the `format` field.
pub const FORMAT: &str = "faceflash-gallery";
/// Gallery format version written by this build (and the only one it reads).
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a gallery.
pub const MANIFEST: &str = "manifest.json";
/// File name of the quantizer inside a gallery.
pub const QUANTIZER: &str = "quantizer.ffq";

/// One file of the gallery. For `.bin` shards `xxh3` is the XXH3-64 of the payload (also in
/// the shard's header); for other files it is the XXH3-64 of the whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub bytes: u64,
    pub xxh3: String,
}

/// One shard: the same rows in three files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    pub id: u32,
    pub rows: u64,
    pub codes: FileEntry,
    pub floats: FileEntry,
    pub meta: FileEntry,
}

/// The tombstones file: (shard, row) of every removed face.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TombstoneEntry {
    #[serde(flatten)]
    pub file: FileEntry,
    pub rows: u64,
}

/// The gallery's quantizer file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantizerEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub tool_version: String,
    /// Incremented by every committed change.
    pub generation: u64,
    pub created: String,
    pub updated: String,
    pub dim: usize,
    pub bits: usize,
    pub floats: FloatType,
    /// Rows per interleaved block in the code shards.
    pub code_block_rows: usize,
    pub quantizer: QuantizerEntry,
    /// Id the next new shard gets (ids are never reused, so old and new files coexist until
    /// the manifest switches).
    pub next_shard: u32,
    pub shards: Vec<ShardEntry>,
    pub tombstones: Option<TombstoneEntry>,
}

impl Manifest {
    /// A manifest of an empty gallery.
    pub fn new(dim: usize, bits: usize, floats: FloatType, quantizer: QuantizerEntry) -> Self {
        let now = chrono::Utc::now().to_rfc3339();
        Self {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            tool_version: crate::TOOL_VERSION.into(),
            generation: 0,
            created: now.clone(),
            updated: now,
            dim,
            bits,
            floats,
            code_block_rows: BLOCK_ROWS,
            quantizer,
            next_shard: 0,
            shards: Vec::new(),
            tombstones: None,
        }
    }

    /// Reads and checks `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, GalleryError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(if dir.is_dir() {
                    GalleryError::NotAGallery {
                        path: dir.to_path_buf(),
                    }
                } else if !dir.exists() {
                    GalleryError::NotFound {
                        path: dir.to_path_buf(),
                    }
                } else {
                    GalleryError::io(dir, e)
                })
            }
            Err(e) => return Err(GalleryError::io(&path, e)),
        };
        let bad = |message: String| GalleryError::Manifest {
            path: path.clone(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(bad(format!("`format` is not \"{FORMAT}\"")));
        }
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == FORMAT_VERSION as u64 => {}
            Some(v) => {
                return Err(bad(format!(
                    "format version {v} is not supported (this build reads version {FORMAT_VERSION}; written by faceflash-batch {})",
                    value.get("tool_version").and_then(|t| t.as_str()).unwrap_or("?")
                )))
            }
            None => return Err(bad("no `format_version`".into())),
        }
        let m: Manifest = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        m.check().map_err(bad)?;
        Ok(m)
    }

    fn check(&self) -> Result<(), String> {
        if self.bits == 0 || !self.bits.is_multiple_of(64) {
            return Err(format!(
                "bits = {} is not a positive multiple of 64",
                self.bits
            ));
        }
        if self.dim == 0 {
            return Err("dim = 0".into());
        }
        if self.code_block_rows != BLOCK_ROWS {
            return Err(format!(
                "code_block_rows = {}; this build reads {BLOCK_ROWS}",
                self.code_block_rows
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        for s in &self.shards {
            if !ids.insert(s.id) || s.id >= self.next_shard {
                return Err(format!(
                    "shard id {} is repeated or not below next_shard",
                    s.id
                ));
            }
            for f in [&s.codes, &s.floats, &s.meta] {
                if f.file.contains('/') || f.file.contains('\\') || f.file.starts_with('.') {
                    return Err(format!("file name `{}` is not a plain name", f.file));
                }
            }
        }
        Ok(())
    }

    /// Writes `dir/manifest.json` atomically (the commit point of every change).
    pub fn write(&self, dir: &Path) -> Result<(), GalleryError> {
        let path = dir.join(MANIFEST);
        let out = AtomicOutput::create(&path)?;
        let mut text = serde_json::to_vec_pretty(self).expect("manifest serialises");
        text.push(b'\n');
        use std::io::Write;
        out.file()?
            .write_all(&text)
            .map_err(|e| GalleryError::io(&path, e))?;
        out.commit()?;
        Ok(())
    }

    /// Rows over all shards, tombstoned ones included.
    pub fn total_rows(&self) -> u64 {
        self.shards.iter().map(|s| s.rows).sum()
    }

    /// Rows not tombstoned.
    pub fn live_rows(&self) -> u64 {
        self.total_rows() - self.tombstones.as_ref().map_or(0, |t| t.rows)
    }

    /// Every file name the manifest refers to.
    pub fn files(&self) -> Vec<String> {
        let mut v = vec![MANIFEST.to_string(), self.quantizer.file.clone()];
        for s in &self.shards {
            v.extend([
                s.codes.file.clone(),
                s.floats.file.clone(),
                s.meta.file.clone(),
            ]);
        }
        if let Some(t) = &self.tombstones {
            v.push(t.file.file.clone());
        }
        v
    }
}

/// File name of shard `id`'s file of `kind` (`codes`, `floats`, `meta`).
pub fn shard_file(kind: &str, id: u32) -> String {
    let ext = if kind == "meta" { "parquet" } else { "bin" };
    format!("{kind}-{id:05}.{ext}")
}

/// File name of the tombstones of `generation`.
pub fn tombstones_file(generation: u64) -> String {
    format!("tombstones-{generation:05}.parquet")
}
