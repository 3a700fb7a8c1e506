//! The streaming embedding reader on real Parquet files of every accepted layout.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, FixedSizeListArray, Int64Array, LargeListArray, ListArray};
use arrow::datatypes::{Float16Type, Float32Type, Float64Type};
use faceflash_batch::store::{resolve_inputs, EmbeddingReader, ReadOptions};
use half::f16;

use crate::common::{path_in, vectors, write_parquet};

fn read_all(
    files: Vec<std::path::PathBuf>,
    options: ReadOptions,
) -> Vec<faceflash_batch::store::EmbeddingBatch> {
    EmbeddingReader::new(files, options)
        .collect::<Result<Vec<_>, _>>()
        .expect("valid input")
}

fn assert_unit_rows(batch: &faceflash_batch::store::EmbeddingBatch) {
    for i in 0..batch.len() {
        let n: f32 = batch.vector(i).iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-5, "row {i} norm² {n}");
    }
}

#[test]
fn reads_f16_f64_list_and_large_list_layouts_alike() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vectors(50, 12, 1);
    let f32_fixed: ArrayRef = Arc::new(
        FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            rows.iter()
                .map(|r| Some(r.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
            12,
        ),
    );
    let f16_fixed: ArrayRef = Arc::new(
        FixedSizeListArray::from_iter_primitive::<Float16Type, _, _>(
            rows.iter().map(|r| {
                Some(
                    r.iter()
                        .map(|&x| Some(f16::from_f32(x)))
                        .collect::<Vec<_>>(),
                )
            }),
            12,
        ),
    );
    let f64_list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(
        rows.iter()
            .map(|r| Some(r.iter().map(|&x| Some(x as f64)).collect::<Vec<_>>())),
    ));
    let f32_large: ArrayRef = Arc::new(LargeListArray::from_iter_primitive::<Float32Type, _, _>(
        rows.iter()
            .map(|r| Some(r.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
    ));
    let mut results = Vec::new();
    for (name, column) in [
        ("f32", f32_fixed),
        ("f16", f16_fixed),
        ("f64", f64_list),
        ("large", f32_large),
    ] {
        let path = path_in(&dir, &format!("{name}.parquet"));
        write_parquet(&path, vec![("embedding", column)], 1000);
        let batches = read_all(vec![path], ReadOptions::default());
        let all: Vec<f32> = batches.iter().flat_map(|b| b.vectors.clone()).collect();
        batches.iter().for_each(assert_unit_rows);
        results.push((name, all));
    }
    let (_, reference) = &results[0];
    assert_eq!(reference.len(), 50 * 12);
    for (name, v) in &results[1..] {
        let tol = if *name == "f16" { 2e-3 } else { 1e-6 };
        let worst = v
            .iter()
            .zip(reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < tol, "{name}: max difference {worst}");
    }
}

#[test]
fn derives_face_ids_and_casts_integer_ids() {
    let dir = tempfile::tempdir().unwrap();
    let a = path_in(&dir, "a.parquet");
    let emb = |seed| -> ArrayRef {
        Arc::new(
            FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
                vectors(3, 4, seed)
                    .into_iter()
                    .map(|r| Some(r.into_iter().map(Some).collect::<Vec<_>>())),
                4,
            ),
        )
    };
    write_parquet(&a, vec![("embedding", emb(1))], 10);
    let b = path_in(&dir, "b.parquet");
    let int_ids: ArrayRef = Arc::new(Int64Array::from(vec![7, 8, 9]));
    write_parquet(
        &b,
        vec![
            ("face_id", int_ids),
            (
                "identity",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(1)])),
            ),
            ("embedding", emb(2)),
        ],
        10,
    );
    let files = resolve_inputs(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(
        files,
        vec![a.clone(), b.clone()],
        "directory expanded in sorted order"
    );
    let batches = read_all(files, ReadOptions::default());
    assert_eq!(batches[0].face_id.value(2), format!("{}#2", a.display()));
    assert_eq!(batches[0].identity.null_count(), 3);
    assert_eq!(batches[1].face_id.value(0), "7");
    assert_eq!(batches[1].identity.value(2), "1");
    assert!(batches[1].identity.is_null(1));
}

#[test]
fn batches_stay_bounded_and_rows_are_numbered_from_the_file_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "big.parquet");
    let column: ArrayRef = Arc::new(
        FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            vectors(5000, 8, 3)
                .into_iter()
                .map(|r| Some(r.into_iter().map(Some).collect::<Vec<_>>())),
            8,
        ),
    );
    write_parquet(&path, vec![("embedding", column)], 5000);
    let options = ReadOptions {
        batch_size: 700,
        keep_columns: true,
        ..ReadOptions::default()
    };
    let batches = read_all(vec![path], options);
    assert!(batches.iter().all(|b| b.len() <= 700));
    assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), 5000);
    let mut expected_first = 0;
    for b in &batches {
        assert_eq!(b.first_row, expected_first);
        assert_eq!(b.columns.as_ref().map(|c| c.num_rows()), Some(b.len()));
        expected_first += b.len() as u64;
    }
}
