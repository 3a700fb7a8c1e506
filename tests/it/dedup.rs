//! dedup end to end: exact pair sets against brute force, planted duplicates, clusters stable
//! under input order, the density rule against chains, the HTML report in headless Chromium,
//! bad thresholds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use faceflash_batch::scan::dot;

use crate::common::{
    arg, assert_fails_with, bin, column_names, columns, embedding_column, floats, read_table,
    read_vectors, run_ok, strings, u32s, vectors, write_faces_table, write_parquet,
};

/// Clustered faces: identity `p{i / per}`, each face its identity's centre plus noise.
fn clustered(rows: usize, per: usize, dim: usize, noise: f32, seed: u64) -> Vec<Vec<f32>> {
    let centres = vectors(rows / per + 1, dim, seed);
    let jitter = vectors(rows, dim, seed + 1);
    (0..rows)
        .map(|i| {
            (0..dim)
                .map(|d| centres[i / per][d] + noise * jitter[i][d])
                .collect()
        })
        .collect()
}

/// Writes a faces table with face ids `{prefix}{i:05}` and identities `p{i / per}` (in the
/// order of `order`, so the same faces can be written shuffled).
fn write_faces(path: &Path, vecs: &[Vec<f32>], per: usize, prefix: &str, order: &[usize]) {
    let flat: Vec<f32> = order.iter().flat_map(|&i| vecs[i].clone()).collect();
    write_faces_table(
        path,
        order.iter().map(|i| format!("{prefix}{i:05}")),
        order.iter().map(|i| Some(format!("p{}", i / per))),
        flat,
        vecs[0].len(),
        400,
    );
}

type PairSet = BTreeMap<(String, String), f32>;

fn read_pairs(path: &Path) -> PairSet {
    let (b, kv) = read_table(path);
    assert_eq!(
        column_names(&b),
        ["face_id_a", "face_id_b", "cosine", "hamming"]
    );
    assert_eq!(
        kv.get("faceflash.command").map(String::as_str),
        Some("dedup")
    );
    let a = strings(&b, "face_id_a");
    let bb = strings(&b, "face_id_b");
    let c = floats(&b, "cosine");
    let mut out = PairSet::new();
    for i in 0..b.num_rows() {
        let (x, y) = (a[i].clone().unwrap(), bb[i].clone().unwrap());
        assert!(x < y, "face_id_a < face_id_b: {x} {y}");
        assert!(out.insert((x, y), c[i]).is_none(), "each pair once");
    }
    out
}

/// Brute force: every pair of `ids` with cosine ≥ t, with the engine's own f32 dot product
/// on the same normalised vectors.
fn brute_pairs(ids: &[String], unit: &[f32], dim: usize, t: f32, skip: &[&str]) -> PairSet {
    let mut out = PairSet::new();
    let n = ids.len();
    for i in 0..n {
        for j in i + 1..n {
            if skip.contains(&ids[i].as_str()) || skip.contains(&ids[j].as_str()) {
                continue;
            }
            let c = dot(&unit[i * dim..(i + 1) * dim], &unit[j * dim..(j + 1) * dim]);
            if c >= t {
                let (a, b) = if ids[i] < ids[j] {
                    (ids[i].clone(), ids[j].clone())
                } else {
                    (ids[j].clone(), ids[i].clone())
                };
                out.insert((a, b), c);
            }
        }
    }
    out
}

fn dedup(gallery: &Path, out: &Path, t: &str, extra: &[&str]) {
    let mut args = vec![
        "dedup",
        "--gallery",
        arg(gallery),
        "--threshold",
        t,
        "-o",
        arg(out),
    ];
    args.extend_from_slice(extra);
    run_ok(&args);
}

