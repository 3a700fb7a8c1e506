//! Building a gallery and appending to one, streaming: memory stays bounded by one input
//! batch plus one shard's write buffers.

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;

use super::codes::CodeShardWriter;
use super::floats::FloatShardWriter;
use super::lock::GalleryLock;
use super::manifest::{
    shard_file, FileEntry, Manifest, QuantizerEntry, ShardEntry, MANIFEST, QUANTIZER,
};
use super::meta::{meta_schema, CarriedColumns, MetaWriter};
use super::{hex64, maintain::remove_orphans, FloatType, GalleryError};
use crate::quant::{self, Quantizer};
use crate::store::EmbeddingBatch;

/// What an index run added.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexSummary {
    pub gallery: PathBuf,
    pub rows_added: u64,
    /// Input rows not added because their `face_id` is already in the gallery (live or
    /// removed) or came earlier in the input.
    pub rows_skipped: u64,
    pub shards_added: usize,
    pub total_rows: u64,
    pub shards: usize,
    pub generation: u64,
    pub created: bool,
}

struct OpenShard {
    id: u32,
    rows: u64,
    codes: CodeShardWriter,
    floats: FloatShardWriter,
    meta: MetaWriter,
}

/// Writes new shards into a new or an existing gallery; nothing is visible until
/// [`GalleryWriter::finish`] switches the manifest.
pub struct GalleryWriter {
    dir: PathBuf,
    work: PathBuf,
    staging: Option<tempfile::TempDir>,
    _lock: Option<GalleryLock>,
    manifest: Manifest,
    quantizer: Quantizer,
    shard_rows: u64,
    current: Option<OpenShard>,
    carried: CarriedColumns,
    schema: Option<SchemaRef>,
    rows_added: u64,
    shards_added: usize,
    /// Every face id in the gallery and added so far: a face id is indexed once, so a
    /// rerun of the same append adds nothing and an erased face is not re-added.
    known: std::collections::HashSet<String>,
    rows_skipped: u64,
}

