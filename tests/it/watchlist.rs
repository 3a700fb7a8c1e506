//! watchlist end to end: hits against brute force (k, per-identity, removed faces, a stream
//! split over files), bad thresholds and dimensions.

use faceflash_batch::scan::dot;
use std::path::Path;

use crate::common::{
    arg, assert_fails_with, bin, column_names, embedding_column, floats, read_table, read_vectors,
    run_ok, strings, u32s, vectors, write_faces_table, write_parquet,
};

const DIM: usize = 64;

/// Faces near identity centres `centre_of(i)` (or random when `None`).
fn write_faces(
    path: &Path,
    rows: usize,
    prefix: &str,
    centre_of: impl Fn(usize) -> Option<usize>,
    seed: u64,
) {
    let centres = vectors(300, DIM, 100);
    let noise = vectors(rows, DIM, seed);
    let flat: Vec<f32> = (0..rows)
        .flat_map(|i| match centre_of(i) {
            Some(c) => (0..DIM)
                .map(|d| centres[c][d] + 0.5 * noise[i][d])
                .collect::<Vec<_>>(),
            None => noise[i].clone(),
        })
        .collect();
    write_faces_table(
        path,
        (0..rows).map(|i| format!("{prefix}{i:05}")),
        (0..rows).map(|i| centre_of(i).map(|c| format!("p{c}"))),
        flat,
        DIM,
        100,
    );
}

/// (face_id, watch_face_id, watch_identity, cosine, rank) rows.
type Hit = (String, String, Option<String>, f32, u32);

fn read_hits(path: &Path) -> Vec<Hit> {
    let (b, kv) = read_table(path);
    assert_eq!(
        column_names(&b),
        [
            "face_id",
            "watch_face_id",
            "watch_identity",
            "cosine",
            "rank",
            "hamming"
        ]
    );
    assert_eq!(
        kv.get("faceflash.command").map(String::as_str),
        Some("watchlist")
    );
    let (f, w, wi, c, r) = (
        strings(&b, "face_id"),
        strings(&b, "watch_face_id"),
        strings(&b, "watch_identity"),
        floats(&b, "cosine"),
        u32s(&b, "rank"),
    );
    (0..b.num_rows())
        .map(|i| {
            (
                f[i].clone().unwrap(),
                w[i].clone().unwrap(),
                wi[i].clone(),
                c[i],
                r[i],
            )
        })
        .collect()
}

struct Setup {
    _dir: tempfile::TempDir,
    gallery: std::path::PathBuf,
    stream_dir: std::path::PathBuf,
    watch: (Vec<f32>, Vec<String>, Vec<Option<String>>),
    stream: (Vec<f32>, Vec<String>),
}

/// A watchlist of 600 faces (200 people × 3, one removed) and a stream of 300 faces in two
/// files: 150 near watchlist people, 150 strangers.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let w_faces = dir.path().join("watch.parquet");
    write_faces(&w_faces, 600, "w", |i| Some(i / 3), 1);
    let gallery = dir.path().join("watchlist");
    run_ok(&[
        "index",
        arg(&w_faces),
        "-o",
        arg(&gallery),
        "--bits",
        "128",
        "--shard-rows",
        "250",
    ]);
    run_ok(&["gallery", "remove", arg(&gallery), "--face-id", "w00007"]);
    let stream_dir = dir.path().join("stream");
    std::fs::create_dir_all(&stream_dir).unwrap();
    write_faces(&stream_dir.join("a.parquet"), 150, "s", Some, 2);
    write_faces(&stream_dir.join("b.parquet"), 150, "t", |_| None, 3);
    let (wv, _) = read_vectors(&w_faces);
    let mut sv = read_vectors(&stream_dir.join("a.parquet")).0;
    sv.extend(read_vectors(&stream_dir.join("b.parquet")).0);
    let mut stream_ids: Vec<String> = (0..150).map(|i| format!("s{i:05}")).collect();
    stream_ids.extend((0..150).map(|i| format!("t{i:05}")));
    Setup {
        _dir: dir,
        gallery,
        stream_dir,
        watch: (
            wv,
            (0..600).map(|i| format!("w{i:05}")).collect(),
            (0..600).map(|i| Some(format!("p{}", i / 3))).collect(),
        ),
        stream: (sv, stream_ids),
    }
}

