//! identify and the scan engine end to end: exactness against brute force, kernel and thread
//! invariance, edge galleries, bad queries, and removed faces never coming back.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use faceflash_batch::scan::{dot, hamming, kernels, rerank, scan_batch};
use faceflash_batch::store::Gallery;

use crate::common::{
    arg, assert_fails_with, bin, column_names, embedding_column, floats, read_table, read_vectors,
    run_ok, strings, u32s, vectors, write_parquet,
};

/// A faces table of `rows` clustered vectors: identity `p{i / 3}`.
fn faces(path: &Path, rows: usize, dim: usize, seed: u64, prefix: &str) {
    let centres = vectors(rows / 3 + 1, dim, seed);
    let noise = vectors(rows, dim, seed + 1000);
    let flat: Vec<f32> = (0..rows)
        .flat_map(|i| {
            let c = &centres[i / 3];
            let n = &noise[i];
            (0..dim).map(move |d| c[d] + 0.6 * n[d]).collect::<Vec<_>>()
        })
        .collect();
    let emb = embedding_column(flat, dim);
    let ids = StringArray::from_iter_values((0..rows).map(|i| format!("{prefix}{i:05}")));
    let identity = StringArray::from_iter_values((0..rows).map(|i| format!("p{}", i / 3)));
    write_parquet(
        path,
        vec![
            ("face_id", Arc::new(ids) as ArrayRef),
            ("identity", Arc::new(identity)),
            ("embedding", emb),
        ],
        500,
    );
}

/// A 2-shard gallery of 2,000 faces (32-d, 128 bits) with a few tombstones, and 60 queries
/// drawn near gallery faces.
fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let g_faces = dir.join("gallery.parquet");
    faces(&g_faces, 2000, 32, 1, "g");
    let q_faces = dir.join("queries.parquet");
    faces(&q_faces, 60, 32, 1, "q"); // same centres as gallery rows 0..60
    let g = dir.join("g");
    run_ok(&[
        "index",
        arg(&g_faces),
        "-o",
        arg(&g),
        "--bits",
        "128",
        "--shard-rows",
        "1200",
    ]);
    run_ok(&[
        "gallery",
        "remove",
        arg(&g),
        "--face-id",
        "g00001",
        "--face-id",
        "g01500",
    ]);
    (g, q_faces)
}

/// Brute-force Hamming top-C over live rows, ordered by (distance, global row).
fn brute_force(g: &Gallery, query: &[u64], c: usize) -> Vec<(u32, u64)> {
    let mut all = Vec::new();
    let mut code = vec![0u64; g.bits() / 64];
    for sh in g.shards() {
        for r in 0..sh.rows() {
            if sh.is_live(r) {
                sh.codes.code(r, &mut code);
                all.push((hamming(query, &code), sh.first_row + r as u64));
            }
        }
    }
    all.sort_unstable();
    all.truncate(c);
    all
}

#[test]
fn scan_and_rerank_are_exact_for_every_kernel_and_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (g_dir, q_faces) = setup(dir.path());
    let g = Gallery::open(&g_dir).unwrap();
    let (qv, dim) = read_vectors(&q_faces);
    let codes = g.quantizer().encode(&qv).unwrap();
    // The search path derives codes from the margins it also scores with: the same codes.
    let margins = g.quantizer().margins(&qv).unwrap();
    assert_eq!(g.quantizer().codes_from_margins(&margins), codes);
    let words = g.bits() / 64;
    for c in [1usize, 7, 100, 5000] {
        let want: Vec<Vec<(u32, u64)>> = (0..60)
            .map(|q| brute_force(&g, &codes[q * words..(q + 1) * words], c))
            .collect();
        for k in kernels() {
            for threads in [1usize, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (got, _) = pool.install(|| scan_batch(&g, &codes, c, k));
                assert_eq!(got, want, "C {c}, kernel {}, {threads} threads", k.name);
            }
        }
        // Rerank: exact cosines of the candidates, best k by (cosine desc, row asc).
        for q in 0..60 {
            let got = rerank(
                &g,
                &qv[q * dim..(q + 1) * dim],
                None,
                &want[q],
                5,
                None,
                usize::MAX,
            );
            let mut expect: Vec<(f32, u64)> = want[q]
                .iter()
                .map(|&(_, row)| {
                    let (si, r) = g.locate(row).unwrap();
                    let mut v = vec![0f32; dim];
                    g.shards()[si].floats.vector(r, &mut v);
                    (dot(&qv[q * dim..(q + 1) * dim], &v), row)
                })
                .collect();
            expect.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            expect.truncate(5);
            let got_pairs: Vec<(f32, u64)> = got.iter().map(|m| (m.cosine, m.global_row)).collect();
            assert_eq!(got_pairs, expect, "rerank of query {q}, C {c}");
        }
    }
    // With every row a candidate the result is the exact cosine top-k.
    let all = g
        .search_batch(
            &qv,
            &faceflash_batch::scan::SearchParams {
                k: 3,
                candidates: Some(10_000),
                min_cosine: None,
                rerank: Some(usize::MAX),
            },
        )
        .unwrap();
    let truth = faceflash_batch::bench::scan::exact_nearest(&g, &qv);
    for (q, (res, (cos, row))) in all.iter().zip(&truth).enumerate() {
        assert_eq!(res[0].global_row, *row, "query {q}");
        assert!((res[0].cosine - cos).abs() < 1e-5);
    }
}

