//! Every kind of bad input gives exit code 3 and a message naming the file, row and field.

use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, ListArray, StringArray};
use arrow::datatypes::Float32Type;

use crate::common::{assert_fails_with, bin, path_in, vectors, write_parquet};

fn list_column(rows: Vec<Option<Vec<f32>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
        rows.into_iter()
            .map(|r| r.map(|v| v.into_iter().map(Some).collect::<Vec<_>>())),
    ))
}

fn fixed_column(rows: Vec<Vec<f32>>, dim: i32) -> ArrayRef {
    Arc::new(
        FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            rows.into_iter()
                .map(|v| Some(v.into_iter().map(Some).collect::<Vec<_>>())),
            dim,
        ),
    )
}

fn ids(n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("f{i}")),
    ))
}

fn inspect(path: &std::path::Path) -> std::process::Output {
    bin().arg("inspect").arg(path).output().unwrap()
}

#[test]
fn wrong_dimension_in_a_list_column_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    let mut rows: Vec<Option<Vec<f32>>> = vectors(6, 8, 1).into_iter().map(Some).collect();
    rows[3] = Some(vec![0.5; 7]);
    write_parquet(
        &path,
        vec![("face_id", ids(6)), ("embedding", list_column(rows))],
        100,
    );
    let out = inspect(&path);
    assert_fails_with(
        &out,
        3,
        &[
            "faces.parquet",
            "row 3",
            "`embedding`",
            "dimension 7, expected 8 (the dimension of the first row)",
        ],
    );
}

#[test]
fn mixed_dimension_across_files_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = path_in(&dir, "a.parquet");
    let b = path_in(&dir, "b.parquet");
    write_parquet(
        &a,
        vec![("embedding", fixed_column(vectors(4, 8, 1), 8))],
        100,
    );
    write_parquet(
        &b,
        vec![("embedding", fixed_column(vectors(4, 6, 2), 6))],
        100,
    );
    let out = bin().arg("inspect").arg(dir.path()).output().unwrap();
    assert_fails_with(
        &out,
        3,
        &["b.parquet, row 0", "dimension 6, expected 8", "a.parquet"],
    );
}

#[test]
fn nan_and_infinity_name_row_and_element() {
    for (bad, label) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf")] {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "faces.parquet");
        let mut rows = vectors(5, 8, 3);
        rows[2][5] = bad;
        write_parquet(&path, vec![("embedding", fixed_column(rows, 8))], 100);
        let out = inspect(&path);
        assert_fails_with(
            &out,
            3,
            &[
                "faces.parquet, row 2",
                "element 5",
                label,
                "not a finite number",
            ],
        );
    }
}

#[test]
fn zero_vector_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    let mut rows = vectors(3, 8, 4);
    rows[1] = vec![0.0; 8];
    write_parquet(&path, vec![("embedding", fixed_column(rows, 8))], 100);
    assert_fails_with(&inspect(&path), 3, &["faces.parquet, row 1", "zero vector"]);
}

#[test]
fn null_embedding_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    let mut rows: Vec<Option<Vec<f32>>> = vectors(4, 8, 5).into_iter().map(Some).collect();
    rows[2] = None;
    write_parquet(&path, vec![("embedding", list_column(rows))], 100);
    assert_fails_with(
        &inspect(&path),
        3,
        &["faces.parquet, row 2", "`embedding`", "null"],
    );
}

#[test]
fn null_face_id_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    let face_ids: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("c")]));
    write_parquet(
        &path,
        vec![
            ("face_id", face_ids),
            ("embedding", fixed_column(vectors(3, 4, 6), 4)),
        ],
        100,
    );
    assert_fails_with(
        &inspect(&path),
        3,
        &["faces.parquet, row 1", "`face_id`", "null"],
    );
}

#[test]
fn missing_column_lists_the_columns_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    write_parquet(
        &path,
        vec![
            ("face_id", ids(3)),
            ("vec", fixed_column(vectors(3, 4, 7), 4)),
        ],
        100,
    );
    assert_fails_with(
        &inspect(&path),
        3,
        &[
            "faces.parquet",
            "no column `embedding`",
            "face_id (Utf8)",
            "vec (",
        ],
    );
    // --column picks the right one.
    let ok = bin()
        .arg("inspect")
        .arg(&path)
        .args(["--column", "vec"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn unsupported_column_type_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    write_parquet(&path, vec![("embedding", ids(3))], 100);
    assert_fails_with(
        &inspect(&path),
        3,
        &[
            "faces.parquet",
            "`embedding` has type Utf8",
            "FixedSizeList",
        ],
    );
}

#[test]
fn a_file_that_is_not_parquet_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    std::fs::write(&path, b"face_id,embedding\na,1 2 3\n").unwrap();
    assert_fails_with(
        &inspect(&path),
        3,
        &["faces.parquet", "not a readable Parquet file"],
    );
}

#[test]
fn a_truncated_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    write_parquet(
        &path,
        vec![("embedding", fixed_column(vectors(2000, 16, 8), 16))],
        500,
    );
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails_with(&inspect(&path), 3, &["faces.parquet"]);
}

#[test]
fn a_corrupt_page_names_the_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    write_parquet(
        &path,
        vec![("embedding", fixed_column(vectors(4000, 16, 9), 16))],
        1000,
    );
    let mut bytes = std::fs::read(&path).unwrap();
    // Overwrite the middle of the data pages, leaving the footer intact.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b = 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    // The damage lands in a page header (a decode error) or in float payload (0xff bytes are
    // NaN): either way exit 3 naming the file and the row.
    assert_fails_with(&inspect(&path), 3, &["faces.parquet", "row"]);
}

#[test]
fn bad_row_after_the_first_batch_is_counted_from_the_file_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "faces.parquet");
    let mut rows = vectors(10_050, 4, 10);
    rows[10_017][1] = f32::NAN;
    write_parquet(&path, vec![("embedding", fixed_column(rows, 4))], 3000);
    assert_fails_with(&inspect(&path), 3, &["faces.parquet, row 10017"]);
}

#[test]
fn a_missing_input_and_an_empty_directory_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("inspect")
        .arg(dir.path().join("nope.parquet"))
        .output()
        .unwrap();
    assert_fails_with(&out, 3, &["nope.parquet", "no such file"]);
    let out = bin().arg("inspect").arg(dir.path()).output().unwrap();
    assert_fails_with(&out, 3, &["contains no .parquet files"]);
}