#[test]
fn pairs_equal_brute_force_at_several_thresholds_and_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let faces = dir.path().join("faces.parquet");
    let rows = 1500;
    let vecs = clustered(rows, 3, 32, 0.6, 7);
    write_faces(&faces, &vecs, 3, "f", &(0..rows).collect::<Vec<_>>());
    let g = dir.path().join("g");
    run_ok(&[
        "index",
        arg(&faces),
        "-o",
        arg(&g),
        "--bits",
        "128",
        "--shard-rows",
        "700",
    ]);
    run_ok(&[
        "gallery",
        "remove",
        arg(&g),
        "--face-id",
        "f00004",
        "--face-id",
        "f01000",
    ]);
    let removed = ["f00004", "f01000"];
    let (unit, dim) = read_vectors(&faces);
    let ids: Vec<String> = (0..rows).map(|i| format!("f{i:05}")).collect();
    for t in ["0.3", "0.5", "0.7"] {
        let want = brute_pairs(&ids, &unit, dim, t.parse().unwrap(), &removed);
        assert!(want.len() > 100, "threshold {t}: {} pairs", want.len());
        // The code length as radius: every pair is checked exactly.
        let exact = dir.path().join(format!("exact-{t}.parquet"));
        dedup(&g, &exact, t, &["--radius", "128"]);
        let got = read_pairs(&exact);
        assert_eq!(got, want, "threshold {t}: exact pair set and cosines");
        // The calibrated radius: nothing false, at most a sliver missed.
        let calibrated = dir.path().join(format!("cal-{t}.parquet"));
        dedup(&g, &calibrated, t, &[]);
        let got = read_pairs(&calibrated);
        assert!(
            got.keys().all(|k| want.contains_key(k)),
            "threshold {t}: no false pairs"
        );
        let recall = got.len() as f64 / want.len() as f64;
        assert!(recall >= 0.99, "threshold {t}: pair recall {recall}");
    }
    // One thread or two: the same file contents.
    let one = dir.path().join("t1.parquet");
    let two = dir.path().join("t2.parquet");
    for (threads, out) in [("1", &one), ("2", &two)] {
        run_ok(&[
            "--threads",
            threads,
            "dedup",
            "--gallery",
            arg(&g),
            "--threshold",
            "0.4",
            "-o",
            arg(out),
        ]);
    }
    assert_eq!(columns(&read_table(&one).0), columns(&read_table(&two).0));
}

#[test]
fn planted_duplicates_are_found_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 64;
    let mut vecs = vectors(1000, dim, 3);
    let noise = vectors(20, dim, 4);
    let mut planted = Vec::new();
    for (k, n) in noise.iter().enumerate() {
        let of = k * 37 + 5;
        let copy: Vec<f32> = vecs[of].iter().zip(n).map(|(v, e)| v + 0.05 * e).collect();
        planted.push((of, vecs.len()));
        vecs.push(copy);
    }
    let faces = dir.path().join("faces.parquet");
    write_faces(&faces, &vecs, 1, "f", &(0..vecs.len()).collect::<Vec<_>>());
    let g = dir.path().join("g");
    run_ok(&["index", arg(&faces), "-o", arg(&g), "--bits", "256"]);
    let out = dir.path().join("pairs.parquet");
    dedup(&g, &out, "0.9", &[]);
    let got = read_pairs(&out);
    let want: BTreeSet<(String, String)> = planted
        .iter()
        .map(|&(a, b)| (format!("f{a:05}"), format!("f{b:05}")))
        .collect();
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), want);
    assert!(got.values().all(|&c| c > 0.95));
}

#[test]
fn clusters_are_stable_under_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 1200;
    let vecs = clustered(rows, 4, 32, 0.5, 11);
    let in_order: Vec<usize> = (0..rows).collect();
    let mut shuffled = in_order.clone();
    // A fixed permutation (multiplicative, 7 is coprime with 1200).
    for (i, s) in shuffled.iter_mut().enumerate() {
        *s = (i * 7 + 13) % rows;
    }
    let a_faces = dir.path().join("a.parquet");
    let b_faces = dir.path().join("b.parquet");
    write_faces(&a_faces, &vecs, 4, "f", &in_order);
    write_faces(&b_faces, &vecs, 4, "f", &shuffled);
    let q = dir.path().join("q.ffq");
    run_ok(&["fit", arg(&a_faces), "-o", arg(&q), "--bits", "128"]);
    let mut tables = Vec::new();
    let mut pair_sets = Vec::new();
    for (name, faces, shard_rows) in [("a", &a_faces, "1200"), ("b", &b_faces, "500")] {
        let g = dir.path().join(format!("g{name}"));
        run_ok(&[
            "index",
            arg(faces),
            "-o",
            arg(&g),
            "--quantizer",
            arg(&q),
            "--shard-rows",
            shard_rows,
        ]);
        let pairs = dir.path().join(format!("pairs-{name}.parquet"));
        let clusters = dir.path().join(format!("clusters-{name}.parquet"));
        dedup(&g, &pairs, "0.5", &["--clusters", arg(&clusters)]);
        pair_sets.push(read_pairs(&pairs));
        tables.push(read_table(&clusters).0);
    }
    assert_eq!(
        pair_sets[0], pair_sets[1],
        "same pairs whatever the row order"
    );
    let t = &tables[0];
    assert!(t.num_rows() > 600, "most faces cluster: {}", t.num_rows());
    assert_eq!(
        columns(&tables[0]),
        columns(&tables[1]),
        "same clusters table, row for row"
    );
    assert_eq!(
        column_names(t),
        ["face_id", "cluster_id", "cluster_size", "is_core"]
    );
    // Each cluster id is its smallest member and sizes are consistent.
    let faces = strings(t, "face_id");
    let cids = strings(t, "cluster_id");
    let sizes = u32s(t, "cluster_size");
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..t.num_rows() {
        members
            .entry(cids[i].clone().unwrap())
            .or_default()
            .push(faces[i].clone().unwrap());
    }
    for i in 0..t.num_rows() {
        let m = &members[cids[i].as_ref().unwrap()];
        assert_eq!(m.len() as u32, sizes[i]);
        assert_eq!(m.iter().min(), cids[i].as_ref());
    }
    let sizes_in_order: Vec<u32> = sizes.clone();
    assert!(
        sizes_in_order.windows(2).all(|w| w[0] >= w[1]),
        "largest clusters first"
    );
}

