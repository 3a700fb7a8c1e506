//! The PCA+ITQ quantizer end to end: fit on real synth Parquet, encode, file round trip and
//! corruption, recall after rerank measured against brute force.

use std::path::{Path, PathBuf};

use faceflash_batch::quant::{self, bit_balance, FitParams, QuantError};
use faceflash_batch::scan::hamming;
use faceflash_batch::store::{EmbeddingReader, ReadOptions};

use crate::common::{assert_fails_with, assert_ok, bin, read_vectors, synth_into};

struct Data {
    _dir: tempfile::TempDir,
    gallery: PathBuf,
    queries: PathBuf,
}

fn synth(n: usize, queries: usize, dim: usize) -> Data {
    let dir = tempfile::tempdir().unwrap();
    synth_into(
        dir.path(),
        &[
            "--n",
            &n.to_string(),
            "--queries",
            &queries.to_string(),
            "--dim",
            &dim.to_string(),
        ],
    );
    Data {
        gallery: dir.path().join("gallery.parquet"),
        queries: dir.path().join("queries.parquet"),
        _dir: dir,
    }
}

fn vectors(path: &Path) -> (Vec<f32>, usize) {
    read_vectors(path)
}

fn fit_cli(input: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("fit")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn fit_writes_a_balanced_calibrated_quantizer_and_the_file_round_trips() {
    let data = synth(6000, 500, 128);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.ffq");
    let out = fit_cli(&data.gallery, &path, &["--bits", "256", "--report"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "bit balance",
        "ITQ loss per bit",
        "candidates  recall@1",
        "cosine ≥  radius",
    ] {
        assert!(text.contains(needle), "report lacks {needle}: {text}");
    }
    let q = quant::file::load(&path).unwrap();
    assert_eq!((q.dim(), q.bits()), (128, 256));
    assert_eq!(q.info.rows_seen, 6000);
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(q.hash(), Some(hex.as_str()));

    // Bit balance on unseen rows.
    let (qv, _) = vectors(&data.queries);
    let codes = q.encode(&qv).unwrap();
    let (lo, hi) = bit_balance(&codes, 256);
    assert!(lo > 0.38 && hi < 0.62, "bit balance {lo}..{hi}");

    // ITQ lowered its loss; the calibration table is consistent.
    let obj = &q.info.objective;
    assert!(obj.last().unwrap() < &obj[0], "{obj:?}");
    let c = &q.calibration;
    assert!(c.queries > 0 && c.database_rows > 0);
    assert!(c
        .recall
        .windows(2)
        .all(|w| w[0].recall_at_1 <= w[1].recall_at_1));
    assert_eq!(c.recall.last().unwrap().recall_at_1, 1.0);
    let target = c.candidates_target.unwrap();
    assert_eq!(c.recall_target, 0.995);
    assert!(c
        .recall
        .iter()
        .filter(|p| p.candidates >= target)
        .all(|p| p.recall_at_1 >= 0.995));
    let radii: Vec<u32> = c.radii.iter().filter_map(|r| r.radius).collect();
    assert!(radii.len() >= 3, "{:?}", c.radii);
    assert!(
        radii.windows(2).all(|w| w[0] >= w[1]),
        "radius shrinks as cosine grows: {radii:?}"
    );

    // Round trip: the same bytes and the same codes after saving again.
    let mut copy = q.clone();
    let again = dir.path().join("again.ffq");
    quant::file::save(&mut copy, &again).unwrap();
    assert!(
        std::fs::read(&again).unwrap() == bytes,
        "saving a loaded quantizer changed its bytes"
    );
    assert_eq!(
        quant::file::load(&again).unwrap().encode(&qv).unwrap(),
        codes
    );
}

#[test]
fn fit_is_deterministic_whatever_the_thread_count() {
    let data = synth(3000, 10, 64);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.ffq"), dir.path().join("b.ffq"));
    assert_ok(&fit_cli(
        &data.gallery,
        &a,
        &["--bits", "128", "--threads", "1"],
    ));
    assert_ok(&fit_cli(
        &data.gallery,
        &b,
        &["--bits", "128", "--threads", "2"],
    ));
    let (qa, qb) = (
        quant::file::load(&a).unwrap(),
        quant::file::load(&b).unwrap(),
    );
    assert_eq!(qa.projection(), qb.projection());
    assert_eq!(qa.thresholds(), qb.thresholds());
    assert_eq!(qa.mean(), qb.mean());
    assert_eq!(qa.info.objective, qb.info.objective);
    assert_eq!(qa.calibration.recall, qb.calibration.recall);
    // A different seed gives a different rotation.
    let c = dir.path().join("c.ffq");
    assert!(
        fit_cli(&data.gallery, &c, &["--bits", "128", "--seed", "9"])
            .status
            .success()
    );
    assert_ne!(quant::file::load(&c).unwrap().projection(), qa.projection());
}

#[test]
fn recall_after_rerank_rises_with_candidates_against_brute_force() {
    let data = synth(5000, 400, 128);
    let (gallery, dim) = vectors(&data.gallery);
    let (queries, _) = vectors(&data.queries);
    let q = quant::fit(
        EmbeddingReader::new(vec![data.gallery.clone()], ReadOptions::default()),
        &FitParams {
            bits: 256,
            ..FitParams::default()
        },
        None,
    )
    .unwrap();
    let (gc, qc) = (q.encode(&gallery).unwrap(), q.encode(&queries).unwrap());
    let words = q.words();
    let n = gallery.len() / dim;
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let mut recalls = Vec::new();
    for candidates in [1usize, 10, 100, 1000] {
        let mut hits = 0;
        for (qi, qv) in queries.chunks_exact(dim).enumerate() {
            let exact = (0..n)
                .max_by(|&a, &b| {
                    dot(qv, &gallery[a * dim..(a + 1) * dim])
                        .total_cmp(&dot(qv, &gallery[b * dim..(b + 1) * dim]))
                        .then(b.cmp(&a))
                })
                .unwrap();
            let code = &qc[qi * words..(qi + 1) * words];
            let mut order: Vec<(u32, usize)> = (0..n)
                .map(|j| (hamming(code, &gc[j * words..(j + 1) * words]), j))
                .collect();
            order.sort_unstable();
            let best = order[..candidates]
                .iter()
                .map(|&(_, j)| j)
                .max_by(|&a, &b| {
                    dot(qv, &gallery[a * dim..(a + 1) * dim])
                        .total_cmp(&dot(qv, &gallery[b * dim..(b + 1) * dim]))
                        .then(b.cmp(&a))
                })
                .unwrap();
            hits += (best == exact) as usize;
        }
        recalls.push(hits as f64 / (queries.len() / dim) as f64);
    }
    assert!(recalls.windows(2).all(|w| w[0] <= w[1]), "{recalls:?}");
    assert!(recalls[0] < 0.99, "Hamming alone is not exact: {recalls:?}");
    assert!(
        recalls[2] >= 0.99,
        "recall@1 after reranking 100 candidates: {recalls:?}"
    );
}

#[test]
fn more_bits_than_dimensions_adds_independent_blocks() {
    let data = synth(2000, 200, 64);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.ffq");
    assert!(fit_cli(&data.gallery, &path, &["--bits", "192"])
        .status
        .success());
    let q = quant::file::load(&path).unwrap();
    let (qv, _) = vectors(&data.queries);
    let codes = q.encode(&qv).unwrap();
    let (lo, hi) = bit_balance(&codes, 192);
    assert!(lo > 0.3 && hi < 0.7, "{lo}..{hi}");
    // Block 1 (bits 64..128) is not a copy of block 0.
    let same = codes
        .chunks_exact(3)
        .filter(|c| c[0] == c[1] || c[0] == c[2] || c[1] == c[2])
        .count();
    assert_eq!(same, 0);
}

#[test]
fn corrupt_quantizer_files_are_rejected_with_exit_code_3() {
    let data = synth(1000, 10, 32);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ffq");
    assert!(fit_cli(&data.gallery, &good, &["--bits", "64"])
        .status
        .success());
    let bytes = std::fs::read(&good).unwrap();
    let n = bytes.len();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", bytes[..n - 100].to_vec(), "truncated"),
        ("empty", vec![], "bad magic"),
        (
            "magic",
            {
                let mut b = bytes.clone();
                b[0] = b'X';
                b
            },
            "bad magic",
        ),
        (
            "version",
            {
                let mut b = bytes.clone();
                b[8] = 9;
                b
            },
            "format version 9 is not supported",
        ),
        (
            "flip-body",
            {
                let mut b = bytes.clone();
                b[n - 40] ^= 1;
                b
            },
            "checksum mismatch",
        ),
        (
            "flip-header",
            {
                let mut b = bytes.clone();
                b[30] ^= 0x20;
                b
            },
            "checksum mismatch",
        ),
        (
            "trailing",
            {
                let mut b = bytes.clone();
                b.push(0);
                b
            },
            "trailing bytes",
        ),
    ];
    for (name, content, needle) in cases.drain(..) {
        let path = dir.path().join(format!("{name}.ffq"));
        std::fs::write(&path, &content).unwrap();
        match quant::file::load(&path) {
            Err(e) => {
                assert!(e.is_bad_input(), "{name}: {e}");
                assert!(e.to_string().contains(needle), "{name}: {e}");
            }
            Ok(_) => panic!("{name}: corrupt file loaded"),
        }
        let out = bin().arg("inspect").arg(&path).output().unwrap();
        assert_fails_with(&out, 3, &[&format!("{name}.ffq"), needle]);
    }
    // Wrong dimension: a 32-d quantizer on 64-d faces.
    let other = synth(200, 10, 64);
    let out = bin()
        .arg("inspect")
        .arg(&other.gallery)
        .arg("--quantizer")
        .arg(&good)
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["gallery.parquet", "dimension 64", "expects 32"]);
    let q = quant::file::load(&good).unwrap();
    assert!(matches!(
        q.check_dim(64, "x"),
        Err(QuantError::DimensionMismatch { .. })
    ));
    let out = bin()
        .arg("inspect")
        .arg(&data.gallery)
        .arg("--quantizer")
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("share of ones per bit"));
}

#[test]
fn fit_rejects_bad_parameters_and_too_little_data() {
    let data = synth(50, 10, 16);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.ffq");
    let out = fit_cli(&data.gallery, &path, &["--bits", "100"]);
    assert_fails_with(&out, 2, &["multiple of 64"]);
    let out = fit_cli(&data.gallery, &path, &[]);
    assert_fails_with(&out, 3, &["need at least 100 rows", "has 50"]);
    assert!(!path.exists(), "no output on failure");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp files left"
    );
}