#[test]
fn big_batches_pipelined_by_group_equal_one_query_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (g_dir, q_faces) = setup(dir.path());
    let g = Gallery::open(&g_dir).unwrap();
    let (qv, dim) = read_vectors(&q_faces);
    // 420 queries: enough groups of 64 for the pipelined path on 2 threads.
    let many: Vec<f32> = (0..7).flat_map(|_| qv.iter().copied()).collect();
    let params = faceflash_batch::scan::SearchParams {
        k: 5,
        candidates: Some(300),
        min_cosine: None,
        rerank: Some(40),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let batched = pool.install(|| g.search_batch(&many, &params).unwrap());
    assert_eq!(batched.len(), 420);
    for (i, got) in batched.iter().enumerate() {
        let q = i % 60;
        let one = g
            .search_batch(&qv[q * dim..(q + 1) * dim], &params)
            .unwrap();
        assert_eq!(got, &one[0], "query {i}");
    }
    // Asymmetric narrowing to 40 of 300 candidates keeps the rank-1 match of nearly every query.
    let wide = g
        .search_batch(
            &qv,
            &faceflash_batch::scan::SearchParams {
                rerank: Some(usize::MAX),
                ..params
            },
        )
        .unwrap();
    let same = wide
        .iter()
        .zip(&batched)
        .filter(|(a, b)| a[0] == b[0])
        .count();
    assert!(
        same >= 57,
        "asymmetric narrowing lost the best match of {} queries",
        60 - same
    );
}

/// (query_id, rank, face_id, identity, cosine, hamming) rows of a matches table.
type MatchRow = (String, u32, String, Option<String>, f32, u32);

fn read_matches(path: &Path) -> (Vec<MatchRow>, std::collections::HashMap<String, String>) {
    let (b, kv) = read_table(path);
    assert_eq!(
        column_names(&b),
        ["query_id", "rank", "face_id", "identity", "cosine", "hamming"]
    );
    let (q, rank, f, ident, cos, ham) = (
        strings(&b, "query_id"),
        u32s(&b, "rank"),
        strings(&b, "face_id"),
        strings(&b, "identity"),
        floats(&b, "cosine"),
        u32s(&b, "hamming"),
    );
    let rows = (0..b.num_rows())
        .map(|i| {
            (
                q[i].clone().unwrap(),
                rank[i],
                f[i].clone().unwrap(),
                ident[i].clone(),
                cos[i],
                ham[i],
            )
        })
        .collect();
    (rows, kv)
}

