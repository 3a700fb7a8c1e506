//! The command-line contract: help, exit codes, JSON logs, quiet mode.

use crate::common::{assert_fails_with, assert_ok, bin, synth_into};

const SUBCOMMANDS: &[&str] = &[
    "synth",
    "inspect",
    "embed",
    "fit",
    "index",
    "identify",
    "dedup",
    "watchlist",
    "sql",
    "gallery",
    "bench",
    "demo",
];

#[test]
fn every_subcommand_has_help() {
    for name in SUBCOMMANDS {
        let out = bin().args([name, "--help"]).output().unwrap();
        assert!(out.status.success(), "{name} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: faceflash-batch"), "{name}: {text}");
        assert!(text.len() > 200, "{name} help too short: {text}");
    }
    let out = bin().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit codes"), "{text}");
    for name in SUBCOMMANDS {
        assert!(text.contains(name), "top-level help lists {name}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = bin()
        .args(["synth", "--n", "lots", "--out", "x"])
        .output()
        .unwrap();
    assert_fails_with(&out, 2, &["invalid value"]);
    let out = bin()
        .args(["synth", "--out", "x", "--per-identity", "0"])
        .output()
        .unwrap();
    assert_fails_with(&out, 2, &["--per-identity"]);
    let out = bin()
        .args(["--threads", "0", "synth", "--out", "x"])
        .output()
        .unwrap();
    assert_fails_with(&out, 2, &["--threads"]);
}

/// Built without a feature, its subcommands exit 2 and say so.
#[test]
#[cfg(any(not(feature = "sql"), not(feature = "vision")))]
fn subcommands_not_in_this_build_say_so() {
    let mut cases: Vec<&[&str]> = Vec::new();
    if cfg!(not(feature = "sql")) {
        cases.push(&["sql", "select 1"]);
    }
    if cfg!(not(feature = "vision")) {
        cases.push(&["embed", "photos", "-o", "faces.parquet"]);
    }
    for args in cases {
        let out = bin().args(args).output().unwrap();
        assert_fails_with(&out, 2, &["not yet available"]);
    }
}

#[test]
fn a_missing_gallery_is_named_once_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("nowhere");
    let out = bin()
        .args(["dedup", "--gallery"])
        .arg(&g)
        .args(["--threshold", "0.5", "-o", "p.parquet"])
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["nowhere: no such gallery"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("no such gallery").count(), 1, "{stderr}");
}

#[test]
fn json_logs_are_one_object_per_line_and_quiet_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "--log-format",
            "json",
            "synth",
            "--n",
            "50",
            "--queries",
            "5",
            "--dim",
            "8",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut events = 0;
    for line in stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{line}"
        );
        if v["event"] == "synth_done" {
            assert_eq!(v["rows"], 50);
            events += 1;
        }
    }
    assert_eq!(events, 1, "one synth_done event: {stderr}");

    let out = bin()
        .args([
            "-q",
            "synth",
            "--n",
            "50",
            "--queries",
            "5",
            "--dim",
            "8",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());

    let missing = dir.path().join("missing.parquet");
    let out = bin()
        .args(["--log-format", "json", "inspect"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let line = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("error is JSON");
    assert_eq!(v["exit_code"], 3);
    assert!(v["message"].as_str().unwrap().contains("missing.parquet"));
}

#[test]
fn outputs_are_atomic_no_temp_files_left() {
    let dir = tempfile::tempdir().unwrap();
    synth_into(dir.path(), &["--n", "100", "--queries", "10", "--dim", "8"]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["gallery.parquet", "queries.parquet"]);
}

#[test]
fn demo_prints_what_it_did_and_fits_a_quantizer() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["demo", "--n", "3000", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("same-identity cosine") && text.contains("gallery.parquet"),
        "{text}"
    );
    assert!(
        text.contains("quantizer.ffq") && text.contains("bit balance"),
        "{text}"
    );
    assert!(faceflash_batch::quant::file::load(&dir.path().join("quantizer.ffq")).is_ok());
    // Index and identify ran: a gallery that opens, matches for every query, and most
    // present queries matched to their identity at rank 1.
    let g = faceflash_batch::store::Gallery::open(&dir.path().join("gallery")).unwrap();
    assert_eq!(g.total_rows(), 3000);
    assert!(dir.path().join("matches.parquet").exists());
    let line = text
        .lines()
        .find(|l| l.contains("rank-1 identity correct"))
        .expect(&text);
    let share: f64 = line
        .rsplit('(')
        .next()
        .unwrap()
        .trim_end_matches("%)")
        .parse()
        .unwrap();
    assert!(share > 80.0, "{line}");
    // Running the demo again replaces its own outputs.
    let again = bin()
        .args(["-q", "demo", "--n", "3000", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ok(&again);
}

#[test]
fn bench_quant_reports_fit_and_encode_figures() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = bin()
        .args([
            "bench", "quant", "--n", "3000", "--dim", "32", "--bits", "64", "--repeat", "1",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["rows"], 3000);
    assert!(v["fit_median_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["encode_per_second_1_thread"].as_f64().unwrap() > 1000.0);
}

#[test]
fn a_killed_job_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("faceflash-batch"))
        .args([
            "-q",
            "synth",
            "--n",
            "3000000",
            "--queries",
            "10",
            "--dim",
            "512",
            "--out",
        ])
        .arg(dir.path())
        .spawn()
        .unwrap();
    // Wait until the temporary output has data in it, then SIGKILL.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let temp_bytes: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".gallery.parquet.")
            })
            .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
            .sum();
        if temp_bytes > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "synth never started writing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "synth ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dir.path().join("gallery.parquet").exists(),
        "a partial gallery.parquet is visible"
    );
    // Readers skip the hidden leftover; a rerun writes complete outputs.
    synth_into(dir.path(), &["--n", "100", "--queries", "10", "--dim", "8"]);
    let out = bin().arg("inspect").arg(dir.path()).output().unwrap();
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("110 rows in 2 file(s)"));
}

