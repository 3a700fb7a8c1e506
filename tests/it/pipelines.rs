//! The pipeline scripts end to end (bash, the built binary, real photos and models): a rerun
//! with nothing new does no work and changes no output, a run killed mid-step is finished
//! by the next, a second concurrent run is refused by the lock.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{assert_ok, bin, read_table, strings, synth_into};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A quantizer fitted on synthetic 128-d faces (the first run of a real archive fits one on
/// its own ≥ 100 faces): `dir/q.ffq`.
fn synth_quantizer(dir: &Path) -> PathBuf {
    synth_into(
        &dir.join("synth"),
        &["--n", "2000", "--queries", "10", "--dim", "128"],
    );
    let q = dir.join("q.ffq");
    assert_ok(
        &bin()
            .args(["-q", "fit"])
            .arg(dir.join("synth/gallery.parquet"))
            .arg("-o")
            .arg(&q)
            .output()
            .unwrap(),
    );
    q
}

/// A config for `nightly-archive-dedup.sh` over `archive`, with a synthetic quantizer.
fn nightly_config(dir: &Path, archive: &Path) -> PathBuf {
    let q = synth_quantizer(dir);
    write_config(
        &dir.join("nightly.env"),
        &[("ARCHIVE", archive), ("WORK", &dir.join("work"))],
        &format!(
            "THRESHOLD=0.5\nMIN_FACES=1\nINDEX_FLAGS=\"--quantizer {}\"\nDEDUP_FLAGS=\"--radius 256\"\n",
            q.display()
        ),
    )
}

fn run_pipeline(script: &str, config: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(root().join("pipelines").join(script))
        .arg(config)
        .current_dir(root())
        .output()
        .unwrap()
}

/// `folder` (created) holding copies of the test `photos`.
fn photos_in(folder: &Path, photos: &[&str]) -> PathBuf {
    std::fs::create_dir_all(folder).unwrap();
    for name in photos {
        std::fs::copy(
            root().join("tests/data/photos").join(name),
            folder.join(name),
        )
        .unwrap();
    }
    folder.to_path_buf()
}

fn archive(dir: &Path, photos: &[&str]) -> PathBuf {
    photos_in(&dir.join("archive"), photos)
}

/// Writes a pipeline config (`KEY=VALUE` lines) at `path`, running the built binary.
fn write_config(path: &Path, entries: &[(&str, &Path)], extra: &str) -> PathBuf {
    let mut text: String = entries
        .iter()
        .map(|(k, v)| format!("{k}={}\n", v.display()))
        .collect();
    text.push_str(extra);
    text.push_str(&format!(
        "FACEFLASH={}\n",
        assert_cmd::cargo::cargo_bin("faceflash-batch").display()
    ));
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn outputs(work: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "faces.parquet",
        "pairs.parquet",
        "clusters.parquet",
        "summary.json",
        "gallery/manifest.json",
    ]
    .iter()
    .map(|f| {
        (
            f.to_string(),
            std::fs::read(work.join(f)).unwrap_or_else(|_| panic!("{f} written")),
        )
    })
    .collect()
}

