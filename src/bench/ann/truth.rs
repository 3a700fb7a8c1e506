//! Exact cosine top-k of every query over the whole gallery (the ground truth every system
//! is scored against), by blocked matrix products; and tie-aware recall.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use ndarray::ArrayView2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use rayon::prelude::*;

use super::AnnError;
use crate::progress::Progress;
use crate::store::{AtomicOutput, StoreError};

/// Queries per tile (a tile's similarity block stays within a few MB).
const QUERY_TILE: usize = 128;
/// Gallery rows per block.
const GALLERY_BLOCK: usize = 4096;
/// Two cosines closer than this are a tie (the dot products of two systems differ by
/// rounding only).
pub const TIE_EPSILON: f32 = 1e-5;

/// Each query's `k` nearest gallery rows by exact cosine, best first; ties break by the
/// lower row. `gallery` and `queries` are row-major unit vectors of dimension `dim`.
pub fn exact_topk(
    gallery: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
    progress: Option<&Progress>,
) -> Vec<Vec<(f32, u32)>> {
    let n = gallery.len() / dim;
    let g = ArrayView2::from_shape((n, dim), gallery).expect("gallery shape");
    let nq = queries.len() / dim;
    let tiles: Vec<(usize, usize)> = (0..nq)
        .step_by(QUERY_TILE)
        .map(|s| (s, (s + QUERY_TILE).min(nq)))
        .collect();
    tiles
        .par_iter()
        .flat_map_iter(|&(q0, q1)| {
            let q = ArrayView2::from_shape((q1 - q0, dim), &queries[q0 * dim..q1 * dim])
                .expect("query shape");
            let mut best: Vec<Vec<(f32, u32)>> = vec![Vec::with_capacity(k + 1); q1 - q0];
            for b0 in (0..n).step_by(GALLERY_BLOCK) {
                let b1 = (b0 + GALLERY_BLOCK).min(n);
                let sims = q.dot(&g.slice(ndarray::s![b0..b1, ..]).t());
                for (list, row) in best.iter_mut().zip(sims.rows()) {
                    for (i, &c) in row.iter().enumerate() {
                        if list.len() == k && c <= list[k - 1].0 {
                            continue;
                        }
                        let pos = list.partition_point(|&(bc, _)| bc >= c);
                        list.insert(pos, (c, (b0 + i) as u32));
                        list.truncate(k);
                    }
                }
            }
            if let Some(p) = progress {
                p.inc((q1 - q0) as u64);
            }
            best
        })
        .collect()
}

/// Tie-aware recall@k of one query: the share of the first `k` results whose (true) cosine
/// reaches the `k`-th exact cosine (less [`TIE_EPSILON`]), so an equally near row counts as
/// found. `truth` is the query's exact list, best first; `found` the true cosines of what the
/// system returned, in its order.
pub fn recall_at(truth: &[(f32, u32)], found: &[f32], k: usize) -> f64 {
    let k = k.min(truth.len());
    if k == 0 {
        return 1.0;
    }
    let bar = truth[k - 1].0 - TIE_EPSILON;
    let hits = found.iter().take(k).filter(|&&c| c >= bar).count();
    hits.min(k) as f64 / k as f64
}

fn truth_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("query", DataType::UInt32, false),
        Field::new("rank", DataType::UInt32, false),
        Field::new("gallery_row", DataType::UInt32, false),
        Field::new("cosine", DataType::Float32, false),
    ]))
}

