//! `synth` writes readable, deterministic, face-like data.

use std::collections::HashSet;

use arrow::array::Array;
use faceflash_batch::bench::stats::similarity_summary;
use faceflash_batch::store::{EmbeddingReader, ReadOptions};

use crate::common::{bin, synth_into};

fn generate(dir: &std::path::Path, threads: &str, seed: &str) {
    let args = [
        "--threads",
        threads,
        "--n",
        "3000",
        "--queries",
        "400",
        "--dim",
        "64",
        "--seed",
        seed,
    ];
    synth_into(dir, &args);
}

struct Table {
    ids: Vec<String>,
    identities: Vec<String>,
    vectors: Vec<f32>,
    dim: usize,
}

fn read(path: &std::path::Path) -> Table {
    let mut t = Table {
        ids: vec![],
        identities: vec![],
        vectors: vec![],
        dim: 0,
    };
    for b in EmbeddingReader::new(vec![path.to_path_buf()], ReadOptions::default()) {
        let b = b.expect("synth output is valid input");
        t.dim = b.dim;
        for i in 0..b.len() {
            t.ids.push(b.face_id.value(i).to_string());
            assert!(b.identity.is_valid(i));
            t.identities.push(b.identity.value(i).to_string());
        }
        t.vectors.extend_from_slice(&b.vectors);
    }
    t
}

#[test]
fn output_is_readable_and_identical_whatever_the_thread_count() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    generate(one.path(), "1", "7");
    generate(two.path(), "2", "7");
    for table in ["gallery.parquet", "queries.parquet"] {
        let a = read(&one.path().join(table));
        let b = read(&two.path().join(table));
        assert_eq!(a.dim, 64);
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.identities, b.identities);
        assert_eq!(
            a.vectors, b.vectors,
            "{table}: vectors differ between 1 and 2 threads"
        );
    }
    let g = read(&one.path().join("gallery.parquet"));
    assert_eq!(g.ids.len(), 3000);
    assert_eq!(
        g.ids.iter().collect::<HashSet<_>>().len(),
        3000,
        "face ids unique"
    );
    assert_eq!(
        g.identities.iter().collect::<HashSet<_>>().len(),
        750,
        "4 faces per identity"
    );
}

#[test]
fn similarity_imitates_face_embeddings_and_some_queries_are_absent() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "synth",
            "--n",
            "4000",
            "--queries",
            "2000",
            "--dim",
            "512",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let g = read(&dir.path().join("gallery.parquet"));
    let ids: Vec<Option<&str>> = g.identities.iter().map(|s| Some(s.as_str())).collect();
    let s = similarity_summary(&g.vectors, g.dim, &ids, 20_000);
    assert!(
        (0.5..0.7).contains(&s.genuine.mean),
        "genuine mean {}",
        s.genuine.mean
    );
    assert!(s.genuine.sd > 0.08, "genuine spread {}", s.genuine.sd);
    assert!(
        s.impostor.mean.abs() < 0.01,
        "impostor mean {}",
        s.impostor.mean
    );
    assert!(
        (0.07..0.13).contains(&s.impostor.sd),
        "impostor sd {}",
        s.impostor.sd
    );

    let q = read(&dir.path().join("queries.parquet"));
    let gallery_ids: HashSet<&String> = g.identities.iter().collect();
    let absent = q
        .identities
        .iter()
        .filter(|i| !gallery_ids.contains(i))
        .count() as f64
        / q.ids.len() as f64;
    assert!((0.07..0.13).contains(&absent), "absent share {absent}");
}

#[test]
fn different_seeds_give_different_data() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generate(a.path(), "2", "7");
    generate(b.path(), "2", "8");
    let ta = read(&a.path().join("gallery.parquet"));
    let tb = read(&b.path().join("gallery.parquet"));
    assert_ne!(ta.vectors, tb.vectors);
}
