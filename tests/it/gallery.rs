//! The gallery store end to end: index, append, remove, compact, info, verify; corruption,
//! SIGKILL at random moments, and the writers' lock.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, Float32Array, StringArray};
use faceflash_batch::store::gallery::{read_ids, GalleryLock, MANIFEST};
use faceflash_batch::store::Gallery;

use crate::common::{
    arg, assert_fails_with, assert_ok, bin, embedding_column, read_vectors, run_ok, synth_into,
    vectors, write_parquet,
};

/// A faces table with extra columns (`path`, `det_score`) to carry through.
fn faces_with_extras(path: &Path, rows: usize, dim: usize, seed: u64, prefix: &str) {
    let v = vectors(rows, dim, seed);
    let flat: Vec<f32> = v.into_iter().flatten().collect();
    let emb = embedding_column(flat, dim);
    let ids = StringArray::from_iter_values((0..rows).map(|i| format!("{prefix}{i:06}")));
    let identity =
        StringArray::from_iter((0..rows).map(|i| (i % 7 != 0).then(|| format!("person{}", i / 3))));
    let photo =
        StringArray::from_iter_values((0..rows).map(|i| format!("photos/{prefix}/{i}.jpg")));
    let score = Float32Array::from_iter_values((0..rows).map(|i| 0.5 + (i % 50) as f32 / 100.0));
    write_parquet(
        path,
        vec![
            ("face_id", Arc::new(ids) as ArrayRef),
            ("identity", Arc::new(identity)),
            ("embedding", emb),
            ("path", Arc::new(photo)),
            ("det_score", Arc::new(score)),
        ],
        700,
    );
}

fn index(args: &[&str]) -> std::process::Output {
    bin().arg("-q").arg("index").args(args).output().unwrap()
}

fn file_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// What a gallery stores of one face: identity, code, float row.
type StoredFace = (Option<String>, Vec<u64>, Vec<f32>);

/// face_id → what is stored, for every live row.
fn live_rows(g: &Gallery) -> HashMap<String, StoredFace> {
    let mut out = HashMap::new();
    for shard in g.shards() {
        let (ids, identities) = read_ids(&shard.meta_path).unwrap();
        assert_eq!(ids.len(), shard.rows());
        for r in 0..shard.rows() {
            if !shard.is_live(r) {
                continue;
            }
            let mut code = vec![0u64; g.bits() / 64];
            shard.codes.code(r, &mut code);
            let mut v = vec![0f32; g.dim()];
            shard.floats.vector(r, &mut v);
            let identity = identities
                .is_valid(r)
                .then(|| identities.value(r).to_string());
            assert!(out
                .insert(ids.value(r).to_string(), (identity, code, v))
                .is_none());
        }
    }
    out
}