#[test]
fn nightly_dedup_reruns_do_nothing_new_and_new_photos_are_added() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path(), &["obama.jpg", "obama2.jpg", "biden.jpg"]);
    let config = nightly_config(dir.path(), &archive);
    let work = dir.path().join("work");
    let first = run_pipeline("nightly-archive-dedup.sh", &config);
    assert_ok(&first);
    let before = outputs(&work);
    let summary = std::fs::read_to_string(work.join("last-run.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(v["status"], "ok");
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["embed", "index", "dedup", "summary"]);
    assert_eq!(v["steps"][0]["result"]["event"], "embed_done");
    let run_dir = work.join("runs").join(v["run_id"].as_str().unwrap());
    assert!(run_dir.join("_SUCCESS").is_file());
    // The two Obama photos are one cluster.
    let (clusters, _) = read_table(&work.join("clusters.parquet"));
    assert_eq!(
        clusters.num_rows(),
        2,
        "{:?}",
        strings(&clusters, "face_id")
    );

    // Nothing new: every output byte-identical, dedup skipped.
    let second = run_pipeline("nightly-archive-dedup.sh", &config);
    assert_ok(&second);
    assert_eq!(outputs(&work), before, "a rerun changed an output");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("last-run.json")).unwrap())
            .unwrap();
    assert!(
        v["steps"][2]["skipped"]
            .as_str()
            .unwrap()
            .contains("already deduplicated"),
        "{v}"
    );

    // A new photo: embedded, indexed, deduplicated; the third Obama joins the cluster.
    std::fs::copy(
        root().join("tests/data/photos/obama3.jpg"),
        archive.join("obama3.jpg"),
    )
    .unwrap();
    // A dry run says what would be embedded and changes nothing.
    let last_run = std::fs::read(work.join("last-run.json")).unwrap();
    let runs = std::fs::read_dir(work.join("runs")).unwrap().count();
    let dry = Command::new("bash")
        .arg(root().join("pipelines/nightly-archive-dedup.sh"))
        .arg(&config)
        .env("DRY_RUN", "1")
        .current_dir(root())
        .output()
        .unwrap();
    assert_ok(&dry);
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(
        said.contains("embed: dry run: would embed 1 image(s)")
            && said.contains("3 already done")
            && said.contains("index: dry run: would append 0 face(s)"),
        "{said}"
    );
    assert_eq!(outputs(&work), before, "a dry run changed an output");
    assert_eq!(std::fs::read(work.join("last-run.json")).unwrap(), last_run);
    assert_eq!(std::fs::read_dir(work.join("runs")).unwrap().count(), runs);
    assert_ok(&run_pipeline("nightly-archive-dedup.sh", &config));
    let (clusters, _) = read_table(&work.join("clusters.parquet"));
    assert_eq!(clusters.num_rows(), 3);
    let (faces, _) = read_table(&work.join("faces.parquet"));
    assert_eq!(faces.num_rows(), 4);
}

#[test]
fn a_second_run_is_refused_by_the_lock_and_a_killed_run_is_finished_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path(), &["obama.jpg", "obama2.jpg", "t1.jpg"]);
    let config = nightly_config(dir.path(), &archive);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // Hold the lock (flock(2), as the scripts take it) as a running pipeline would.
    let lock = std::fs::File::create(work.join(".pipeline.lock")).unwrap();
    lock.lock().unwrap();
    let refused = run_pipeline("nightly-archive-dedup.sh", &config);
    assert_eq!(
        refused.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("another run holds"));
    lock.unlock().unwrap();
    drop(lock);

    // Kill a run while it embeds, then rerun: it finishes, and equals an uninterrupted run.
    let mut child = Command::new("bash")
        .arg(root().join("pipelines/nightly-archive-dedup.sh"))
        .arg(&config)
        .current_dir(root())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let _ = Command::new("pkill")
        .args(["-KILL", "-P", &child.id().to_string()])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    assert_ok(&run_pipeline("nightly-archive-dedup.sh", &config));
    let (faces, _) = read_table(&work.join("faces.parquet"));
    assert_eq!(
        faces.num_rows(),
        8,
        "obama, obama2 and the six people of t1"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("last-run.json")).unwrap())
            .unwrap();
    assert_eq!(v["status"], "ok");
    assert!(work.join("clusters.parquet").is_file());
}

/// A gallery of `photos` (embedded with the bundled models, indexed with a quantizer fitted
/// on synthetic 128-d faces), as a watchlist or an identification gallery.
fn photo_gallery(dir: &Path, photos: &[&str]) -> PathBuf {
    let enrolled = photos_in(&dir.join("enrolled"), photos);
    let q = synth_quantizer(dir);
    let faces = dir.join("enrolled.parquet");
    assert_ok(
        &bin()
            .current_dir(root())
            .args(["-q", "embed"])
            .arg(&enrolled)
            .arg("-o")
            .arg(&faces)
            .output()
            .unwrap(),
    );
    let gallery = dir.join("gallery");
    assert_ok(
        &bin()
            .args(["-q", "index"])
            .arg(&faces)
            .arg("-o")
            .arg(&gallery)
            .arg("--quantizer")
            .arg(&q)
            .output()
            .unwrap(),
    );
    gallery
}

