//! Similarity statistics of a faces table: the cosine distribution of same-identity
//! ("genuine") and different-identity ("impostor") pairs.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};

/// Summary of one cosine distribution.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CosineStats {
    /// Pairs measured.
    pub pairs: usize,
    /// Mean cosine.
    pub mean: f64,
    /// Standard deviation.
    pub sd: f64,
    /// 5th percentile.
    pub p05: f64,
    /// 95th percentile.
    pub p95: f64,
}

impl CosineStats {
    fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(|a, b| a.total_cmp(b));
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let pct = |p: f64| values[((n - 1.0) * p).round() as usize];
        Self {
            pairs: values.len(),
            mean,
            sd: var.sqrt(),
            p05: pct(0.05),
            p95: pct(0.95),
        }
    }
}

/// Genuine and impostor cosine statistics over a set of rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimilaritySummary {
    /// Rows examined.
    pub rows: usize,
    /// Distinct identities among them.
    pub identities: usize,
    /// Same-identity pairs.
    pub genuine: CosineStats,
    /// Different-identity pairs (random sample).
    pub impostor: CosineStats,
}

/// Measures up to `max_pairs` genuine and impostor pairs among `vectors` (unit rows of
/// `dim`), grouped by `identity` (rows without one are ignored). Deterministic.
pub fn similarity_summary(
    vectors: &[f32],
    dim: usize,
    identity: &[Option<&str>],
    max_pairs: usize,
) -> SimilaritySummary {
    let rows = identity.len();
    let row = |i: usize| &vectors[i * dim..(i + 1) * dim];
    let cos = |a: usize, b: usize| -> f64 {
        row(a)
            .iter()
            .zip(row(b))
            .map(|(x, y)| (*x as f64) * (*y as f64))
            .sum()
    };
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, id) in identity.iter().enumerate() {
        if let Some(id) = id {
            groups.entry(id).or_default().push(i);
        }
    }
    let mut keys: Vec<&&str> = groups.keys().collect();
    keys.sort();
    let mut genuine = Vec::new();
    'outer: for k in keys {
        let members = &groups[*k];
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                genuine.push(cos(a, b));
                if genuine.len() >= max_pairs {
                    break 'outer;
                }
            }
        }
    }
    let mut impostor = Vec::new();
    let labelled: Vec<usize> = (0..rows).filter(|&i| identity[i].is_some()).collect();
    if groups.len() > 1 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut attempts = 0;
        while impostor.len() < max_pairs && attempts < max_pairs * 20 {
            attempts += 1;
            let a = labelled[rng.random_range(0..labelled.len())];
            let b = labelled[rng.random_range(0..labelled.len())];
            if identity[a] != identity[b] {
                impostor.push(cos(a, b));
            }
        }
    }
    SimilaritySummary {
        rows,
        identities: groups.len(),
        genuine: CosineStats::of(genuine),
        impostor: CosineStats::of(impostor),
    }
}

/// Rows kept for the similarity statistics of a table summary (`inspect`, `demo`).
pub const SUMMARY_ROWS: usize = 20_000;

/// Shape and similarity statistics of a faces table, read back through the validating reader.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableSummary {
    /// Files read.
    pub files: usize,
    /// Rows in all files (every row was validated).
    pub rows: u64,
    /// Embedding dimension.
    pub dim: usize,
    /// Rows with an identity.
    pub labelled_rows: u64,
    /// Statistics over the first `max_rows` rows.
    pub similarity: SimilaritySummary,
}

/// Reads (and so validates) every row of `files`, keeping the first `max_rows` rows for
/// [`similarity_summary`].
pub fn table_summary(
    files: Vec<std::path::PathBuf>,
    options: crate::store::ReadOptions,
    max_rows: usize,
    progress: &crate::progress::Progress,
) -> Result<TableSummary, crate::store::InputError> {
    use arrow::array::Array;
    let n_files = files.len();
    let mut vectors = Vec::new();
    let mut identities: Vec<Option<String>> = Vec::new();
    let (mut rows, mut labelled, mut dim) = (0u64, 0u64, 0usize);
    for batch in crate::store::EmbeddingReader::new(files, options) {
        let batch = batch?;
        dim = batch.dim;
        rows += batch.len() as u64;
        labelled += (batch.len() - batch.identity.null_count()) as u64;
        let take = max_rows.saturating_sub(identities.len()).min(batch.len());
        vectors.extend_from_slice(&batch.vectors[..take * dim]);
        identities.extend((0..take).map(|i| {
            batch
                .identity
                .is_valid(i)
                .then(|| batch.identity.value(i).to_string())
        }));
        progress.inc(batch.len() as u64);
    }
    let ids: Vec<Option<&str>> = identities.iter().map(|s| s.as_deref()).collect();
    Ok(TableSummary {
        files: n_files,
        rows,
        dim,
        labelled_rows: labelled,
        similarity: similarity_summary(&vectors, dim, &ids, 50_000),
    })
}

/// The median of `values` (the upper one of an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