/// Writes the lists as `truth.parquet` (long format, one row per query and rank), atomically.
pub fn write_truth(path: &Path, lists: &[Vec<(f32, u32)>]) -> Result<(), AnnError> {
    let out = AtomicOutput::create(path)?;
    let parquet = |e| StoreError::Parquet {
        path: path.to_path_buf(),
        source: e,
    };
    let mut writer = ArrowWriter::try_new(out.file()?, truth_schema(), None).map_err(parquet)?;
    for (ci, chunk) in lists.chunks(8192).enumerate() {
        let mut query = Vec::new();
        let mut rank = Vec::new();
        let mut row = Vec::new();
        let mut cosine = Vec::new();
        for (qi, list) in chunk.iter().enumerate() {
            for (r, &(c, g)) in list.iter().enumerate() {
                query.push((ci * 8192 + qi) as u32);
                rank.push(r as u32);
                row.push(g);
                cosine.push(c);
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(query)),
            Arc::new(UInt32Array::from(rank)),
            Arc::new(UInt32Array::from(row)),
            Arc::new(Float32Array::from(cosine)),
        ];
        let batch =
            RecordBatch::try_new(truth_schema(), columns).map_err(|e| StoreError::Arrow {
                path: path.to_path_buf(),
                source: e,
            })?;
        writer.write(&batch).map_err(parquet)?;
    }
    writer.close().map_err(parquet)?;
    out.commit()?;
    Ok(())
}

/// Reads `truth.parquet` back into per-query lists (`queries` lists, best first).
pub fn read_truth(path: &Path, queries: usize) -> Result<Vec<Vec<(f32, u32)>>, AnnError> {
    let bad = |m: String| AnnError::data(path, m);
    let file = std::fs::File::open(path).map_err(|e| AnnError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(format!("not a truth table: {e}")))?;
    let mut lists = vec![Vec::new(); queries];
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| bad(format!("no column `{name}`")))
        };
        let u32s = |name: &str| -> Result<UInt32Array, AnnError> {
            col(name)?
                .as_any()
                .downcast_ref::<UInt32Array>()
                .cloned()
                .ok_or_else(|| bad(format!("column `{name}` is not UInt32")))
        };
        let (query, row) = (u32s("query")?, u32s("gallery_row")?);
        let cosine = col("cosine")?
            .as_any()
            .downcast_ref::<Float32Array>()
            .cloned()
            .ok_or_else(|| bad("column `cosine` is not Float32".into()))?;
        for i in 0..batch.num_rows() {
            let q = query.value(i) as usize;
            let list = lists
                .get_mut(q)
                .ok_or_else(|| bad(format!("query {q} beyond the {queries} queries")))?;
            list.push((cosine.value(i), row.value(i)));
        }
    }
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &mut [f32]) {
        crate::store::l2_normalize(v);
    }

    #[test]
    fn topk_matches_a_plain_sort_and_round_trips() {
        let dim = 8;
        let mut gallery: Vec<f32> = (0..5000 * dim)
            .map(|i| ((i * 7919) % 101) as f32 - 50.0)
            .collect();
        gallery.chunks_exact_mut(dim).for_each(unit);
        let mut queries: Vec<f32> = (0..300 * dim)
            .map(|i| ((i * 104729) % 97) as f32 - 48.0)
            .collect();
        queries.chunks_exact_mut(dim).for_each(unit);
        let lists = exact_topk(&gallery, &queries, dim, 5, None);
        for (qi, list) in lists.iter().enumerate() {
            let q = &queries[qi * dim..(qi + 1) * dim];
            let mut all: Vec<(f32, u32)> = gallery
                .chunks_exact(dim)
                .enumerate()
                .map(|(r, g)| (q.iter().zip(g).map(|(a, b)| a * b).sum(), r as u32))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (got, want) in list.iter().zip(&all) {
                assert!(
                    (got.0 - want.0).abs() < 1e-5,
                    "query {qi}: {got:?} vs {want:?}"
                );
            }
            assert_eq!(list.len(), 5);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("truth.parquet");
        write_truth(&path, &lists).unwrap();
        assert_eq!(read_truth(&path, lists.len()).unwrap(), lists);
    }

    #[test]
    fn recall_counts_ties_as_found() {
        let truth = [(0.9, 1), (0.8, 2), (0.8, 3)];
        assert_eq!(recall_at(&truth, &[0.9], 1), 1.0);
        assert_eq!(recall_at(&truth, &[0.85], 1), 0.0);
        // Row 4 at cosine 0.8 ties with the third: found.
        assert_eq!(recall_at(&truth, &[0.9, 0.8, 0.8], 3), 1.0);
        assert!((recall_at(&truth, &[0.9, 0.7, 0.8], 3) - 2.0 / 3.0).abs() < 1e-12);
    }
}