impl GalleryWriter {
    /// Starts a new gallery at `dir` (which must not exist, or be an empty directory), encoded
    /// with `quantizer`. Files are staged in a hidden sibling directory renamed into place by
    /// `finish`. `skip_columns` are input columns not carried into the metadata (the
    /// embedding, id and identity columns).
    pub fn create(
        dir: &Path,
        quantizer: Quantizer,
        floats: FloatType,
        shard_rows: usize,
        skip_columns: Vec<String>,
    ) -> Result<Self, GalleryError> {
        check_new_target(dir)?;
        let parent = parent_of(dir);
        std::fs::create_dir_all(&parent).map_err(|e| GalleryError::io(&parent, e))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "gallery".into());
        sweep_stale_staging(&parent, &name);
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}.staging-{}-", std::process::id()))
            .tempdir_in(&parent)
            .map_err(|e| GalleryError::io(&parent, e))?;
        let work = staging.path().to_path_buf();
        let mut quantizer = quantizer;
        let sha256 = quant::file::save(&mut quantizer, &work.join(QUANTIZER))?;
        let bytes = std::fs::metadata(work.join(QUANTIZER))
            .map_err(|e| GalleryError::io(work.join(QUANTIZER), e))?
            .len();
        let manifest = Manifest::new(
            quantizer.dim(),
            quantizer.bits(),
            floats,
            QuantizerEntry {
                file: QUANTIZER.into(),
                bytes,
                sha256,
            },
        );
        Ok(Self::new(
            dir,
            work,
            Some(staging),
            None,
            manifest,
            quantizer,
            shard_rows,
            skip_columns,
        ))
    }

    /// Opens the gallery at `dir` for appending (taking its lock). `expected` is a quantizer
    /// the caller asked for: it must be the gallery's own. `floats`, when given, must be the
    /// gallery's precision.
    pub fn append(
        dir: &Path,
        expected: Option<&Quantizer>,
        floats: Option<FloatType>,
        shard_rows: usize,
        skip_columns: Vec<String>,
    ) -> Result<Self, GalleryError> {
        let lock = GalleryLock::acquire(dir)?;
        let manifest = Manifest::read(dir)?;
        remove_orphans(dir, &manifest);
        let quantizer = super::load_quantizer(dir, &manifest)?;
        // New shards carry the same columns as the gallery's newest shard.
        let preset = match manifest.shards.last() {
            Some(s) => Some(super::meta::schema_of(&dir.join(&s.meta.file))?),
            None => None,
        };
        if let Some(q) = expected {
            if q.hash() != quantizer.hash() {
                return Err(GalleryError::Mismatch {
                    path: dir.to_path_buf(),
                    message: format!(
                        "--quantizer (sha256 {}…) is not the gallery's quantizer (sha256 {}…): appended codes must come from the same quantizer; omit --quantizer to use the gallery's",
                        q.hash().map_or("?", |h| &h[..16]),
                        &manifest.quantizer.sha256[..16.min(manifest.quantizer.sha256.len())]
                    ),
                });
            }
        }
        if let Some(f) = floats {
            if f != manifest.floats {
                return Err(GalleryError::Mismatch {
                    path: dir.to_path_buf(),
                    message: format!(
                        "--floats {} differs from the gallery's float shards ({}); omit --floats when appending",
                        f.name(),
                        manifest.floats.name()
                    ),
                });
            }
        }
        let mut writer = Self::new(
            dir,
            dir.to_path_buf(),
            None,
            Some(lock),
            manifest,
            quantizer,
            shard_rows,
            skip_columns.clone(),
        );
        if let Some(schema) = preset {
            writer.carried = CarriedColumns::from_schema(skip_columns, &schema);
            writer.schema = Some(schema);
        }
        writer.known = indexed_face_ids(dir, &writer.manifest)?;
        Ok(writer)
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        dir: &Path,
        work: PathBuf,
        staging: Option<tempfile::TempDir>,
        lock: Option<GalleryLock>,
        manifest: Manifest,
        quantizer: Quantizer,
        shard_rows: usize,
        skip_columns: Vec<String>,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            work,
            staging,
            _lock: lock,
            manifest,
            quantizer,
            shard_rows: shard_rows.max(1) as u64,
            current: None,
            carried: CarriedColumns::new(skip_columns),
            schema: None,
            rows_added: 0,
            shards_added: 0,
            known: std::collections::HashSet::new(),
            rows_skipped: 0,
        }
    }

    /// Encodes and appends a batch of faces, skipping face ids already indexed.
    pub fn push(&mut self, batch: &EmbeddingBatch) -> Result<(), GalleryError> {
        let keep: Vec<bool> = batch
            .face_id
            .iter()
            .map(|id| self.known.insert(id.unwrap_or_default().to_string()))
            .collect();
        let kept = keep.iter().filter(|&&k| k).count();
        self.rows_skipped += (batch.len() - kept) as u64;
        if kept < batch.len() {
            let selected = batch
                .select(&arrow::array::BooleanArray::from(keep))
                .map_err(|e| GalleryError::io(batch.path.as_path(), std::io::Error::other(e)))?;
            return self.push_new(&selected);
        }
        self.push_new(batch)
    }

    fn push_new(&mut self, batch: &EmbeddingBatch) -> Result<(), GalleryError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.quantizer
            .check_dim(batch.dim, &batch.path.display().to_string())?;
        if self.schema.is_none() {
            self.carried.init(batch);
            self.schema = Some(meta_schema(self.carried.fields()));
        }
        let schema = self.schema.clone().expect("schema set");
        let codes = self.quantizer.encode(&batch.vectors)?;
        let meta = self.carried.rows(batch, &schema)?;
        let (words, dim) = (self.quantizer.words(), batch.dim);
        let n = batch.len();
        let mut offset = 0;
        while offset < n {
            if self.current.is_none() {
                self.current = Some(self.open_shard(&schema)?);
            }
            let shard = self.current.as_mut().expect("open shard");
            let take = ((self.shard_rows - shard.rows) as usize).min(n - offset);
            shard
                .codes
                .push(&codes[offset * words..(offset + take) * words])?;
            shard
                .floats
                .push(&batch.vectors[offset * dim..(offset + take) * dim])?;
            shard.meta.write(&meta.slice(offset, take))?;
            shard.rows += take as u64;
            offset += take;
            if shard.rows == self.shard_rows {
                self.close_shard()?;
            }
        }
        self.rows_added += n as u64;
        Ok(())
    }

    fn open_shard(&mut self, schema: &SchemaRef) -> Result<OpenShard, GalleryError> {
        let id = self.manifest.next_shard;
        self.manifest.next_shard += 1;
        Ok(OpenShard {
            id,
            rows: 0,
            codes: CodeShardWriter::create(
                &self.work.join(shard_file("codes", id)),
                self.manifest.bits,
            )?,
            floats: FloatShardWriter::create(
                &self.work.join(shard_file("floats", id)),
                self.manifest.dim,
                self.manifest.floats,
            )?,
            meta: MetaWriter::create(&self.work.join(shard_file("meta", id)), schema.clone())?,
        })
    }

    fn close_shard(&mut self) -> Result<(), GalleryError> {
        let Some(shard) = self.current.take() else {
            return Ok(());
        };
        let entry = finish_shard(shard.id, shard.rows, shard.codes, shard.floats, shard.meta)?;
        tracing::debug!(shard = entry.id, rows = entry.rows, "shard written");
        self.manifest.shards.push(entry);
        self.shards_added += 1;
        Ok(())
    }

    /// Closes the last shard and commits: writes the manifest (and, for a new gallery, moves
    /// the staged directory into place).
    pub fn finish(mut self) -> Result<IndexSummary, GalleryError> {
        self.close_shard()?;
        let created = self.staging.is_some();
        if self.shards_added > 0 || created {
            self.manifest.generation += 1;
            self.manifest.updated = chrono::Utc::now().to_rfc3339();
            self.manifest.tool_version = crate::TOOL_VERSION.into();
            self.manifest.write(&self.work)?;
        }
        if let Some(staging) = self.staging.take() {
            let staged = staging.keep();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| GalleryError::io(&staged, e))?;
            }
            if let Err(e) = std::fs::rename(&staged, &self.dir) {
                let _ = std::fs::remove_dir_all(&staged);
                return Err(GalleryError::Exists {
                    path: self.dir.clone(),
                    message: format!(
                        "cannot move the new gallery into place ({e}); did another job create it meanwhile?"
                    ),
                });
            }
            if let Ok(d) = std::fs::File::open(parent_of(&self.dir)) {
                let _ = d.sync_all();
            }
        }
        Ok(IndexSummary {
            gallery: self.dir.clone(),
            rows_added: self.rows_added,
            rows_skipped: self.rows_skipped,
            shards_added: self.shards_added,
            total_rows: self.manifest.total_rows(),
            shards: self.manifest.shards.len(),
            generation: self.manifest.generation,
            created,
        })
    }
}

