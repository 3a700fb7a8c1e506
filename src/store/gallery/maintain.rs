//! Gallery maintenance: `info`, `verify`, `remove` (tombstones) and `compact` (physical
//! erasure).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::Array;
use serde::Serialize;

use super::codes::CodeShardWriter;
use super::floats::FloatShardWriter;
use super::lock::{GalleryLock, LOCK_FILE};
use super::manifest::{shard_file, Manifest, ShardEntry};
use super::meta::{check_whole_file, filter_rows, for_each_batch, read_ids, schema_of, MetaWriter};
use super::tombstones::{self, RowBitmap};
use super::writer::finish_shard;
use super::{load_quantizer, open_codes, open_floats, Gallery, GalleryError};
use crate::progress::Progress;

/// Deletes files that look like gallery files but that the manifest does not list: shards of
/// a killed writer, older tombstones, temporary files. Runs under the writers' lock.
pub(super) fn remove_orphans(dir: &Path, manifest: &Manifest) {
    let listed: BTreeSet<String> = manifest.files().into_iter().collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if listed.contains(&name) || name == LOCK_FILE {
            continue;
        }
        if is_gallery_file_name(&name) {
            tracing::info!(file = %entry.path().display(), "removing a file no manifest refers to (left by an interrupted job)");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn is_gallery_file_name(name: &str) -> bool {
    let ours = [
        "codes-",
        "floats-",
        "meta-",
        "tombstones-",
        "manifest.json",
        "quantizer.ffq",
    ];
    let temp = name.starts_with('.') && name.ends_with(".tmp");
    let base = if temp { &name[1..] } else { name };
    ours.iter().any(|p| base.starts_with(p))
        && (temp || name.ends_with(".bin") || name.ends_with(".parquet"))
}

/// Unreferenced gallery-like files (reported by `verify`).
fn orphans(dir: &Path, manifest: &Manifest) -> Vec<String> {
    let listed: BTreeSet<String> = manifest.files().into_iter().collect();
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !listed.contains(n) && is_gallery_file_name(n))
        .collect();
    v.sort();
    v
}

/// What `gallery info` reports.
#[derive(Debug, Clone, Serialize)]
pub struct GalleryInfo {
    pub gallery: PathBuf,
    pub format_version: u32,
    pub generation: u64,
    pub created: String,
    pub updated: String,
    pub tool_version: String,
    pub dim: usize,
    pub bits: usize,
    pub floats: String,
    pub quantizer_sha256: String,
    pub shards: usize,
    pub rows: u64,
    pub live_rows: u64,
    pub tombstoned_rows: u64,
    pub code_bytes: u64,
    pub float_bytes: u64,
    pub meta_bytes: u64,
    pub other_bytes: u64,
    pub disk_bytes: u64,
    /// Memory a scan keeps resident (codes and tombstone bitmaps).
    pub resident_bytes: u64,
    /// Default candidates reranked per query at k = 10 (from the quantizer's calibration).
    pub default_candidates: usize,
    /// Time to open the gallery (manifest, quantizer, mapping and checking every code shard).
    pub open_ms: f64,
    /// This process's resident memory right after opening (Linux only).
    pub resident_after_open: Option<crate::bench::memory::Resident>,
}

/// Opens the gallery and describes it.
pub fn info(dir: &Path) -> Result<GalleryInfo, GalleryError> {
    let start = Instant::now();
    let g = Gallery::open(dir)?;
    let open_ms = start.elapsed().as_secs_f64() * 1e3;
    let resident_after_open = crate::bench::memory::resident();
    let m = g.manifest();
    let sum = |f: fn(&ShardEntry) -> u64| m.shards.iter().map(f).sum::<u64>();
    let code_bytes = sum(|s| s.codes.bytes);
    let float_bytes = sum(|s| s.floats.bytes);
    let meta_bytes = sum(|s| s.meta.bytes);
    let other_bytes = m.quantizer.bytes
        + m.tombstones.as_ref().map_or(0, |t| t.file.bytes)
        + std::fs::metadata(dir.join(super::MANIFEST)).map_or(0, |md| md.len());
    Ok(GalleryInfo {
        gallery: dir.to_path_buf(),
        format_version: m.format_version,
        generation: m.generation,
        created: m.created.clone(),
        updated: m.updated.clone(),
        tool_version: m.tool_version.clone(),
        dim: m.dim,
        bits: m.bits,
        floats: m.floats.name().into(),
        quantizer_sha256: m.quantizer.sha256.clone(),
        shards: m.shards.len(),
        rows: m.total_rows(),
        live_rows: m.live_rows(),
        tombstoned_rows: m.total_rows() - m.live_rows(),
        code_bytes,
        float_bytes,
        meta_bytes,
        other_bytes,
        disk_bytes: code_bytes + float_bytes + meta_bytes + other_bytes,
        resident_bytes: g.resident_bytes(),
        default_candidates: g
            .quantizer()
            .calibration
            .candidates_for(m.live_rows() as usize, 10),
        open_ms,
        resident_after_open,
    })
}

/// What `gallery verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub gallery: PathBuf,
    pub files_checked: usize,
    pub bytes_checked: u64,
    /// Gallery-like files no manifest refers to (left by interrupted jobs; the next writer
    /// removes them).
    pub unreferenced: Vec<String>,
}

