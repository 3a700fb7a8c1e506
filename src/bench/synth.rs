//! Deterministic synthetic face embeddings (`faceflash-batch synth`).
//!
//! Identities have several samples each. Every vector lives in a latent space with a decaying
//! (power-law) PCA spectrum whose effective dimension is about 100, so two unrelated faces
//! have cosine ≈ 0 with sd ≈ 0.1, as real face embeddings do; a fixed random rotation hides
//! the latent axes. A sample is `normalise(centre + t · noise)` with a per-sample "quality"
//! `t` drawn log-normally, so same-identity cosine centres near 0.6 with a wide spread.
//! A share of the queries belongs to identities absent from the gallery.
//!
//! Every identity, gallery row and query draws from its own ChaCha stream, so the output is
//! identical whatever the thread count and batch size.

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use std::path::{Path, PathBuf};

use arrow::array::StringArray;

use crate::linalg::random_orthogonal;
use crate::progress::Progress;
use crate::store::{l2_normalize, FacesWriter, Provenance, StoreError};

/// Parameters of a synthetic data set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthParams {
    /// Gallery rows.
    pub n: usize,
    /// Query rows.
    pub queries: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Gallery samples per identity.
    pub per_identity: usize,
    /// Share of queries whose identity is not in the gallery.
    pub absent_share: f64,
    /// Median same-identity cosine.
    pub intra_cosine: f64,
    /// Random seed.
    pub seed: u64,
    /// Rows of a training table (`fit.parquet`) whose identities appear in neither the
    /// gallery nor the queries; 0: no such table.
    #[serde(skip_serializing_if = "is_zero")]
    pub fit: usize,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl Default for SynthParams {
    fn default() -> Self {
        Self {
            n: 10_000,
            queries: 1_000,
            dim: 512,
            per_identity: 4,
            absent_share: 0.1,
            intra_cosine: 0.6,
            seed: 0,
            fit: 0,
        }
    }
}

/// Which table a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `gallery.parquet`
    Gallery,
    /// `queries.parquet`
    Queries,
    /// `fit.parquet`: identities disjoint from the gallery's and the queries'.
    Fit,
}

/// One generated chunk of rows.
pub struct SynthChunk {
    /// Face ids (`g0000000042`, `q0000000007`).
    pub face_id: Vec<String>,
    /// Identity names (`id0000012`).
    pub identity: Vec<String>,
    /// Row-major unit vectors.
    pub vectors: Vec<f32>,
}

const STREAM_ROTATION: u64 = 0;
const STREAM_IDENTITY: u64 = 1 << 62;
const STREAM_GALLERY: u64 = 2 << 62;
const STREAM_QUERY: u64 = 3 << 62;
/// Fit rows: stream 0 (the rotation's) with bit 61 set, never reached by the others.
const STREAM_FIT: u64 = 1 << 61;
/// Width of the log-normal spread of the per-sample noise level.
const QUALITY_SPREAD: f64 = 0.35;

/// A generator for one parameter set: holds the spectrum and the rotation.
pub struct SynthGenerator {
    params: SynthParams,
    scale: Vec<f32>,
    rotation: Array2<f32>,
    identities: usize,
}