#[test]
fn identify_writes_ranked_matches_with_provenance_independent_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (g_dir, q_faces) = setup(dir.path());
    let (m1, m2) = (dir.path().join("m1.parquet"), dir.path().join("m2.parquet"));
    run_ok(&[
        "--threads",
        "1",
        "identify",
        "--gallery",
        arg(&g_dir),
        "--queries",
        arg(&q_faces),
        "-o",
        arg(&m1),
        "-k",
        "4",
    ]);
    run_ok(&[
        "--threads",
        "2",
        "identify",
        "--gallery",
        arg(&g_dir),
        "--queries",
        arg(&q_faces),
        "-o",
        arg(&m2),
        "-k",
        "4",
        "--batch-size",
        "7",
    ]);
    let (a, kv) = read_matches(&m1);
    let (b, _) = read_matches(&m2);
    assert_eq!(a, b, "results depend on threads or batch size");
    assert_eq!(a.len(), 60 * 4);
    for chunk in a.chunks(4) {
        assert!(chunk.iter().all(|r| r.0 == chunk[0].0));
        assert_eq!(chunk.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(
            chunk.windows(2).all(|w| w[0].4 >= w[1].4),
            "cosines not descending"
        );
    }
    // Query i was drawn from gallery row i's identity: it is found at rank 1 (unless removed).
    let hits = a
        .iter()
        .filter(|r| {
            r.1 == 1
                && r.3.as_deref() == Some(&format!("p{}", r.0[1..].parse::<usize>().unwrap() / 3))
        })
        .count();
    assert!(
        hits >= 55,
        "only {hits}/60 queries matched their identity at rank 1"
    );
    assert!(
        a.iter().all(|r| r.2 != "g00001" && r.2 != "g01500"),
        "a removed face was returned"
    );
    assert_eq!(
        kv.get("faceflash.command").map(String::as_str),
        Some("identify")
    );
    let quantizer = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(g_dir.join("manifest.json")).unwrap(),
    )
    .unwrap()["quantizer"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(kv.get("faceflash.quantizer_sha256"), Some(&quantizer));
    assert!(kv["faceflash.params"].contains("\"k\":4"));
    // A cosine floor drops weaker matches.
    let m3 = dir.path().join("m3.parquet");
    run_ok(&[
        "identify",
        "--gallery",
        arg(&g_dir),
        "--queries",
        arg(&q_faces),
        "-o",
        arg(&m3),
        "-k",
        "4",
        "--min-cosine",
        "0.6",
    ]);
    let (c, _) = read_matches(&m3);
    assert!(c.iter().all(|r| r.4 >= 0.6) && c.len() < a.len());
}

#[test]
fn removed_faces_never_come_back_before_or_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let (g_dir, q_faces) = setup(dir.path());
    let m = dir.path().join("m.parquet");
    run_ok(&[
        "identify",
        "--gallery",
        arg(&g_dir),
        "--queries",
        arg(&q_faces),
        "-o",
        arg(&m),
        "-k",
        "10",
    ]);
    let (before, _) = read_matches(&m);
    let victims: HashSet<String> = ["p3", "p7", "p12"].iter().map(|s| s.to_string()).collect();
    assert!(before
        .iter()
        .any(|r| r.3.as_ref().is_some_and(|i| victims.contains(i))));
    run_ok(&[
        "gallery",
        "remove",
        arg(&g_dir),
        "--identity",
        "p3",
        "--identity",
        "p7",
        "--identity",
        "p12",
    ]);
    for stage in ["tombstoned", "compacted"] {
        run_ok(&[
            "identify",
            "--gallery",
            arg(&g_dir),
            "--queries",
            arg(&q_faces),
            "-o",
            arg(&m),
            "-k",
            "10",
            "--candidates",
            "5000",
        ]);
        let (after, _) = read_matches(&m);
        assert_eq!(after.len(), 60 * 10, "{stage}");
        assert!(
            after
                .iter()
                .all(|r| !r.3.as_ref().is_some_and(|i| victims.contains(i))),
            "removed identity returned ({stage})"
        );
        run_ok(&["gallery", "compact", arg(&g_dir)]);
    }
}

#[test]
fn edge_galleries_k_above_size_empty_and_all_removed() {
    let dir = tempfile::tempdir().unwrap();
    let g_faces = dir.path().join("small.parquet");
    faces(&g_faces, 20, 16, 3, "s");
    let q = dir.path().join("q.ffq");
    let big = dir.path().join("big.parquet");
    faces(&big, 600, 16, 3, "b");
    run_ok(&["fit", arg(&big), "--bits", "64", "-o", arg(&q)]);
    let g = dir.path().join("g");
    run_ok(&[
        "index",
        arg(&g_faces),
        "-o",
        arg(&g),
        "--quantizer",
        arg(&q),
    ]);
    let m = dir.path().join("m.parquet");
    run_ok(&[
        "identify",
        "--gallery",
        arg(&g),
        "--queries",
        arg(&g_faces),
        "-o",
        arg(&m),
        "-k",
        "50",
    ]);
    let (rows, _) = read_matches(&m);
    assert_eq!(
        rows.len(),
        20 * 20,
        "k above the gallery size returns every face once per query"
    );
    // Empty gallery: no matches, exit 0.
    let empty_faces = dir.path().join("empty.parquet");
    faces(&empty_faces, 0, 16, 3, "e");
    let e = dir.path().join("e");
    run_ok(&[
        "index",
        arg(&empty_faces),
        "-o",
        arg(&e),
        "--quantizer",
        arg(&q),
    ]);
    run_ok(&[
        "identify",
        "--gallery",
        arg(&e),
        "--queries",
        arg(&g_faces),
        "-o",
        arg(&m),
    ]);
    assert_eq!(read_matches(&m).0.len(), 0);
    // All faces removed: no matches.
    let ids: Vec<String> = (0..20).map(|i| format!("s{i:05}")).collect();
    let list = dir.path().join("ids.txt");
    std::fs::write(&list, ids.join("\n")).unwrap();
    run_ok(&["gallery", "remove", arg(&g), "--face-ids-from", arg(&list)]);
    run_ok(&[
        "identify",
        "--gallery",
        arg(&g),
        "--queries",
        arg(&g_faces),
        "-o",
        arg(&m),
    ]);
    assert_eq!(read_matches(&m).0.len(), 0);
}

