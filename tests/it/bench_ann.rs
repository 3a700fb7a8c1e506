//! `bench ann`: prepared datasets (synth, labelled Parquet, .npy), exact ground truth, and our
//! side's report, end to end through the CLI.

use std::collections::HashSet;
use std::path::Path;

use faceflash_batch::bench::ann::truth::read_truth;

use crate::common::{arg, assert_fails_with, assert_ok, bin, read_vectors, write_faces_table};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("JSON")
}

fn identities(path: &Path) -> Vec<String> {
    faceflash_batch::bench::ann::data::read_identities(path).expect("identities")
}

#[test]
fn synth_run_writes_a_complete_report_against_a_correct_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (work, out) = (dir.path().join("work"), dir.path().join("results"));
    let run = |extra: &[&str]| {
        bin()
            .args(["bench", "ann", "--scales", "3k", "--queries", "200"])
            .args([
                "--fit-rows",
                "2000",
                "--dim",
                "64",
                "--latency-queries",
                "20",
            ])
            .args(["--repeat", "1", "--impostor-pairs", "20000"])
            .args(["--work", arg(&work), "--out", arg(&out)])
            .args(extra)
            .output()
            .expect("run bench ann")
    };
    let first = run(&[]);
    assert_ok(&first);
    let data = work.join("synth-3k");
    let r = json(&out.join("synth-3k/faceflash-batch.json"));

    // The ground truth is the exact cosine top-10.
    let (gallery, dim) = read_vectors(&data.join("gallery.parquet"));
    let (queries, _) = read_vectors(&data.join("queries.parquet"));
    let truth = read_truth(&data.join("truth.parquet"), 200).unwrap();
    for q in [0usize, 57, 199] {
        let qv = &queries[q * dim..(q + 1) * dim];
        let mut best: Vec<(f32, u32)> = gallery
            .chunks_exact(dim)
            .enumerate()
            .map(|(r, g)| (qv.iter().zip(g).map(|(a, b)| a * b).sum(), r as u32))
            .collect();
        best.sort_by(|a, b| b.0.total_cmp(&a.0));
        assert_eq!(truth[q].len(), 10);
        for (t, b) in truth[q].iter().zip(&best) {
            assert!((t.0 - b.0).abs() < 1e-5, "query {q}: {t:?} vs {b:?}");
        }
    }
    // Fit identities appear in neither the gallery nor the queries.
    let fit: HashSet<String> = identities(&data.join("fit.parquet")).into_iter().collect();
    let gallery_ids: HashSet<String> = identities(&data.join("gallery.parquet"))
        .into_iter()
        .collect();
    let query_ids = identities(&data.join("queries.parquet"));
    assert_eq!(fit.len(), 2000, "synth: one fit row per identity");
    assert!(fit.is_disjoint(&gallery_ids));
    assert!(query_ids.iter().all(|q| !fit.contains(q)));
    let enrolled = query_ids
        .iter()
        .filter(|q| gallery_ids.contains(*q))
        .count();

    assert_eq!(r["dataset"]["gallery_rows"], 3000);
    assert_eq!(r["dataset"]["enrolled_queries"], enrolled);
    let points = r["points"].as_array().unwrap();
    assert!(points.len() >= 3, "several operating points");
    let default: Vec<_> = points.iter().filter(|p| p["default"] == true).collect();
    assert_eq!(default.len(), 1);
    let p = default[0];
    assert!(p["recall_at_1"].as_f64().unwrap() >= 0.9, "{p}");
    let r10 = p["recall_at_10"].as_f64().unwrap();
    assert!(r10 > 0.5 && r10 <= 1.0, "{p}");
    let lat = &p["latency_ms"];
    let (p50, p95, p99) = (
        lat["p50"].as_f64().unwrap(),
        lat["p95"].as_f64().unwrap(),
        lat["p99"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p95 && p95 <= p99, "{lat}");
    assert!(p["qps"].as_f64().unwrap() > 0.0);
    assert_eq!(p["runs"], 1, "--repeat 1");
    let mem = &r["memory"];
    assert!(mem["resident_bytes"].as_u64().unwrap() > 1 << 20);
    assert!(mem["peak_bytes"].as_u64().unwrap() >= mem["resident_bytes"].as_u64().unwrap());
    let id = &r["identification"];
    assert_eq!(id["probes"], enrolled);
    assert!(id["rank1_exact"].as_f64().unwrap() > 0.5);
    let v = &r["verification"];
    assert_eq!(
        v["genuine_pairs"], enrolled,
        "one gallery image per identity"
    );
    assert!(v["impostor_pairs"].as_u64().unwrap() >= 19_000);
    for side in ["exact", "quantized"] {
        for t in v[side].as_array().unwrap() {
            assert!(t["far"].as_f64().unwrap() <= t["far_target"].as_f64().unwrap());
            let tar = t["tar"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&tar));
        }
    }
    // The codes for FAISS's scan on our codes: 64 bytes a row.
    let codes = std::fs::metadata(data.join("gallery_codes.u8"))
        .unwrap()
        .len();
    assert_eq!(codes, 3000 * 64);

    // A second run with the same parameters reuses the prepared dataset.
    let before = std::fs::metadata(data.join("truth.parquet"))
        .unwrap()
        .modified()
        .unwrap();
    assert_ok(&run(&["--prepare-only"]));
    let after = std::fs::metadata(data.join("truth.parquet"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "dataset reused, not rebuilt");
}