impl SynthGenerator {
    /// Prepares the spectrum and the rotation for `params`.
    pub fn new(params: SynthParams) -> Self {
        let dim = params.dim.max(1);
        let exponent = spectrum_exponent(dim, target_effective_dim(dim));
        let scale = (0..dim)
            .map(|j| ((j + 1) as f64).powf(-exponent / 2.0) as f32)
            .collect();
        let mut rng = rng_for(params.seed, STREAM_ROTATION);
        let rotation = random_orthogonal(dim, &mut rng).mapv(|x| x as f32);
        let identities = params.n.div_ceil(params.per_identity.max(1)).max(1);
        Self {
            params,
            scale,
            rotation,
            identities,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &SynthParams {
        &self.params
    }

    /// Number of identities in the gallery.
    pub fn identities(&self) -> usize {
        self.identities
    }

    /// Rows `start..end` of `table`.
    pub fn chunk(&self, table: Table, start: usize, end: usize) -> SynthChunk {
        let dim = self.params.dim;
        let rows = end - start;
        let mut latent = vec![0f32; rows * dim];
        let mut face_id = Vec::with_capacity(rows);
        let mut identity = Vec::with_capacity(rows);
        let mut centre = vec![0f32; dim];
        let mut centre_of: Option<usize> = None;
        let mut noise = vec![0f32; dim];
        for (i, out) in latent.chunks_exact_mut(dim).enumerate() {
            let row = start + i;
            let (id, mut rng, prefix) = match table {
                Table::Gallery => (
                    row / self.params.per_identity.max(1),
                    rng_for(self.params.seed, STREAM_GALLERY | row as u64),
                    'g',
                ),
                Table::Queries => {
                    let mut rng = rng_for(self.params.seed, STREAM_QUERY | row as u64);
                    let id = if rng.random::<f64>() < self.params.absent_share {
                        self.identities + row
                    } else {
                        rng.random_range(0..self.identities)
                    };
                    (id, rng, 'q')
                }
                // After every gallery identity and every absent query identity.
                Table::Fit => (
                    self.identities + self.params.queries + row / self.params.per_identity.max(1),
                    rng_for(self.params.seed, STREAM_FIT | row as u64),
                    'f',
                ),
            };
            if centre_of != Some(id) {
                self.latent_unit(
                    &mut rng_for(self.params.seed, STREAM_IDENTITY | id as u64),
                    &mut centre,
                );
                centre_of = Some(id);
            }
            self.latent_unit(&mut rng, &mut noise);
            let z: f64 = rng.sample(StandardNormal);
            let t = (self.base_noise() * (QUALITY_SPREAD * z).exp()) as f32;
            for ((o, c), n) in out.iter_mut().zip(&centre).zip(&noise) {
                *o = c + t * n;
            }
            l2_normalize(out);
            face_id.push(format!("{prefix}{row:010}"));
            identity.push(format!("id{id:07}"));
        }
        let latent = ArrayView2::from_shape((rows, dim), &latent).expect("chunk shape");
        let rotated = latent.dot(&self.rotation);
        let mut vectors = rotated.into_raw_vec_and_offset().0;
        vectors.chunks_exact_mut(dim).for_each(|v| {
            l2_normalize(v);
        });
        SynthChunk {
            face_id,
            identity,
            vectors,
        }
    }

    /// Generates chunks `[start, end)` in parallel, in order.
    pub fn chunks_parallel(&self, table: Table, ranges: &[(usize, usize)]) -> Vec<SynthChunk> {
        ranges
            .par_iter()
            .map(|&(s, e)| self.chunk(table, s, e))
            .collect()
    }

    /// Noise level giving the requested median same-identity cosine: two samples with noise
    /// `t` have cosine ≈ 1 / (1 + t²).
    fn base_noise(&self) -> f64 {
        let c = self.params.intra_cosine.clamp(0.05, 0.99);
        (1.0 / c - 1.0).sqrt()
    }

    fn latent_unit(&self, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        for (o, s) in out.iter_mut().zip(&self.scale) {
            let g: f32 = rng.sample(StandardNormal);
            *o = g * s;
        }
        l2_normalize(out);
    }
}

/// Rows generated per chunk (one Parquet record batch).
pub const CHUNK_ROWS: usize = 8192;

/// Where [`write_dataset`] put its tables.
#[derive(Debug, Clone)]
pub struct SynthOutput {
    /// `DIR/gallery.parquet`
    pub gallery: PathBuf,
    /// `DIR/queries.parquet`
    pub queries: PathBuf,
    /// `DIR/fit.parquet`, when [`SynthParams::fit`] is not 0.
    pub fit: Option<PathBuf>,
    /// Identities in the gallery.
    pub identities: usize,
}

/// Writes `out_dir/gallery.parquet`, `out_dir/queries.parquet` and, when asked for,
/// `out_dir/fit.parquet` (atomically, with the parameters in the provenance metadata), generating chunks in parallel with memory bounded
/// by a few chunks per thread.
pub fn write_dataset(params: &SynthParams, out_dir: &Path) -> Result<SynthOutput, StoreError> {
    let generator = SynthGenerator::new(params.clone());
    let gallery = out_dir.join("gallery.parquet");
    let queries = out_dir.join("queries.parquet");
    let fit = out_dir.join("fit.parquet");
    let progress = Progress::new(
        "synth",
        "faces",
        Some((params.n + params.queries + params.fit) as u64),
    );
    let mut tables = vec![
        (Table::Gallery, &gallery, params.n),
        (Table::Queries, &queries, params.queries),
    ];
    if params.fit > 0 {
        tables.push((Table::Fit, &fit, params.fit));
    }
    for (table, path, rows) in tables {
        let mut provenance = Provenance::new("synth");
        provenance.params(&serde_json::to_value(params).unwrap_or_default());
        provenance.set(
            "synth.table",
            match table {
                Table::Gallery => "gallery",
                Table::Queries => "queries",
                Table::Fit => "fit",
            },
        );
        let mut writer = FacesWriter::create(path, params.dim, &provenance)?;
        let ranges: Vec<(usize, usize)> = (0..rows)
            .step_by(CHUNK_ROWS)
            .map(|s| (s, (s + CHUNK_ROWS).min(rows)))
            .collect();
        let window = 2 * rayon::current_num_threads().max(1);
        for group in ranges.chunks(window) {
            for chunk in generator.chunks_parallel(table, group) {
                let n = chunk.face_id.len() as u64;
                writer.write(
                    StringArray::from(chunk.face_id),
                    StringArray::from_iter_values(chunk.identity),
                    chunk.vectors,
                )?;
                progress.inc(n);
            }
        }
        writer.finish()?;
    }
    progress.finish();
    Ok(SynthOutput {
        gallery,
        queries,
        fit: (params.fit > 0).then_some(fit),
        identities: generator.identities(),
    })
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Effective dimension aimed at: 100 (impostor cosine sd ≈ 0.1), or half of a small `dim`.
fn target_effective_dim(dim: usize) -> f64 {
    (dim as f64 / 2.0).clamp(1.0, 100.0)
}

/// Power-law exponent `a` (eigenvalues `(j+1)^-a`) whose participation ratio
/// `(Σλ)² / Σλ²` equals `target`, found by bisection.
fn spectrum_exponent(dim: usize, target: f64) -> f64 {
    let effective = |a: f64| {
        let (mut s1, mut s2) = (0f64, 0f64);
        for j in 1..=dim {
            let l = (j as f64).powf(-a);
            s1 += l;
            s2 += l * l;
        }
        s1 * s1 / s2
    };
    let (mut lo, mut hi) = (0.0f64, 4.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if effective(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_do_not_depend_on_chunking() {
        let g = SynthGenerator::new(SynthParams {
            n: 40,
            queries: 10,
            dim: 16,
            ..Default::default()
        });
        let whole = g.chunk(Table::Gallery, 0, 40);
        let parts = g.chunks_parallel(Table::Gallery, &[(0, 7), (7, 30), (30, 40)]);
        let joined: Vec<f32> = parts.iter().flat_map(|c| c.vectors.clone()).collect();
        assert_eq!(whole.vectors, joined);
        assert_eq!(whole.face_id[39], "g0000000039");
        assert_eq!(whole.identity[39], "id0000009");
    }

    #[test]
    fn fit_rows_have_identities_of_their_own() {
        let g = SynthGenerator::new(SynthParams {
            n: 40,
            queries: 30,
            dim: 16,
            absent_share: 0.5,
            fit: 20,
            ..Default::default()
        });
        let seen = |t, n| -> std::collections::HashSet<String> {
            g.chunk(t, 0, n).identity.into_iter().collect()
        };
        let fit = seen(Table::Fit, 20);
        assert_eq!(fit.len(), 5, "4 rows per identity");
        assert!(fit.is_disjoint(&seen(Table::Gallery, 40)));
        assert!(fit.is_disjoint(&seen(Table::Queries, 30)));
        assert_eq!(g.chunk(Table::Fit, 3, 4).face_id, ["f0000000003"]);
    }

    #[test]
    fn spectrum_hits_target_effective_dimension() {
        let a = spectrum_exponent(512, 100.0);
        assert!(a > 0.5 && a < 1.0, "exponent {a}");
    }
}