/// Two tight groups of five (around e0 and e1) joined by a chain of five faces on the arc
/// between them, 15° apart, plus 300 random faces for the quantizer to fit on.
fn chain_gallery(dir: &Path) -> PathBuf {
    let dim = 64;
    let mut vecs: Vec<Vec<f32>> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let noise = vectors(10, dim, 21);
    for (g, axis) in [("a", 0usize), ("b", 1)] {
        for k in 0..5 {
            let mut v: Vec<f32> = noise[k + 5 * axis].iter().map(|x| 0.05 * x).collect();
            v[axis] += 1.0;
            vecs.push(v);
            ids.push(format!("{g}{k}"));
        }
    }
    for i in 1..=5 {
        let angle = (i as f32 * 15.0).to_radians();
        let mut v = vec![0f32; dim];
        v[0] = angle.cos();
        v[1] = angle.sin();
        vecs.push(v);
        ids.push(format!("c{i}"));
    }
    for (k, v) in vectors(300, dim, 22).into_iter().enumerate() {
        vecs.push(v);
        ids.push(format!("r{k:03}"));
    }
    let flat: Vec<f32> = vecs.iter().flatten().copied().collect();
    let faces = dir.join("chain.parquet");
    write_parquet(
        &faces,
        vec![
            (
                "face_id",
                Arc::new(StringArray::from_iter_values(ids)) as ArrayRef,
            ),
            ("embedding", embedding_column(flat, dim)),
        ],
        1000,
    );
    let g = dir.join("chain");
    run_ok(&["index", arg(&faces), "-o", arg(&g), "--bits", "128"]);
    g
}

fn clusters_of(path: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let t = read_table(path).0;
    let faces = strings(&t, "face_id");
    let cids = strings(&t, "cluster_id");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (f, c) in faces.into_iter().zip(cids) {
        out.entry(c.unwrap()).or_default().insert(f.unwrap());
    }
    out
}

#[test]
fn density_rule_stops_a_chain_that_components_follow() {
    let dir = tempfile::tempdir().unwrap();
    let g = chain_gallery(dir.path());
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let pairs = dir.path().join("pairs.parquet");
    let components = dir.path().join("components.parquet");
    dedup(
        &g,
        &pairs,
        "0.9",
        &[
            "--radius",
            "128",
            "--clusters",
            arg(&components),
            "--min-faces",
            "1",
        ],
    );
    let all = set(&[
        "a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4", "c5",
    ]);
    assert_eq!(
        clusters_of(&components).into_values().collect::<Vec<_>>(),
        vec![all],
        "connected components follow the chain"
    );
    let dense = dir.path().join("dense.parquet");
    dedup(
        &g,
        &pairs,
        "0.9",
        &["--radius", "128", "--clusters", arg(&dense)],
    );
    let got = clusters_of(&dense);
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        vec![
            (
                "a0".to_string(),
                set(&["a0", "a1", "a2", "a3", "a4", "c1", "c2"])
            ),
            (
                "b0".to_string(),
                set(&["b0", "b1", "b2", "b3", "b4", "c4", "c5"])
            ),
        ],
        "min-faces 3: the chain's middle (two neighbours, no core neighbour) stays out"
    );
}