/// 300 identities × 4 images of 32-d vectors clustered by identity.
fn labelled(rows_per_identity: usize) -> (Vec<String>, Vec<Option<String>>, Vec<f32>, Vec<i64>) {
    let vectors = crate::common::vectors(300 + 300 * rows_per_identity, 32, 5);
    let (mut ids, mut identity, mut flat, mut labels) = (vec![], vec![], vec![], vec![]);
    for id in 0..300 {
        for j in 0..rows_per_identity {
            let noise = &vectors[300 + id * rows_per_identity + j];
            flat.extend(vectors[id].iter().zip(noise).map(|(c, n)| c + 0.3 * n));
            ids.push(format!("face{}", ids.len()));
            identity.push(Some(format!("id{id}")));
            labels.push(id as i64);
        }
    }
    (ids, identity, flat, labels)
}

#[test]
fn labelled_parquet_and_npy_sets_split_alike_and_bad_sets_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, identity, flat, labels) = labelled(4);
    let parquet = dir.path().join("faces.parquet");
    write_faces_table(&parquet, ids, identity.clone(), flat.clone(), 32, 500);
    let npy = dir.path().join("emb.npy");
    let labels_path = dir.path().join("labels.npy");
    ndarray_npy::write_npy(
        &npy,
        &ndarray::Array2::from_shape_vec((1200, 32), flat).unwrap(),
    )
    .unwrap();
    ndarray_npy::write_npy(&labels_path, &ndarray::Array1::from(labels.clone())).unwrap();
    let work = dir.path().join("work");
    let prepare = |data: &Path, extra: &[&str]| {
        bin()
            .args(["-q", "bench", "ann", "--data", arg(data), "--scales", "600"])
            .args(["--queries", "100", "--fit-rows", "200", "--prepare-only"])
            .args(["--work", arg(&work)])
            .args(extra)
            .output()
            .expect("run bench ann")
    };
    assert_ok(&prepare(&parquet, &[]));
    assert_ok(&prepare(&npy, &["--labels", arg(&labels_path)]));
    for name in ["faces-600", "emb-600"] {
        let d = work.join(name);
        let info = json(&d.join("dataset.json"));
        assert_eq!(info["gallery_rows"], 600);
        assert_eq!(info["queries"], 100);
        assert_eq!(info["fit_rows"], 200);
        assert_eq!(info["enrolled_queries"], 90, "10% never enrolled");
        let fit: HashSet<String> = identities(&d.join("fit.parquet")).into_iter().collect();
        let gallery: Vec<String> = identities(&d.join("gallery.parquet"));
        assert_eq!(fit.len(), 50, "whole identities of 4 images");
        assert!(gallery.iter().all(|g| !fit.contains(g)));
        // The first images of every enrolled identity come first: 600 rows over 240
        // enrolled identities start with 240 distinct identities.
        let first: HashSet<&String> = gallery[..240].iter().collect();
        assert_eq!(first.len(), 240);
    }
    // The two inputs hold the same rows: the same split gives the same tables.
    let (a, _) = read_vectors(&work.join("faces-600/gallery.parquet"));
    let (b, _) = read_vectors(&work.join("emb-600/gallery.parquet"));
    assert_eq!(a, b);

    // An .npy matrix without labels is a usage error; mismatched labels name the file.
    assert_fails_with(&prepare(&npy, &[]), 2, &["--labels"]);
    let short = dir.path().join("short.npy");
    ndarray_npy::write_npy(&short, &ndarray::Array1::from(labels[..10].to_vec())).unwrap();
    assert_fails_with(
        &prepare(&npy, &["--labels", arg(&short)]),
        3,
        &["emb.npy", "1200 embeddings but 10 labels"],
    );
    // A row without identity is named; too large a scale says so.
    let (ids, mut identity, flat, _) = labelled(4);
    identity[7] = None;
    let holes = dir.path().join("holes.parquet");
    write_faces_table(&holes, ids, identity, flat, 32, 500);
    assert_fails_with(
        &prepare(&holes, &[]),
        3,
        &["holes.parquet", "row 7", "identity"],
    );
    assert_fails_with(
        &bin()
            .args([
                "-q",
                "bench",
                "ann",
                "--data",
                arg(&parquet),
                "--scales",
                "5000",
            ])
            .args(["--queries", "100", "--fit-rows", "200", "--prepare-only"])
            .args(["--work", arg(&work)])
            .output()
            .unwrap(),
        3,
        &["faces.parquet", "scale 5000 is too large"],
    );
}
