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