#[test]
fn bad_queries_fail_with_the_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let (g_dir, _) = setup(dir.path());
    let m = dir.path().join("m.parquet");
    let wide = dir.path().join("wide.parquet");
    faces(&wide, 10, 48, 5, "w");
    let out = bin()
        .args([
            "identify",
            "--gallery",
            arg(&g_dir),
            "--queries",
            arg(&wide),
            "-o",
            arg(&m),
        ])
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["wide.parquet", "dimension 48", "32-d"]);
    assert!(!m.exists(), "a failed identify left an output");
    let mut v = vectors(5, 32, 9);
    v[3][7] = f32::NAN;
    let flat: Vec<f32> = v.into_iter().flatten().collect();
    let nan = dir.path().join("nan.parquet");
    write_parquet(&nan, vec![("embedding", embedding_column(flat, 32))], 10);
    let out = bin()
        .args([
            "identify",
            "--gallery",
            arg(&g_dir),
            "--queries",
            arg(&nan),
            "-o",
            arg(&m),
        ])
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["nan.parquet", "row 3", "NaN"]);
    let out = bin()
        .args([
            "identify",
            "--gallery",
            arg(&g_dir),
            "--queries",
            arg(&nan),
            "-o",
            arg(&m),
            "-k",
            "0",
        ])
        .output()
        .unwrap();
    assert_fails_with(&out, 2, &["-k"]);
    let out = bin()
        .args([
            "identify",
            "--gallery",
            arg(&dir.path().join("none")),
            "--queries",
            arg(&nan),
            "-o",
            arg(&m),
        ])
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["none: no such gallery"]);
}

#[test]
fn bench_scan_reports_every_kernel_recall_and_exports_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (g_dir, q_faces) = setup(dir.path());
    let json = dir.path().join("scan.json");
    let codes = dir.path().join("codes");
    run_ok(&[
        "bench",
        "scan",
        "--gallery",
        arg(&g_dir),
        "--queries",
        arg(&q_faces),
        "--candidates",
        "50,500",
        "--rerank",
        "0,20",
        "--repeat",
        "1",
        "--recall-queries",
        "60",
        "--single-queries",
        "3",
        "--json",
        arg(&json),
        "--export-codes",
        arg(&codes),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["gallery_rows"], 2000);
    let kernels: Vec<&str> = v["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(kernels.contains(&"portable") && kernels.contains(&v["kernel"].as_str().unwrap()));
    let figures = v["identify"].as_array().unwrap();
    assert_eq!(
        figures.len(),
        3 * 2,
        "two candidate counts and the default, times two rerank counts"
    );
    assert!(figures
        .iter()
        .all(|f| (0.0..=1.0).contains(&f["recall_at_1"].as_f64().unwrap())));
    // Reranking all 500 candidates of a 2,000-face gallery finds the exact neighbour.
    let full = figures
        .iter()
        .find(|f| f["candidates"] == 500 && f["rerank"].is_null())
        .unwrap();
    assert!(full["recall_at_1"].as_f64().unwrap() >= 0.98, "{full}");
    assert!(v["read_gbps_all_threads"].as_f64().unwrap() > 0.1);
    let g = std::fs::metadata(codes.join("gallery_codes.u8"))
        .unwrap()
        .len();
    let q = std::fs::metadata(codes.join("query_codes.u8"))
        .unwrap()
        .len();
    assert_eq!((g, q), (2000 * 16, 60 * 16));
}
