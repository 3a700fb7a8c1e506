//! The pipeline scripts end to end (bash, the built binary, real photos and models): a rerun
//! with nothing new does no work and changes no output, a run killed mid-step is finished
//! by the next, a second concurrent run is refused by the lock.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{assert_ok, bin, read_table, strings, synth_into};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A config for `nightly-archive-dedup.sh` over `archive`, with a quantizer fitted on
/// synthetic 128-d faces (the first run of a real archive fits one on its own ≥ 100 faces).
fn nightly_config(dir: &Path, archive: &Path) -> PathBuf {
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
    let config = dir.join("nightly.env");
    std::fs::write(
        &config,
        format!(
            "ARCHIVE={}\nWORK={}\nTHRESHOLD=0.5\nMIN_FACES=1\nINDEX_FLAGS=\"--quantizer {}\"\nDEDUP_FLAGS=\"--radius 256\"\nFACEFLASH={}\n",
            archive.display(),
            dir.join("work").display(),
            q.display(),
            assert_cmd::cargo::cargo_bin("faceflash-batch").display()
        ),
    )
    .unwrap();
    config
}

fn run_pipeline(script: &str, config: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(root().join("pipelines").join(script))
        .arg(config)
        .current_dir(root())
        .output()
        .unwrap()
}

fn archive(dir: &Path, photos: &[&str]) -> PathBuf {
    let archive = dir.join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    for name in photos {
        std::fs::copy(
            root().join("tests/data/photos").join(name),
            archive.join(name),
        )
        .unwrap();
    }
    archive
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