#[cfg(feature = "vision")]
/// Photos of `people` identities, `per` each, as files in `dir/photos/` (a distinct colour
/// pattern per identity; PNG and JPEG), and a faces table pointing at them with `path` and,
/// for every other face, a `bbox`.
fn photo_gallery(dir: &Path, people: usize, per: usize) -> PathBuf {
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let dim = 128;
    let vecs = clustered(people * per, per, dim, 0.3, 5);
    let mut paths = Vec::new();
    let mut boxes = Vec::new();
    for i in 0..people * per {
        let p = i / per;
        let img = image::RgbImage::from_fn(120, 90, |x, y| {
            image::Rgb([
                (p * 40 % 256) as u8,
                ((x + 2 * y) % 256) as u8,
                (255 - p * 30 % 256) as u8,
            ])
        });
        let ext = if i % 2 == 0 { "jpg" } else { "png" };
        let path = photos.join(format!("p{p}-{i}.{ext}"));
        img.save(&path).unwrap();
        paths.push(path.display().to_string());
        boxes.push([20.0f32, 10.0, 80.0, 70.0]);
    }
    // One face's photo is missing: the report shows a placeholder.
    paths[1] = dir.join("photos/missing.jpg").display().to_string();
    let flat: Vec<f32> = vecs.iter().flatten().copied().collect();
    let bbox_item = Arc::new(arrow::datatypes::Field::new(
        "item",
        arrow::datatypes::DataType::Float32,
        false,
    ));
    let bbox = arrow::array::FixedSizeListArray::try_new(
        bbox_item,
        4,
        Arc::new(arrow::array::Float32Array::from(
            boxes.iter().flatten().copied().collect::<Vec<_>>(),
        )),
        Some(
            (0..people * per)
                .map(|i| i % 2 == 0)
                .collect::<Vec<_>>()
                .into(),
        ),
    )
    .unwrap();
    let faces = dir.join("faces.parquet");
    write_parquet(
        &faces,
        vec![
            (
                "face_id",
                Arc::new(StringArray::from_iter_values(
                    (0..people * per).map(|i| format!("f{i:03}")),
                )) as ArrayRef,
            ),
            (
                "identity",
                Arc::new(StringArray::from_iter_values(
                    (0..people * per).map(|i| format!("person {}", i / per)),
                )),
            ),
            ("path", Arc::new(StringArray::from(paths))),
            ("bbox", Arc::new(bbox)),
            ("embedding", embedding_column(flat, dim)),
        ],
        100,
    );
    let g = dir.join("g");
    run_ok(&["index", arg(&faces), "-o", arg(&g), "--bits", "128"]);
    g
}

#[cfg(feature = "vision")]
/// The page's DOM after its scripts ran, from headless Chromium (Debian's `chromium`,
/// installed by scripts/setup.sh).
fn rendered_dom(page: &Path) -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} not found: run scripts/setup.sh (installs Debian's chromium) or set CHROMIUM"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[cfg(feature = "vision")]
#[test]
fn report_renders_in_headless_chromium_with_thumbnails() {
    let dir = tempfile::tempdir().unwrap();
    let g = photo_gallery(dir.path(), 60, 3);
    let report = dir.path().join("report.html");
    let out = bin()
        .args(["dedup", "--gallery", arg(&g), "--threshold", "0.5", "-o"])
        .arg(dir.path().join("pairs.parquet"))
        .args(["--report", arg(&report), "--min-faces", "1"])
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("60 clusters"), "{stdout}");
    assert!(stdout.contains("1 photos unreadable"), "{stdout}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
    let dom = rendered_dom(&report);
    assert!(
        dom.contains(r#"id="status" data-state="ready">clusters 1–50 of 60"#),
        "page rendered: {}",
        &dom[dom.find("id=\"status\"").unwrap_or(0)..][..200.min(dom.len())]
    );
    assert_eq!(
        dom.matches(r#"class="cluster""#).count(),
        50,
        "one page of 50"
    );
    // 50 clusters of 3 faces, one photo missing: 149 or 150 thumbnails on the first page.
    let thumbs = dom.matches("src=\"data:image/jpeg;base64,").count();
    assert!((149..=150).contains(&thumbs), "{thumbs} thumbnails");
    assert!(dom.contains("cosine 1.000 to f"), "hover text with cosine");
}

#[test]
fn bad_thresholds_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let g = chain_gallery(dir.path());
    let out = dir.path().join("pairs.parquet");
    let run = |t: &str| {
        bin()
            .args([
                "dedup",
                "--gallery",
                arg(&g),
                "--threshold",
                t,
                "-o",
                arg(&out),
            ])
            .output()
            .unwrap()
    };
    for t in ["NaN", "1.5", "-1.01", "inf", "abc"] {
        assert_fails_with(&run(t), 2, &["threshold"]);
    }
    // Below the calibrated range without a radius: say how to go on.
    assert_fails_with(&run("0.05"), 2, &["--radius"]);
    assert!(!out.exists(), "no output on failure");
}
