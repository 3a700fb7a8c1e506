//! Our Parquet outputs read in the Arrow ecosystem (pyarrow from the project's .venv, which
//! `make setup` installs).

use std::path::PathBuf;
use std::process::Command;

use faceflash_batch::store::{EmbeddingReader, ReadOptions};

use crate::common::bin;

fn venv_python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup` (or `make test`) first",
        python.display()
    );
    python
}

#[test]
fn pyarrow_reads_synth_output_with_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "synth",
            "--n",
            "300",
            "--queries",
            "10",
            "--dim",
            "64",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let gallery = dir.path().join("gallery.parquet");
    let script = r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
meta = pq.read_metadata(sys.argv[1]).metadata
print(json.dumps({
    "rows": t.num_rows,
    "types": {f.name: str(f.type) for f in t.schema},
    "first": t.column("embedding")[0].as_py(),
    "tool": meta[b"faceflash.tool"].decode(),
}))
"#;
    let py = Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .arg(&gallery)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(v["rows"], 300);
    assert_eq!(v["types"]["face_id"], "string");
    assert_eq!(v["types"]["identity"], "string");
    assert_eq!(
        v["types"]["embedding"],
        "fixed_size_list<item: float not null>[64]"
    );
    assert_eq!(v["tool"], "faceflash-batch");
    let ours = EmbeddingReader::new(vec![gallery], ReadOptions::default())
        .next()
        .unwrap()
        .unwrap();
    let theirs: Vec<f32> = v["first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(theirs, ours.vector(0));
}