/// Finishes the three files of a shard and returns its manifest entry.
pub(super) fn finish_shard(
    id: u32,
    rows: u64,
    codes: CodeShardWriter,
    floats: FloatShardWriter,
    meta: MetaWriter,
) -> Result<ShardEntry, GalleryError> {
    let (code_bytes, code_sum) = codes.finish()?;
    let (float_bytes, float_sum) = floats.finish()?;
    let (meta_bytes, meta_sum) = meta.finish()?;
    let header = super::binfile::HEADER_BYTES as u64;
    Ok(ShardEntry {
        id,
        rows,
        codes: FileEntry {
            file: shard_file("codes", id),
            bytes: header + code_bytes,
            xxh3: hex64(code_sum),
        },
        floats: FileEntry {
            file: shard_file("floats", id),
            bytes: header + float_bytes,
            xxh3: hex64(float_sum),
        },
        meta: FileEntry {
            file: shard_file("meta", id),
            bytes: meta_bytes,
            xxh3: hex64(meta_sum),
        },
    })
}

fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new gallery may only go where nothing is, or into an empty directory.
fn check_new_target(dir: &Path) -> Result<(), GalleryError> {
    if dir.join(MANIFEST).exists() {
        return Err(GalleryError::Exists {
            path: dir.to_path_buf(),
            message: "is already a gallery: add faces with --append, or choose another directory"
                .into(),
        });
    }
    if dir.exists() {
        let empty = dir.is_dir()
            && std::fs::read_dir(dir)
                .map_err(|e| GalleryError::io(dir, e))?
                .next()
                .is_none();
        if !empty {
            return Err(GalleryError::Exists {
                path: dir.to_path_buf(),
                message: "exists and is not an empty directory; a new gallery needs a new or empty directory".into(),
            });
        }
    }
    Ok(())
}

/// Removes staging directories left by killed jobs (their pid no longer runs).
fn sweep_stale_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}.staging-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            tracing::info!(path = %entry.path().display(), "removing the staging directory of a killed job");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// The face ids of every shard `manifest` lists in the gallery at `dir` (what `--append`
/// skips; read-only, so `index --dry-run` uses it without the lock).
pub fn indexed_face_ids(
    dir: &Path,
    manifest: &Manifest,
) -> Result<std::collections::HashSet<String>, GalleryError> {
    let mut known = std::collections::HashSet::new();
    for shard in &manifest.shards {
        let (ids, _) = super::meta::read_ids(&dir.join(&shard.meta.file))?;
        known.extend(ids.iter().flatten().map(str::to_string));
    }
    Ok(known)
}
