//! The gallery: a directory of shards that the scan engine searches.
//!
//! ```text
//! GALLERY/manifest.json         what the gallery holds (written last, atomically)
//! GALLERY/quantizer.ffq         the quantizer every code was made with
//! GALLERY/codes-NNNNN.bin       binary codes, interleaved in blocks of 8 rows, mapped
//! GALLERY/floats-NNNNN.bin      f32/f16 embeddings for rerank, mapped, touched per candidate
//! GALLERY/meta-NNNNN.parquet    row → face_id, identity and the input's other columns
//! GALLERY/tombstones-GGGGG.parquet  removed (shard, row) pairs, until `compact`
//! GALLERY/.lock                 writers' lock (readers never take it)
//! ```
//!
//! Writers ([`GalleryWriter`], [`remove`], [`compact`]) never modify a file in place: they
//! write new files (temp + fsync + rename), then switch the manifest, then delete what the
//! old manifest alone referred to. A reader sees either the old or the new state.

mod binfile;
mod codes;
mod error;
mod floats;
mod lock;
mod maintain;
mod manifest;
mod meta;
mod tombstones;
mod writer;

use std::path::{Path, PathBuf};

pub use binfile::hex64;
pub use codes::{CodeShard, BLOCK_ROWS};
pub use error::GalleryError;
pub use floats::{FloatShard, FloatType};
pub use lock::GalleryLock;
pub use maintain::{
    compact, info, remove, verify, CompactSummary, GalleryInfo, RemoveSummary, VerifyReport,
};
pub use manifest::{FileEntry, Manifest, ShardEntry, TombstoneEntry, MANIFEST, QUANTIZER};
pub use meta::{
    filter_rows as filter_meta_rows, for_each_batch as read_meta_batches, read_ids,
    schema_of as read_meta_schema,
};
pub use tombstones::{RowBitmap, Tombstones};
pub use writer::{indexed_face_ids, GalleryWriter, IndexSummary};

use crate::quant::{self, Quantizer};

/// One shard of an open gallery.
pub struct Shard {
    /// The shard's id (its file numbers).
    pub id: u32,
    /// Global row number of the shard's first row (rows count in manifest order).
    pub first_row: u64,
    /// The codes, mapped and resident.
    pub codes: CodeShard,
    /// The embeddings, mapped, read per candidate.
    pub floats: FloatShard,
    /// The metadata shard (read on demand).
    pub meta_path: PathBuf,
    /// Removed rows, if any.
    pub tombstones: Option<RowBitmap>,
}

impl Shard {
    /// Rows in the shard, removed ones included.
    pub fn rows(&self) -> usize {
        self.codes.rows()
    }

    /// True unless `row` was removed.
    #[inline]
    pub fn is_live(&self, row: usize) -> bool {
        self.tombstones.as_ref().is_none_or(|t| !t.contains(row))
    }
}

/// An open, read-only gallery.
pub struct Gallery {
    dir: PathBuf,
    manifest: Manifest,
    quantizer: Quantizer,
    shards: Vec<Shard>,
}