#[test]
fn index_round_trips_codes_floats_and_metadata_in_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let faces = dir.path().join("faces.parquet");
    faces_with_extras(&faces, 2500, 48, 1, "a");
    let q = dir.path().join("q.ffq");
    run_ok(&["fit", arg(&faces), "--bits", "128", "-o", arg(&q)]);
    let (expected, dim) = read_vectors(&faces);
    let quantizer = faceflash_batch::quant::file::load(&q).unwrap();
    let codes = quantizer.encode(&expected).unwrap();
    for floats in ["f32", "f16"] {
        let g_dir = dir.path().join(format!("g-{floats}"));
        assert_ok(&index(&[
            arg(&faces),
            "-o",
            arg(&g_dir),
            "--quantizer",
            arg(&q),
            "--shard-rows",
            "1000",
            "--floats",
            floats,
        ]));
        let g = Gallery::open(&g_dir).unwrap();
        assert_eq!(g.shards().len(), 3);
        assert_eq!(
            g.shards().iter().map(|s| s.rows()).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert_eq!((g.total_rows(), g.dim(), g.bits()), (2500, dim, 128));
        assert_eq!(g.quantizer().hash(), quantizer.hash());
        let mut code = [0u64; 2];
        let mut v = vec![0f32; dim];
        for (global, (shard, row)) in (0..2500u64).map(|i| (i, g.locate(i).unwrap())) {
            let sh = &g.shards()[shard];
            assert_eq!(sh.first_row + row as u64, global);
            sh.codes.code(row, &mut code);
            assert_eq!(
                &code[..],
                &codes[global as usize * 2..global as usize * 2 + 2],
                "code of row {global}"
            );
            sh.floats.vector(row, &mut v);
            let want = &expected[global as usize * dim..(global as usize + 1) * dim];
            let tol = if floats == "f16" { 1e-3 } else { 0.0 };
            assert!(
                v.iter().zip(want).all(|(a, b)| (a - b).abs() <= tol),
                "floats of row {global}"
            );
        }
        assert!(g.locate(2500).is_none());
        // Metadata carries every other input column, row-aligned with the codes.
        let meta = &g.shards()[1].meta_path;
        let mut batches = Vec::new();
        faceflash_batch::store::gallery::read_meta_batches(meta, None, |b| {
            batches.push(b);
            Ok(())
        })
        .unwrap();
        let schema = batches[0].schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["face_id", "identity", "path", "det_score"]);
        let first = &batches[0];
        let ids = first
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let paths = first
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(ids.value(0), "a001000");
        assert_eq!(paths.value(0), "photos/a/1000.jpg");
        run_ok(&["gallery", "verify", arg(&g_dir)]);
    }
    let f32_bytes = std::fs::metadata(dir.path().join("g-f32/floats-00000.bin"))
        .unwrap()
        .len();
    let f16_bytes = std::fs::metadata(dir.path().join("g-f16/floats-00000.bin"))
        .unwrap()
        .len();
    assert_eq!(f32_bytes - 64, 2 * (f16_bytes - 64));
}

#[test]
fn index_without_quantizer_fits_one_and_info_reports_counts() {
    let dir = tempfile::tempdir().unwrap();
    synth_into(
        dir.path(),
        &["--n", "3000", "--queries", "10", "--dim", "64"],
    );
    let g_dir = dir.path().join("g");
    assert_ok(&index(&[
        arg(&dir.path().join("gallery.parquet")),
        "-o",
        arg(&g_dir),
        "--bits",
        "64",
    ]));
    let out = bin()
        .args(["gallery", "info", "--json", arg(&g_dir)])
        .output()
        .unwrap();
    assert_ok(&out);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["rows"], 3000);
    assert_eq!(info["live_rows"], 3000);
    assert_eq!(info["bits"], 64);
    assert_eq!(info["dim"], 64);
    // 3000 rows of 64 bits, padded to blocks of 8 rows.
    assert_eq!(info["resident_bytes"], 3000 * 8);
    assert_eq!(info["code_bytes"], 3000 * 8 + 64);
    assert_eq!(info["float_bytes"], 3000 * 64 * 4 + 64);
    let text = bin()
        .args(["gallery", "info", arg(&g_dir)])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("3000 faces: 3000 live, 0 tombstoned"));
}

#[test]
fn appending_the_same_faces_again_adds_nothing_and_never_revives_removed_faces() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    faces_with_extras(&a, 1500, 32, 2, "a");
    let g_dir = dir.path().join("g");
    assert_ok(&index(&[arg(&a), "-o", arg(&g_dir), "--bits", "64"]));
    let before = file_bytes(&g_dir);
    let again = bin()
        .args(["index", arg(&a), "-o", arg(&g_dir), "--append"])
        .output()
        .unwrap();
    assert_ok(&again);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("+0 faces (1500 already indexed, skipped)"),
        "{said}"
    );
    // Every file but the lock (which holds the last writer's pid) is untouched.
    let mut after = file_bytes(&g_dir);
    let mut before = before;
    after.remove(".lock");
    before.remove(".lock");
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty() && after.len() == before.len(),
        "a rerun of the same append changed {changed:?}"
    );
    // An erased face stays erased when its photo's faces are appended again.
    assert_ok(
        &bin()
            .args([
                "-q",
                "gallery",
                "remove",
                arg(&g_dir),
                "--face-id",
                "a000007",
            ])
            .output()
            .unwrap(),
    );
    assert_ok(&index(&[arg(&a), "-o", arg(&g_dir), "--append"]));
    let g = Gallery::open(&g_dir).unwrap();
    assert_eq!(g.total_rows(), 1500);
    assert!(!live_rows(&g).contains_key("a000007"));
}