/// The face ids of the rows of a faces table whose path ends with `suffix`.
fn face_ids_of(faces: &arrow::array::RecordBatch, suffix: &str) -> Vec<String> {
    strings(faces, "path")
        .into_iter()
        .zip(strings(faces, "face_id"))
        .filter(|(p, _)| p.as_deref().is_some_and(|p| p.ends_with(suffix)))
        .filter_map(|(_, id)| id)
        .collect()
}

/// Every file of `work` but the run records (`runs/`, `last-run.json`), with its bytes.
fn work_files(work: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read(&p).unwrap())
        })
        .filter(|(name, _)| name != "last-run.json" && name != ".pipeline.lock")
        .collect();
    files.sort();
    files
}

/// The names of the steps of the last run that ran (not skipped).
fn steps_run(work: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("last-run.json")).unwrap())
            .unwrap();
    assert_eq!(v["status"], "ok", "{v}");
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("skipped").is_none())
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn watchlist_scan_hits_the_watched_person_and_a_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let watchlist = photo_gallery(dir.path(), &["obama.jpg", "biden.jpg"]);
    let stream = photos_in(
        &dir.path().join("stream/2026-12-04"),
        &["obama2.jpg", "t1.jpg"],
    );
    let work = dir.path().join("watch");
    let config = write_config(
        &dir.path().join("watch.env"),
        &[
            ("STREAM", stream.parent().unwrap()),
            ("WATCHLIST", &watchlist),
            ("WORK", &work),
        ],
        "THRESHOLD=0.5\nK=3\n",
    );
    assert_ok(&run_pipeline("watchlist-scan.sh", &config));
    assert_eq!(steps_run(&work), ["embed", "watchlist", "per_day"]);
    let (hits, _) = read_table(&work.join("hits.parquet"));
    let (stream_faces, _) = read_table(&work.join("stream.parquet"));
    let obama2 = face_ids_of(&stream_faces, "/obama2.jpg");
    assert_eq!(obama2.len(), 1);
    let hit_faces = strings(&hits, "face_id");
    assert!(
        hit_faces.contains(&Some(obama2[0].clone())),
        "obama2 hits: {hit_faces:?}"
    );
    let per_day = std::fs::read_to_string(work.join("hits-per-day.csv")).unwrap();
    assert!(per_day.contains("2026-12-04"), "{per_day}");
    let before = work_files(&work);

    // Nothing new: no step but embed's check runs, every output byte-identical.
    assert_ok(&run_pipeline("watchlist-scan.sh", &config));
    assert_eq!(steps_run(&work), ["embed"]);
    assert_eq!(work_files(&work), before, "a rerun changed an output");
}

#[test]
fn batch_identify_finds_the_person_and_a_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = photo_gallery(dir.path(), &["obama.jpg", "biden.jpg", "t1.jpg"]);
    let queries = photos_in(&dir.path().join("queries"), &["obama2.jpg", "obama3.jpg"]);
    let work = dir.path().join("identify");
    let config = write_config(
        &dir.path().join("identify.env"),
        &[
            ("QUERIES", &queries),
            ("GALLERY", &gallery),
            ("WORK", &work),
        ],
        "K=3\nMIN_COSINE=0.4\nEMBED_FLAGS=--largest\n",
    );
    assert_ok(&run_pipeline("batch-identify.sh", &config));
    assert_eq!(steps_run(&work), ["embed", "identify", "top_matches"]);
    let (matches, _) = read_table(&work.join("matches.parquet"));
    assert_eq!(matches.num_rows(), 2 * 3, "two queries, three matches each");
    // Both Obama queries find the enrolled Obama photo first (identity = folder "enrolled").
    let top = std::fs::read_to_string(work.join("top-matches.csv")).unwrap();
    let rank1: Vec<&str> = top.lines().filter(|l| l.contains(",1,")).collect();
    assert_eq!(rank1.len(), 2, "{top}");
    let (enrolled, _) = read_table(&dir.path().join("enrolled.parquet"));
    let obama_id = face_ids_of(&enrolled, "/obama.jpg");
    assert!(
        rank1.iter().all(|l| l.contains(&obama_id[0])),
        "{top}\nobama: {obama_id:?}"
    );
    let before = work_files(&work);

    assert_ok(&run_pipeline("batch-identify.sh", &config));
    assert_eq!(steps_run(&work), ["embed"]);
    assert_eq!(work_files(&work), before, "a rerun changed an output");
}