impl Gallery {
    /// Opens `dir`: reads the manifest, loads the quantizer, maps every shard (codes are read
    /// into memory and their checksums verified; floats and metadata are not touched).
    /// Retries when a writer switched the manifest while we were opening.
    pub fn open(dir: &Path) -> Result<Self, GalleryError> {
        let mut attempts = 0;
        loop {
            let manifest = Manifest::read(dir)?;
            match Self::open_with(dir, manifest.clone()) {
                Err(GalleryError::Missing { .. }) if attempts < 5 => {
                    let now = Manifest::read(dir)?;
                    if now.generation == manifest.generation {
                        return Self::open_with(dir, manifest);
                    }
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    fn open_with(dir: &Path, manifest: Manifest) -> Result<Self, GalleryError> {
        let quantizer = load_quantizer(dir, &manifest)?;
        let mut tombstones = tombstones::load(dir, &manifest)?;
        let mut shards = Vec::with_capacity(manifest.shards.len());
        let mut first_row = 0;
        for entry in &manifest.shards {
            let codes = open_codes(dir, &manifest, entry)?;
            let floats = open_floats(dir, &manifest, entry)?;
            let meta_path = dir.join(&entry.meta.file);
            check_size(&meta_path, entry.meta.bytes)?;
            shards.push(Shard {
                id: entry.id,
                first_row,
                codes,
                floats,
                meta_path,
                tombstones: tombstones.remove(&entry.id),
            });
            first_row += entry.rows;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            quantizer,
            shards,
        })
    }

    /// The gallery directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest this gallery was opened at.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The gallery's quantizer.
    pub fn quantizer(&self) -> &Quantizer {
        &self.quantizer
    }

    /// The shards, in manifest order.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.manifest.dim
    }

    /// Code length in bits.
    pub fn bits(&self) -> usize {
        self.manifest.bits
    }

    /// Rows over all shards, removed ones included (global rows are `0..total_rows()`).
    pub fn total_rows(&self) -> u64 {
        self.manifest.total_rows()
    }

    /// Rows a search can return.
    pub fn live_rows(&self) -> u64 {
        self.manifest.live_rows()
    }

    /// (shard index, row in shard) of a global row.
    pub fn locate(&self, global_row: u64) -> Option<(usize, usize)> {
        let i = self
            .shards
            .partition_point(|s| s.first_row + s.rows() as u64 <= global_row);
        let s = self.shards.get(i)?;
        Some((i, (global_row - s.first_row) as usize))
    }

    /// Bytes a scan keeps resident: the codes and the tombstone bitmaps.
    pub fn resident_bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                s.codes.resident_bytes() + s.tombstones.as_ref().map_or(0, |t| t.bytes() as u64)
            })
            .sum()
    }
}

/// Maps a shard's code file, checks it against the manifest and re-hashes its codes.
fn open_codes(dir: &Path, m: &Manifest, entry: &ShardEntry) -> Result<CodeShard, GalleryError> {
    let path = dir.join(&entry.codes.file);
    let codes = CodeShard::open(&path, m.bits, entry.rows)?;
    check_recorded(&path, codes.checksum(), &entry.codes)?;
    codes.check_payload()?;
    Ok(codes)
}

/// Maps a shard's float file and checks its header against the manifest (the rows are not
/// read: call `check_payload` for that).
fn open_floats(dir: &Path, m: &Manifest, entry: &ShardEntry) -> Result<FloatShard, GalleryError> {
    let path = dir.join(&entry.floats.file);
    let floats = FloatShard::open(&path, m.dim, m.floats, entry.rows)?;
    check_recorded(&path, floats.checksum(), &entry.floats)?;
    Ok(floats)
}

fn load_quantizer(dir: &Path, manifest: &Manifest) -> Result<Quantizer, GalleryError> {
    let path = dir.join(&manifest.quantizer.file);
    if !path.exists() {
        return Err(GalleryError::Missing { path });
    }
    let q = quant::file::load(&path)?;
    if q.hash() != Some(manifest.quantizer.sha256.as_str()) {
        return Err(GalleryError::corrupt(
            &path,
            format!(
                "sha256 {} differs from the manifest's {}: the codes were made with another quantizer",
                q.hash().unwrap_or("?"),
                manifest.quantizer.sha256
            ),
        ));
    }
    if q.dim() != manifest.dim || q.bits() != manifest.bits {
        return Err(GalleryError::corrupt(
            &path,
            format!(
                "quantizer is {}-d → {} bits, the manifest says {}-d → {} bits",
                q.dim(),
                q.bits(),
                manifest.dim,
                manifest.bits
            ),
        ));
    }
    Ok(q)
}

/// Compares a shard header's checksum and the file size with the manifest.
fn check_recorded(path: &Path, checksum: u64, entry: &FileEntry) -> Result<(), GalleryError> {
    check_size(path, entry.bytes)?;
    if hex64(checksum) != entry.xxh3 {
        return Err(GalleryError::corrupt(
            path,
            format!(
                "header checksum {} differs from the manifest's {} (the file was replaced or the manifest belongs to another state)",
                hex64(checksum),
                entry.xxh3
            ),
        ));
    }
    Ok(())
}

fn check_size(path: &Path, expected: u64) -> Result<(), GalleryError> {
    let len = std::fs::metadata(path)
        .map_err(|e| GalleryError::opening(path, e))?
        .len();
    if len != expected {
        return Err(GalleryError::corrupt(
            path,
            format!("file has {len} bytes, the manifest says {expected} (truncated or replaced)"),
        ));
    }
    Ok(())
}