#[test]
fn append_adds_shards_and_keeps_old_files_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    faces_with_extras(&a, 1500, 32, 2, "a");
    faces_with_extras(&b, 1200, 32, 3, "b");
    let g_dir = dir.path().join("g");
    assert_ok(&index(&[
        arg(&a),
        "-o",
        arg(&g_dir),
        "--bits",
        "64",
        "--shard-rows",
        "1000",
    ]));
    let before = file_bytes(&g_dir);
    assert_ok(&index(&[
        arg(&b),
        "-o",
        arg(&g_dir),
        "--append",
        "--shard-rows",
        "1000",
    ]));
    let after = file_bytes(&g_dir);
    for (name, bytes) in &before {
        if name != MANIFEST {
            assert_eq!(after.get(name), Some(bytes), "{name} changed on append");
        }
    }
    for name in [
        "codes-00002.bin",
        "codes-00003.bin",
        "floats-00003.bin",
        "meta-00003.parquet",
    ] {
        assert!(after.contains_key(name), "{name} missing after append");
    }
    let g = Gallery::open(&g_dir).unwrap();
    assert_eq!(g.total_rows(), 2700);
    assert_eq!(g.manifest().generation, 2);
    // The appended rows are encoded with the gallery's quantizer.
    let (vb, _) = read_vectors(&b);
    let codes = g.quantizer().encode(&vb).unwrap();
    let rows = live_rows(&g);
    assert_eq!(rows["b000005"].1, codes[5..6].to_vec());
    // --append on a missing gallery creates it (cron-friendly first run).
    let fresh = dir.path().join("fresh");
    assert_ok(&index(&[
        arg(&b),
        "-o",
        arg(&fresh),
        "--append",
        "--bits",
        "64",
    ]));
    assert_eq!(Gallery::open(&fresh).unwrap().total_rows(), 1200);
}

#[test]
fn wrong_targets_and_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    faces_with_extras(&a, 300, 16, 4, "a");
    let g_dir = dir.path().join("g");
    assert_ok(&index(&[arg(&a), "-o", arg(&g_dir), "--bits", "64"]));
    assert_fails_with(
        &index(&[arg(&a), "-o", arg(&g_dir)]),
        2,
        &["already a gallery", "--append"],
    );
    assert_fails_with(
        &index(&[arg(&a), "-o", arg(&g_dir), "--append", "--floats", "f16"]),
        2,
        &["--floats f16 differs", "f32"],
    );
    let other_q = dir.path().join("other.ffq");
    run_ok(&[
        "fit",
        arg(&a),
        "--bits",
        "64",
        "--seed",
        "9",
        "-o",
        arg(&other_q),
    ]);
    assert_fails_with(
        &index(&[
            arg(&a),
            "-o",
            arg(&g_dir),
            "--append",
            "--quantizer",
            arg(&other_q),
        ]),
        2,
        &["is not the gallery's quantizer"],
    );
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    assert_fails_with(
        &index(&[arg(&a), "-o", arg(&busy), "--bits", "64"]),
        2,
        &["not an empty directory"],
    );
    assert_eq!(
        std::fs::read_dir(&busy).unwrap().count(),
        1,
        "the user's directory was touched"
    );
    // An empty directory is fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_ok(&index(&[arg(&a), "-o", arg(&empty), "--bits", "64"]));
    // Appending faces of another dimension names the file.
    let wide = dir.path().join("wide.parquet");
    faces_with_extras(&wide, 50, 24, 5, "w");
    assert_fails_with(
        &index(&[arg(&wide), "-o", arg(&g_dir), "--append"]),
        3,
        &["wide.parquet", "dimension 24", "expects 16"],
    );
    assert_eq!(
        Gallery::open(&g_dir).unwrap().total_rows(),
        300,
        "a failed append changed the gallery"
    );
    assert_fails_with(
        &bin()
            .args(["gallery", "info", arg(&dir.path().join("nothing"))])
            .output()
            .unwrap(),
        3,
        &["nothing: no such gallery"],
    );
    assert_fails_with(
        &bin()
            .args(["gallery", "info", arg(&busy)])
            .output()
            .unwrap(),
        3,
        &["not a gallery"],
    );
}

