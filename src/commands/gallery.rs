//! `faceflash-batch gallery info|verify|remove|compact`.

use std::path::Path;

use anyhow::{Context, Result};
use faceflash_batch::store::gallery;

use super::{Output, UsageError};
use crate::cli::{GalleryAction, GalleryArgs};

pub fn run(args: &GalleryArgs, out: &Output) -> Result<()> {
    match &args.action {
        GalleryAction::Info { gallery, json } => info(gallery, *json, out),
        GalleryAction::Verify { gallery } => verify(gallery, out),
        GalleryAction::Remove {
            gallery,
            face_id,
            identity,
            face_ids_from,
        } => remove(gallery, face_id, identity, face_ids_from.as_deref(), out),
        GalleryAction::Compact { gallery } => compact(gallery, out),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn info(dir: &Path, json: bool, out: &Output) -> Result<()> {
    let i = gallery::info(dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&i)?);
        return Ok(());
    }
    out.say(format!(
        "gallery {} (format {}, generation {}, written by faceflash-batch {})\n\
         created {}  updated {}\n\
         {}-d embeddings → {}-bit codes; float shards {}; quantizer sha256 {}…\n\
         {} shard(s), {} faces: {} live, {} tombstoned{}\n\
         on disk {}: codes {}, floats {}, metadata {}, other {}\n\
         resident for a scan {} (codes + tombstones; floats are read per candidate)\n\
         default rerank candidates at k=10: {}; opened in {:.1} ms{}",
        i.gallery.display(),
        i.format_version,
        i.generation,
        i.tool_version,
        i.created,
        i.updated,
        i.dim,
        i.bits,
        i.floats,
        &i.quantizer_sha256[..16.min(i.quantizer_sha256.len())],
        i.shards,
        i.rows,
        i.live_rows,
        i.tombstoned_rows,
        if i.tombstoned_rows > 0 {
            " (`gallery compact` erases them)"
        } else {
            ""
        },
        mib(i.disk_bytes),
        mib(i.code_bytes),
        mib(i.float_bytes),
        mib(i.meta_bytes),
        mib(i.other_bytes),
        mib(i.resident_bytes),
        i.default_candidates,
        i.open_ms,
        i.resident_after_open.map_or(String::new(), |r| format!(
            "; this process then held {} resident ({} mapped files, {} heap)",
            mib(r.total),
            mib(r.file),
            mib(r.anon)
        ))
    ));
    Ok(())
}

fn verify(dir: &Path, out: &Output) -> Result<()> {
    let r = gallery::verify(dir)?;
    for f in &r.unreferenced {
        tracing::warn!(file = f.as_str(), "file not referenced by the manifest (left by an interrupted job; the next writer removes it)");
    }
    tracing::info!(
        event = "verify_done",
        files = r.files_checked,
        bytes = r.bytes_checked,
        "gallery verified"
    );
    out.say(format!(
        "{}: ok, {} files ({}) match their checksums{}",
        r.gallery.display(),
        r.files_checked,
        mib(r.bytes_checked),
        if r.unreferenced.is_empty() {
            String::new()
        } else {
            format!(
                "; {} unreferenced file(s) left by interrupted jobs",
                r.unreferenced.len()
            )
        }
    ));
    Ok(())
}

fn remove(
    dir: &Path,
    face_ids: &[String],
    identities: &[String],
    from: Option<&Path>,
    out: &Output,
) -> Result<()> {
    let mut ids = face_ids.to_vec();
    if let Some(path) = from {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        ids.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    if ids.is_empty() && identities.is_empty() {
        return Err(UsageError(
            "gallery remove needs --face-id, --identity or --face-ids-from".into(),
        )
        .into());
    }
    let r = gallery::remove(dir, &ids, identities)?;
    for nf in &r.not_found {
        tracing::warn!(selector = nf.as_str(), "matches no face in the gallery");
    }
    tracing::info!(
        event = "remove_done",
        removed = r.removed,
        already_removed = r.already_removed,
        not_found = r.not_found.len(),
        tombstoned = r.tombstoned_rows,
        generation = r.generation,
        "faces tombstoned"
    );
    out.say(format!(
        "{}: tombstoned {} face(s) ({} already removed, {} selector(s) matched nothing); {} tombstoned in all, erased by `gallery compact`",
        r.gallery.display(),
        r.removed,
        r.already_removed,
        r.not_found.len(),
        r.tombstoned_rows
    ));
    Ok(())
}

fn compact(dir: &Path, out: &Output) -> Result<()> {
    let r = gallery::compact(dir)?;
    tracing::info!(
        event = "compact_done",
        erased = r.erased,
        shards_rewritten = r.shards_rewritten,
        shards_dropped = r.shards_dropped,
        rows = r.rows,
        generation = r.generation,
        "gallery compacted"
    );
    out.say(format!(
        "{}: erased {} face(s); {} shard(s) rewritten, {} dropped; {} faces remain",
        r.gallery.display(),
        r.erased,
        r.shards_rewritten,
        r.shards_dropped,
        r.rows
    ));
    Ok(())
}