/// Re-checksums every file the manifest lists; the first bad one is the error.
pub fn verify(dir: &Path) -> Result<VerifyReport, GalleryError> {
    let m = Manifest::read(dir)?;
    let total: u64 = m
        .shards
        .iter()
        .map(|s| s.codes.bytes + s.floats.bytes + s.meta.bytes)
        .sum();
    let progress = Progress::new("verify", "bytes", Some(total));
    let mut files = 1;
    let mut bytes = 0;
    load_quantizer(dir, &m)?;
    files += 1;
    tombstones::load(dir, &m)?;
    files += usize::from(m.tombstones.is_some());
    for s in &m.shards {
        drop(open_codes(dir, &m, s)?);
        progress.inc(s.codes.bytes);
        open_floats(dir, &m, s)?.check_payload()?;
        progress.inc(s.floats.bytes);
        let path = dir.join(&s.meta.file);
        check_whole_file(&path, &s.meta)?;
        let (ids, _) = read_ids(&path)?;
        if ids.len() as u64 != s.rows {
            return Err(GalleryError::corrupt(
                &path,
                format!("holds {} rows, the manifest says {}", ids.len(), s.rows),
            ));
        }
        progress.inc(s.meta.bytes);
        files += 3;
        bytes += s.codes.bytes + s.floats.bytes + s.meta.bytes;
    }
    progress.finish();
    Ok(VerifyReport {
        gallery: dir.to_path_buf(),
        files_checked: files,
        bytes_checked: bytes,
        unreferenced: orphans(dir, &m),
    })
}

/// What `gallery remove` did.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveSummary {
    pub gallery: PathBuf,
    /// Faces tombstoned by this call.
    pub removed: u64,
    /// Matching faces that were already tombstoned.
    pub already_removed: u64,
    /// Requested face ids and identities that match no face.
    pub not_found: Vec<String>,
    /// Tombstoned faces in the gallery now (until `compact`).
    pub tombstoned_rows: u64,
    pub generation: u64,
}

/// Tombstones every face whose `face_id` is in `face_ids` or whose `identity` is in
/// `identities`: searches never return them again; `compact` erases them.
pub fn remove(
    dir: &Path,
    face_ids: &[String],
    identities: &[String],
) -> Result<RemoveSummary, GalleryError> {
    let _lock = GalleryLock::acquire(dir)?;
    let mut m = Manifest::read(dir)?;
    remove_orphans(dir, &m);
    let mut tomb = tombstones::load(dir, &m)?;
    let ids: HashSet<&str> = face_ids.iter().map(String::as_str).collect();
    let names: HashSet<&str> = identities.iter().map(String::as_str).collect();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut seen_names: HashSet<String> = HashSet::new();
    let (mut removed, mut already) = (0u64, 0u64);
    for s in &m.shards {
        let (fid, ident) = read_ids(&dir.join(&s.meta.file))?;
        for r in 0..fid.len() {
            let by_id = ids.contains(fid.value(r));
            let by_name = ident.is_valid(r) && names.contains(ident.value(r));
            if !(by_id || by_name) {
                continue;
            }
            if by_id {
                seen_ids.insert(fid.value(r).to_string());
            }
            if by_name {
                seen_names.insert(ident.value(r).to_string());
            }
            let set = tomb
                .entry(s.id)
                .or_insert_with(|| RowBitmap::new(s.rows as usize));
            if set.insert(r) {
                removed += 1;
            } else {
                already += 1;
            }
        }
    }
    let mut not_found: Vec<String> = face_ids
        .iter()
        .filter(|i| !seen_ids.contains(*i))
        .map(|i| format!("face_id {i}"))
        .collect();
    not_found.extend(
        identities
            .iter()
            .filter(|i| !seen_names.contains(*i))
            .map(|i| format!("identity {i}")),
    );
    if removed > 0 {
        let old = m.tombstones.take();
        m.generation += 1;
        m.tombstones = tombstones::write(dir, m.generation, &tomb)?;
        m.updated = chrono::Utc::now().to_rfc3339();
        m.write(dir)?;
        if let Some(old) = old {
            let _ = std::fs::remove_file(dir.join(&old.file.file));
        }
    }
    Ok(RemoveSummary {
        gallery: dir.to_path_buf(),
        removed,
        already_removed: already,
        not_found,
        tombstoned_rows: m.total_rows() - m.live_rows(),
        generation: m.generation,
    })
}