#[test]
fn remove_tombstones_faces_and_compact_erases_them_physically() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    faces_with_extras(&a, 3000, 32, 6, "a");
    let g_dir = dir.path().join("g");
    assert_ok(&index(&[
        arg(&a),
        "-o",
        arg(&g_dir),
        "--bits",
        "128",
        "--shard-rows",
        "1000",
    ]));
    let before = live_rows(&Gallery::open(&g_dir).unwrap());
    let untouched = std::fs::read(g_dir.join("codes-00002.bin")).unwrap();

    // person10 is rows 30..33 (row 35 has no identity: i % 7 == 0); plus two ids.
    let removed_ids: Vec<String> = before
        .iter()
        .filter(|(id, (ident, _, _))| {
            ident.as_deref() == Some("person10") || *id == "a000500" || *id == "a001999"
        })
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(removed_ids.len(), 5, "{removed_ids:?}");
    let out = bin()
        .args([
            "gallery",
            "remove",
            arg(&g_dir),
            "--identity",
            "person10",
            "--face-id",
            "a000500",
            "--face-id",
            "a001999",
            "--face-id",
            "ghost",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("tombstoned 5 face(s)"), "{said}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ghost"));
    // Removing again is idempotent.
    let again = bin()
        .args([
            "-q",
            "gallery",
            "remove",
            arg(&g_dir),
            "--face-id",
            "a000500",
        ])
        .output()
        .unwrap();
    assert_ok(&again);

    let g = Gallery::open(&g_dir).unwrap();
    assert_eq!((g.total_rows(), g.live_rows()), (3000, 2995));
    let live = live_rows(&g);
    assert_eq!(live.len(), 2995);
    for id in &removed_ids {
        assert!(!live.contains_key(id), "{id} still live after remove");
    }
    drop(g);

    let erased_float: Vec<u8> = before["a000500"]
        .2
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    run_ok(&["gallery", "compact", arg(&g_dir)]);
    let g = Gallery::open(&g_dir).unwrap();
    assert_eq!((g.total_rows(), g.live_rows()), (2995, 2995));
    assert!(g.manifest().tombstones.is_none());
    let after = live_rows(&g);
    assert_eq!(after.len(), 2995);
    for (id, row) in &after {
        assert_eq!(before.get(id), Some(row), "{id} changed by compact");
    }
    // The shard without removed faces was kept as it was; the others were rewritten.
    assert_eq!(
        std::fs::read(g_dir.join("codes-00002.bin")).unwrap(),
        untouched
    );
    assert!(!g_dir.join("codes-00000.bin").exists() && !g_dir.join("codes-00001.bin").exists());
    // Physically erased: no file of the gallery holds the removed face's embedding or id.
    for (name, bytes) in file_bytes(&g_dir) {
        assert!(
            !bytes
                .windows(erased_float.len())
                .any(|w| w == erased_float.as_slice()),
            "{name} still holds the embedding of a000500"
        );
        assert!(
            !bytes.windows(7).any(|w| w == b"a000500"),
            "{name} still holds the id a000500"
        );
    }
    run_ok(&["gallery", "verify", arg(&g_dir)]);
    // Removing every face of a shard drops it at compaction.
    let ids: Vec<String> = (2000..3000).map(|i| format!("a{i:06}")).collect();
    let list = dir.path().join("ids.txt");
    std::fs::write(&list, ids.join("\n")).unwrap();
    run_ok(&[
        "gallery",
        "remove",
        arg(&g_dir),
        "--face-ids-from",
        arg(&list),
    ]);
    run_ok(&["gallery", "compact", arg(&g_dir)]);
    let g = Gallery::open(&g_dir).unwrap();
    assert_eq!((g.shards().len(), g.total_rows()), (2, 1995));
    assert_fails_with(
        &bin()
            .args(["gallery", "remove", arg(&g_dir)])
            .output()
            .unwrap(),
        2,
        &["--face-id"],
    );
}