/// Brute force: per stream face, live watch faces at cosine ≥ t by (cosine desc, row), the
/// first k (distinct identities with `per_identity`).
fn brute(s: &Setup, t: f32, k: usize, per_identity: bool) -> Vec<Hit> {
    let (wv, wid, wident) = &s.watch;
    let (sv, sid) = &s.stream;
    let mut out = Vec::new();
    for (q, qid) in sid.iter().enumerate() {
        let query = &sv[q * DIM..(q + 1) * DIM];
        let mut scored: Vec<(f32, usize)> = (0..wid.len())
            .filter(|&j| wid[j] != "w00007")
            .map(|j| (dot(query, &wv[j * DIM..(j + 1) * DIM]), j))
            .filter(|&(c, _)| c >= t)
            .collect();
        scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        let mut kept: Vec<(f32, usize)> = Vec::new();
        for (c, j) in scored {
            if kept.len() == k {
                break;
            }
            if per_identity && kept.iter().any(|&(_, i)| wident[i] == wident[j]) {
                continue;
            }
            kept.push((c, j));
        }
        for (rank, (c, j)) in kept.into_iter().enumerate() {
            out.push((
                qid.clone(),
                wid[j].clone(),
                wident[j].clone(),
                c,
                rank as u32 + 1,
            ));
        }
    }
    out
}

fn run(s: &Setup, out: &Path, t: &str, extra: &[&str]) -> Vec<Hit> {
    let mut args = vec![
        "watchlist",
        "--watchlist",
        arg(&s.gallery),
        "--stream",
        arg(&s.stream_dir),
        "--threshold",
        t,
        "-o",
        arg(out),
        "--batch-size",
        "70",
    ];
    args.extend_from_slice(extra);
    run_ok(&args);
    read_hits(out)
}

#[test]
fn hits_equal_brute_force_for_k_and_per_identity() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    for (t, k, per_identity) in [(0.5f32, 1usize, false), (0.3, 3, false), (0.3, 3, true)] {
        let want = brute(&s, t, k, per_identity);
        assert!(want.len() >= 100, "{t} {k}: {} hits", want.len());
        let mut extra = vec!["--radius", "128"];
        let ks = k.to_string();
        extra.extend(["-k", ks.as_str()]);
        if per_identity {
            extra.push("--per-identity");
        }
        let out = dir
            .path()
            .join(format!("hits-{t}-{k}-{per_identity}.parquet"));
        let got = run(&s, &out, &t.to_string(), &extra);
        assert_eq!(
            got, want,
            "threshold {t}, k {k}, per-identity {per_identity}"
        );
        assert!(got.iter().all(|h| !h.0.starts_with('t') || h.3 < 0.6));
        assert!(
            got.iter().all(|h| h.1 != "w00007"),
            "removed face never hits"
        );
    }
    // The calibrated radius: every hit is a true one and the best hits are found.
    let want = brute(&s, 0.5, 1, false);
    let got = run(&s, &dir.path().join("cal.parquet"), "0.5", &[]);
    assert!(got.iter().all(|h| want.contains(h)), "no false hits");
    assert!(
        got.len() as f64 >= 0.99 * want.len() as f64,
        "{} of {}",
        got.len(),
        want.len()
    );
}

#[test]
fn bad_thresholds_and_dimensions_are_rejected() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hits.parquet");
    for t in ["NaN", "2", "-3"] {
        let o = bin()
            .args(["watchlist", "--watchlist", arg(&s.gallery), "--stream"])
            .arg(&s.stream_dir)
            .args(["--threshold", t, "-o", arg(&out)])
            .output()
            .unwrap();
        assert_fails_with(&o, 2, &["threshold"]);
    }
    let wrong = dir.path().join("wrong.parquet");
    write_parquet(
        &wrong,
        vec![(
            "embedding",
            embedding_column(vectors(5, 16, 1).concat(), 16),
        )],
        10,
    );
    let o = bin()
        .args([
            "watchlist",
            "--watchlist",
            arg(&s.gallery),
            "--stream",
            arg(&wrong),
        ])
        .args(["--threshold", "0.5", "-o", arg(&out)])
        .output()
        .unwrap();
    assert_fails_with(&o, 3, &["wrong.parquet", "dimension 16"]);
    assert!(!out.exists(), "no output on failure");
}