/// Runs `script` (sh, with `$1` the mount point) in a private mount namespace (`unshare -rm`:
/// no root needed) with a `size` tmpfs on `mnt`, so the disk really fills up.
fn on_small_disk(
    mnt: &std::path::Path,
    size: &str,
    script: &str,
    args: &[&str],
) -> (String, String) {
    std::fs::create_dir_all(mnt).unwrap();
    let full = format!("mount -t tmpfs -o size={size} tmpfs \"$1\" || exit 90\n{script}");
    let out = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", &full, "sh", mnt.to_str().unwrap()])
        .args(args)
        .output()
        .expect("unshare (util-linux) runs the disk-full test");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.code() != Some(90),
        "cannot mount a tmpfs in a user namespace here: {stderr}"
    );
    (stdout, stderr)
}

#[test]
fn a_full_disk_is_named_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    synth_into(
        dir.path(),
        &["--n", "200", "--queries", "5000", "--dim", "512"],
    );
    let bin_path = assert_cmd::cargo::cargo_bin("faceflash-batch");
    let mnt = dir.path().join("mnt");
    // On a 3 MiB disk: a 200-face gallery fits; appending 5,000 faces (10 MB of floats)
    // does not, and neither does a new gallery of them.
    let script = r#"
bin=$2; small=$3; big=$4
"$bin" -q index "$small" -o "$1/g" --bits 64 || exit 91
files() { ls -A "$1/g" | grep -vx '.lock' | sort | tr '\n' ' '; } # .lock: the writers' lock file
before=$(files "$1")
"$bin" -q index "$big" -o "$1/g" --append; echo "append=$?"
after=$(files "$1")
[ "$before" = "$after" ] && echo "files unchanged" || echo "files: $before -> $after"
"$bin" -q gallery verify "$1/g"; echo "verify=$?"
"$bin" gallery info --json "$1/g"
"$bin" -q index "$big" -o "$1/g2" --bits 64; echo "create=$?"
ls -A "$1"
"#;
    let small = dir.path().join("gallery.parquet");
    let big = dir.path().join("queries.parquet");
    let (stdout, stderr) = on_small_disk(
        &mnt,
        "3m",
        script,
        &[
            bin_path.to_str().unwrap(),
            small.to_str().unwrap(),
            big.to_str().unwrap(),
        ],
    );
    assert!(!stdout.contains("exit 91"), "{stdout}{stderr}");
    assert!(stdout.contains("append=1"), "{stdout}{stderr}");
    assert!(stdout.contains("create=1"), "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.matches("the disk is full").count(),
        2,
        "both failures say the disk is full: {stderr}"
    );
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stdout.contains("files unchanged"), "{stdout}");
    assert!(stdout.contains("verify=0"), "{stdout}{stderr}");
    assert!(
        stdout.contains("\"rows\": 200,"),
        "the gallery keeps its 200 faces: {stdout}"
    );
    // Only the first gallery is left on the disk: no staging directory, no partial shard.
    assert_eq!(stdout.lines().last(), Some("g"), "{stdout}");
}