/// Builds a two-shard gallery for the corruption tests.
fn small_gallery(dir: &Path) -> PathBuf {
    let a = dir.join("a.parquet");
    faces_with_extras(&a, 600, 16, 7, "a");
    let g = dir.join("base");
    assert_ok(&index(&[
        arg(&a),
        "-o",
        arg(&g),
        "--bits",
        "64",
        "--shard-rows",
        "400",
    ]));
    run_ok(&["gallery", "remove", arg(&g), "--face-id", "a000001"]);
    g
}

#[test]
fn every_corruption_gives_a_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = small_gallery(dir.path());
    type Damage = fn(&Path);
    let cases: Vec<(&str, Damage, &[&str], &[&str])> = vec![
        // (name, damage, needles for `info` (open), needles for `verify`)
        (
            "flipped code byte",
            |g| flip(&g.join("codes-00001.bin"), 100),
            &["codes-00001.bin", "checksum"],
            &["codes-00001.bin", "checksum"],
        ),
        (
            "flipped float byte",
            |g| flip(&g.join("floats-00000.bin"), 500),
            &[],
            &["floats-00000.bin", "checksum"],
        ),
        (
            "flipped meta byte",
            |g| flip(&g.join("meta-00001.parquet"), 40),
            &[],
            &["meta-00001.parquet"],
        ),
        (
            "flipped header byte",
            |g| flip(&g.join("codes-00000.bin"), 13),
            &["codes-00000.bin"],
            &["codes-00000.bin"],
        ),
        (
            "truncated code shard",
            |g| truncate(&g.join("codes-00000.bin"), 100),
            &["codes-00000.bin", "bytes"],
            &["codes-00000.bin"],
        ),
        (
            "truncated float shard",
            |g| truncate(&g.join("floats-00001.bin"), 4),
            &["floats-00001.bin"],
            &["floats-00001.bin"],
        ),
        (
            "missing float shard",
            |g| std::fs::remove_file(g.join("floats-00001.bin")).unwrap(),
            &["floats-00001.bin", "missing"],
            &["floats-00001.bin", "missing"],
        ),
        (
            "missing meta shard",
            |g| std::fs::remove_file(g.join("meta-00000.parquet")).unwrap(),
            &["meta-00000.parquet", "missing"],
            &["meta-00000.parquet", "missing"],
        ),
        (
            "missing quantizer",
            |g| std::fs::remove_file(g.join("quantizer.ffq")).unwrap(),
            &["quantizer.ffq"],
            &["quantizer.ffq"],
        ),
        (
            "flipped tombstones",
            |g| flip(&tombstones_of(g), 30),
            &["tombstones-"],
            &["tombstones-"],
        ),
        (
            "wrong manifest version",
            |g| edit_manifest(g, |m| m["format_version"] = 99.into()),
            &["manifest.json", "version 99"],
            &["manifest.json", "version 99"],
        ),
        (
            "manifest not JSON",
            |g| std::fs::write(g.join(MANIFEST), b"{ not json").unwrap(),
            &["manifest.json", "JSON"],
            &["manifest.json"],
        ),
        (
            "manifest/shard row mismatch",
            |g| edit_manifest(g, |m| m["shards"][1]["rows"] = 201.into()),
            &["codes-00001.bin", "manifest says 201"],
            &["codes-00001.bin"],
        ),
        (
            "manifest/shard checksum mismatch",
            |g| {
                edit_manifest(g, |m| {
                    m["shards"][0]["floats"]["xxh3"] = "0000000000000000".into()
                })
            },
            &["floats-00000.bin", "manifest"],
            &["floats-00000.bin"],
        ),
        (
            "swapped shards",
            |g| {
                let (a, b) = (g.join("codes-00000.bin"), g.join("codes-00001.bin"));
                let tmp = g.join("x");
                std::fs::rename(&a, &tmp).unwrap();
                std::fs::rename(&b, &a).unwrap();
                std::fs::rename(&tmp, &b).unwrap();
            },
            &["codes-00000.bin"],
            &["codes-00000.bin"],
        ),
    ];
    for (i, (name, damage, info_needles, verify_needles)) in cases.into_iter().enumerate() {
        let g = dir.path().join(format!("case{i}"));
        copy_dir(&base, &g);
        damage(&g);
        let verify = bin().args(["gallery", "verify", arg(&g)]).output().unwrap();
        assert_fails_with(&verify, 3, verify_needles);
        let info = bin().args(["gallery", "info", arg(&g)]).output().unwrap();
        if info_needles.is_empty() {
            assert_ok(&info); // opening does not read floats or metadata: only verify sees it
        } else {
            assert_fails_with(&info, 3, info_needles);
        }
        eprintln!("ok: {name}");
    }
}