/// What `gallery compact` did.
#[derive(Debug, Clone, Serialize)]
pub struct CompactSummary {
    pub gallery: PathBuf,
    /// Faces physically erased.
    pub erased: u64,
    pub shards_rewritten: usize,
    pub shards_dropped: usize,
    pub rows: u64,
    pub generation: u64,
}

/// Rewrites every shard holding tombstoned rows without them (codes and floats are copied
/// verbatim, never re-encoded), switches the manifest, then deletes the old files.
pub fn compact(dir: &Path) -> Result<CompactSummary, GalleryError> {
    let _lock = GalleryLock::acquire(dir)?;
    let mut m = Manifest::read(dir)?;
    remove_orphans(dir, &m);
    let tomb = tombstones::load(dir, &m)?;
    let erased: u64 = tomb.values().map(|t| t.len() as u64).sum();
    let mut summary = CompactSummary {
        gallery: dir.to_path_buf(),
        erased,
        shards_rewritten: 0,
        shards_dropped: 0,
        rows: m.total_rows(),
        generation: m.generation,
    };
    if erased == 0 {
        return Ok(summary);
    }
    let rewrite_rows: u64 = m
        .shards
        .iter()
        .filter(|s| tomb.contains_key(&s.id))
        .map(|s| s.rows)
        .sum();
    let progress = Progress::new("compact", "rows", Some(rewrite_rows));
    let mut shards = Vec::with_capacity(m.shards.len());
    let mut obsolete: Vec<String> = Vec::new();
    for s in std::mem::take(&mut m.shards) {
        let Some(dead) = tomb.get(&s.id) else {
            shards.push(s);
            continue;
        };
        obsolete.extend([
            s.codes.file.clone(),
            s.floats.file.clone(),
            s.meta.file.clone(),
        ]);
        if dead.len() as u64 == s.rows {
            summary.shards_dropped += 1;
            progress.inc(s.rows);
            continue;
        }
        let id = m.next_shard;
        m.next_shard += 1;
        shards.push(rewrite_shard(dir, &m, &s, dead, id, &progress)?);
        summary.shards_rewritten += 1;
    }
    progress.finish();
    m.shards = shards;
    let old_tomb = m.tombstones.take();
    m.generation += 1;
    m.updated = chrono::Utc::now().to_rfc3339();
    m.write(dir)?;
    for f in obsolete.iter().chain(old_tomb.iter().map(|t| &t.file.file)) {
        if let Err(e) = std::fs::remove_file(dir.join(f)) {
            tracing::warn!(file = %dir.join(f).display(), error = %e, "cannot delete an obsolete file");
        }
    }
    summary.rows = m.total_rows();
    summary.generation = m.generation;
    Ok(summary)
}

fn rewrite_shard(
    dir: &Path,
    m: &Manifest,
    s: &ShardEntry,
    dead: &RowBitmap,
    id: u32,
    progress: &Progress,
) -> Result<ShardEntry, GalleryError> {
    // Never carry damage forward: check what we copy.
    let codes = open_codes(dir, m, s)?;
    let floats = open_floats(dir, m, s)?;
    floats.check_payload()?;
    let meta_path = dir.join(&s.meta.file);

    let mut code_out = CodeShardWriter::create(&dir.join(shard_file("codes", id)), m.bits)?;
    let mut float_out =
        FloatShardWriter::create(&dir.join(shard_file("floats", id)), m.dim, m.floats)?;
    let mut meta_out =
        MetaWriter::create(&dir.join(shard_file("meta", id)), schema_of(&meta_path)?)?;
    let mut code = vec![0u64; m.bits / 64];
    let mut kept = 0u64;
    for row in 0..s.rows as usize {
        if dead.contains(row) {
            continue;
        }
        codes.code(row, &mut code);
        code_out.push(&code)?;
        float_out.push_raw(floats.row_bytes(row))?;
        kept += 1;
    }
    let mut offset = 0usize;
    for_each_batch(&meta_path, None, |batch| {
        let keep: Vec<bool> = (0..batch.num_rows())
            .map(|r| !dead.contains(offset + r))
            .collect();
        offset += batch.num_rows();
        meta_out.write(&filter_rows(&batch, &keep, &meta_path)?)?;
        progress.inc(batch.num_rows() as u64);
        Ok(())
    })?;
    if offset as u64 != s.rows {
        return Err(GalleryError::corrupt(
            &meta_path,
            format!("holds {offset} rows, the manifest says {}", s.rows),
        ));
    }
    finish_shard(id, kept, code_out, float_out, meta_out)
}