#[test]
fn index_dry_run_counts_what_it_would_add_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    synth_into(
        dir.path(),
        &["--n", "200", "--queries", "10", "--dim", "16"],
    );
    let g = dir.path().join("g");
    let run = |args: &[&str]| bin().arg("index").args(args).output().unwrap();
    let gallery = dir.path().join("gallery.parquet");
    let queries = dir.path().join("queries.parquet");
    let (gs, qs, gd) = (
        gallery.to_str().unwrap(),
        queries.to_str().unwrap(),
        g.to_str().unwrap(),
    );
    let out = run(&[gs, "-o", gd, "--bits", "64", "--dry-run"]);
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("would create") && said.contains("with 200 face(s)"),
        "{said}"
    );
    assert!(!g.exists(), "a dry run creates no gallery");
    assert_ok(&run(&[gs, "-o", gd, "--bits", "64"]));
    let manifest = std::fs::read(g.join("manifest.json")).unwrap();
    let out = run(&[gs, qs, "-o", gd, "--append", "--dry-run"]);
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("would append 10 face(s)") && said.contains("200 already indexed"),
        "{said}"
    );
    assert_eq!(std::fs::read(g.join("manifest.json")).unwrap(), manifest);
}

#[test]
fn search_jobs_dry_run_say_what_they_would_do_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    synth_into(
        dir.path(),
        &["--n", "200", "--queries", "10", "--dim", "16"],
    );
    let g = dir.path().join("g");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (gallery, queries, gd) = (path("gallery.parquet"), path("queries.parquet"), path("g"));
    assert_ok(
        &bin()
            .args(["-q", "index", &gallery, "-o", &gd, "--bits", "64"])
            .output()
            .unwrap(),
    );
    let manifest = std::fs::read(g.join("manifest.json")).unwrap();
    let said = |args: &[&str]| {
        let out = bin().args(args).arg("--dry-run").output().unwrap();
        assert_ok(&out);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let m = path("m.parquet");
    let s = said(&[
        "identify",
        "--gallery",
        &gd,
        "--queries",
        &queries,
        "-o",
        &m,
        "-k",
        "3",
        "--candidates",
        "50",
    ]);
    assert!(
        s.contains("would identify 10 queries against 200 faces")
            && s.contains("k=3, 50 Hamming candidates"),
        "{s}"
    );
    let (p, c) = (path("p.parquet"), path("c.parquet"));
    let s = said(&[
        "dedup",
        "--gallery",
        &gd,
        "--threshold",
        "0.5",
        "--radius",
        "20",
        "-o",
        &p,
        "--clusters",
        &c,
    ]);
    assert!(
        s.contains("would self-join 200 faces")
            && s.contains("19900 code pairs")
            && s.contains("Hamming radius 20")
            && s.contains(&c),
        "{s}"
    );
    let h = path("h.parquet");
    let s = said(&[
        "watchlist",
        "--watchlist",
        &gd,
        "--stream",
        &queries,
        "--threshold",
        "0.5",
        "--radius",
        "20",
        "-o",
        &h,
    ]);
    assert!(
        s.contains("would match 10 stream faces against 200 watchlist faces"),
        "{s}"
    );
    for out in [&m, &p, &c, &h] {
        assert!(!std::path::Path::new(out).exists(), "a dry run wrote {out}");
    }
    assert_eq!(std::fs::read(g.join("manifest.json")).unwrap(), manifest);

    // The inputs are checked as the real run would: a query table of another dimension is
    // bad input (exit 3), named.
    synth_into(
        &dir.path().join("d8"),
        &["--n", "20", "--queries", "5", "--dim", "8"],
    );
    let wrong = path("d8/queries.parquet");
    let out = bin()
        .args([
            "identify",
            "--gallery",
            &gd,
            "--queries",
            &wrong,
            "-o",
            &m,
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["d8/queries.parquet", "dimension"]);
}