fn flip(path: &Path, offset: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[offset] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

fn truncate(path: &Path, by: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - by).unwrap();
}

fn tombstones_of(g: &Path) -> PathBuf {
    std::fs::read_dir(g)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tombstones-")
        })
        .expect("tombstones file")
}

fn edit_manifest(g: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(g.join(MANIFEST)).unwrap()).unwrap();
    f(&mut m);
    std::fs::write(g.join(MANIFEST), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

#[test]
fn a_second_writer_fails_fast_and_readers_are_not_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let base = small_gallery(dir.path());
    let lock = GalleryLock::acquire(&base).unwrap();
    let pid = std::process::id().to_string();
    let start = Instant::now();
    for args in [
        vec!["gallery", "remove", arg(&base), "--face-id", "a000002"],
        vec!["gallery", "compact", arg(&base)],
        vec![
            "index",
            arg(&dir.path().join("a.parquet")),
            "-o",
            arg(&base),
            "--append",
        ],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_fails_with(&out, 1, &["locked by pid", &pid]);
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "writers waited for the lock"
    );
    // Readers do not take the lock.
    run_ok(&["gallery", "verify", arg(&base)]);
    run_ok(&["gallery", "info", arg(&base)]);
    drop(lock);
    run_ok(&["gallery", "remove", arg(&base), "--face-id", "a000002"]);
}

/// Rows of the gallery at `g` after checking it completely, or `None` if there is none.
fn verified_rows(g: &Path) -> Option<u64> {
    if !g.join(MANIFEST).exists() {
        return None;
    }
    let out = bin()
        .args(["-q", "gallery", "verify", arg(g)])
        .output()
        .unwrap();
    assert_ok(&out);
    Some(Gallery::open(g).unwrap().total_rows())
}

/// Spawns the CLI with `args`, SIGKILLs it after `delay` (if still running); true if killed.
fn run_and_kill(args: &[&str], delay: Duration) -> bool {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("faceflash-batch"))
        .arg("-q")
        .args(args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// Delays spread over `0..1.2 × full` with seeded jitter: kills land before, during and after
/// each phase (staging, shard files, manifest, cleanup).
fn kill_delays(full: Duration, n: usize, seed: u64) -> Vec<Duration> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let jitter = (state >> 40) as f64 / (1u64 << 24) as f64;
            full.mul_f64(1.2 * (i as f64 + jitter) / n as f64)
        })
        .collect()
}

#[test]
fn sigkill_at_random_moments_leaves_the_old_or_the_new_gallery() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    faces_with_extras(&a, 2000, 64, 8, "a");
    faces_with_extras(&b, 40_000, 64, 9, "b");
    let q = dir.path().join("q.ffq");
    run_ok(&["fit", arg(&a), "--bits", "128", "-o", arg(&q)]);
    let base = dir.path().join("base");
    assert_ok(&index(&[
        arg(&a),
        "-o",
        arg(&base),
        "--quantizer",
        arg(&q),
        "--shard-rows",
        "1500",
    ]));

    // Append: time one full run, then kill runs at moments spread over it.
    let timed = dir.path().join("timed");
    copy_dir(&base, &timed);
    let start = Instant::now();
    assert_ok(&index(&[
        arg(&b),
        "-o",
        arg(&timed),
        "--append",
        "--shard-rows",
        "7000",
    ]));
    let full = start.elapsed();
    let mut outcomes = BTreeMap::new();
    for (i, delay) in kill_delays(full, 8, 42).into_iter().enumerate() {
        let g = dir.path().join(format!("append{i}"));
        copy_dir(&base, &g);
        let killed = run_and_kill(
            &[
                "index",
                arg(&b),
                "-o",
                arg(&g),
                "--append",
                "--shard-rows",
                "7000",
            ],
            delay,
        );
        let rows = verified_rows(&g).expect("gallery still opens");
        assert!(
            rows == 2000 || rows == 42_000,
            "append killed after {delay:?}: {rows} rows"
        );
        *outcomes.entry((killed, rows)).or_insert(0) += 1;
        // The next writer cleans up what the killed one left, and succeeds.
        assert_ok(&index(&[
            arg(&b),
            "-o",
            arg(&g),
            "--append",
            "--shard-rows",
            "7000",
        ]));
        let report = faceflash_batch::store::gallery::verify(&g).unwrap();
        assert!(
            report.unreferenced.is_empty(),
            "left over: {:?}",
            report.unreferenced
        );
        // The rerun finishes a killed append and adds nothing after a finished one (face ids
        // already indexed are skipped).
        assert_eq!(verified_rows(&g), Some(42_000));
    }
    eprintln!("append outcomes (killed, rows) → runs: {outcomes:?} (full run {full:?})");
    assert!(
        outcomes
            .keys()
            .any(|(killed, rows)| *killed && *rows == 2000),
        "no kill landed mid-write"
    );

    // Create: a killed first run leaves no gallery, or a complete one.
    let start = Instant::now();
    assert_ok(&index(&[
        arg(&b),
        "-o",
        arg(&dir.path().join("created")),
        "--quantizer",
        arg(&q),
    ]));
    let full = start.elapsed();
    for (i, delay) in kill_delays(full, 5, 7).into_iter().enumerate() {
        let g = dir.path().join(format!("create{i}"));
        run_and_kill(
            &["index", arg(&b), "-o", arg(&g), "--quantizer", arg(&q)],
            delay,
        );
        match verified_rows(&g) {
            None => {
                assert!(!g.exists(), "a half-made gallery directory is visible");
                // The rerun sweeps the staging directory the killed run left, and succeeds.
                assert_ok(&index(&[arg(&b), "-o", arg(&g), "--quantizer", arg(&q)]));
                assert_eq!(verified_rows(&g), Some(40_000));
            }
            Some(rows) => assert_eq!(rows, 40_000),
        }
    }
    let staging: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".staging-"))
        .collect();
    assert!(staging.is_empty(), "stale staging left: {staging:?}");

    // Compact: kill while it rewrites; the gallery holds the tombstoned or the compacted state.
    let ids: Vec<String> = (0..40_000).step_by(3).map(|i| format!("b{i:06}")).collect();
    let list = dir.path().join("ids.txt");
    std::fs::write(&list, ids.join("\n")).unwrap();
    let compact_base = dir.path().join("append0");
    run_ok(&[
        "gallery",
        "remove",
        arg(&compact_base),
        "--face-ids-from",
        arg(&list),
    ]);
    let total = Gallery::open(&compact_base).unwrap().total_rows();
    let timed = dir.path().join("ctimed");
    copy_dir(&compact_base, &timed);
    let start = Instant::now();
    run_ok(&["gallery", "compact", arg(&timed)]);
    let full = start.elapsed();
    for (i, delay) in kill_delays(full, 6, 3).into_iter().enumerate() {
        let g = dir.path().join(format!("compact{i}"));
        copy_dir(&compact_base, &g);
        run_and_kill(&["gallery", "compact", arg(&g)], delay);
        let rows = verified_rows(&g).expect("gallery still opens");
        let live = Gallery::open(&g).unwrap().live_rows();
        assert!(
            rows == total || rows == total - ids.len() as u64,
            "compact killed after {delay:?}: {rows} rows"
        );
        assert_eq!(live, total - ids.len() as u64, "removed faces came back");
    }
}

#[test]
fn carried_columns_follow_the_first_file_with_nulls_casts_and_clear_errors() {
    use arrow::array::{Int32Array, Int64Array};
    let dir = tempfile::tempdir().unwrap();
    let emb = |rows: usize, seed: u64| -> ArrayRef {
        embedding_column(vectors(rows, 8, seed).into_iter().flatten().collect(), 8)
    };
    let ids = |p: &str, n: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("{p}{i}")),
        ))
    };
    let a = dir.path().join("a.parquet");
    write_parquet(
        &a,
        vec![
            ("face_id", ids("a", 200)),
            ("embedding", emb(200, 1)),
            (
                "path",
                Arc::new(StringArray::from_iter_values(
                    (0..200).map(|i| format!("p{i}.jpg")),
                )),
            ),
            ("score", Arc::new(Int64Array::from_iter_values(0..200))),
        ],
        100,
    );
    // b: no `path`, `score` as Int32 (cast to Int64), an extra `note` (dropped).
    let b = dir.path().join("b.parquet");
    write_parquet(
        &b,
        vec![
            ("face_id", ids("b", 50)),
            ("embedding", emb(50, 2)),
            ("score", Arc::new(Int32Array::from_iter_values(1000..1050))),
            (
                "note",
                Arc::new(StringArray::from_iter_values((0..50).map(|_| "x"))),
            ),
        ],
        100,
    );
    let q = dir.path().join("q.ffq");
    run_ok(&["fit", arg(&a), "--bits", "64", "-o", arg(&q)]);
    let g_dir = dir.path().join("g");
    let out = bin()
        .args([
            "index",
            arg(&a),
            arg(&b),
            "-o",
            arg(&g_dir),
            "--quantizer",
            arg(&q),
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("note"),
        "no warning about the dropped column"
    );
    let g = Gallery::open(&g_dir).unwrap();
    let mut batches = Vec::new();
    faceflash_batch::store::gallery::read_meta_batches(&g.shards()[0].meta_path, None, |batch| {
        batches.push(batch);
        Ok(())
    })
    .unwrap();
    let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let names: Vec<String> = all
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["face_id", "identity", "path", "score"]);
    let path = all
        .column(2)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let score = all.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!((path.value(5), score.value(5)), ("p5.jpg", 5));
    assert!(
        path.is_null(200) && path.is_null(249),
        "missing column not null-filled"
    );
    assert_eq!(
        score.value(249),
        1049,
        "Int32 not cast to the first file's Int64"
    );
    // A column whose type cannot be cast to the first file's fails, naming file and column.
    let c = dir.path().join("c.parquet");
    let bad_path: ArrayRef = Arc::new(Float32Array::from_iter_values((0..10).map(|i| i as f32)));
    let nested = arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int32Type, _, _>(
        (0..10).map(|i| Some(vec![Some(i)])),
    );
    write_parquet(
        &c,
        vec![
            ("face_id", ids("c", 10)),
            ("embedding", emb(10, 3)),
            ("path", bad_path),
            ("score", Arc::new(nested)),
        ],
        10,
    );
    let out = bin()
        .args(["index", arg(&c), "-o", arg(&g_dir), "--append"])
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["c.parquet", "score"]);
    assert_eq!(Gallery::open(&g_dir).unwrap().total_rows(), 250);
}
