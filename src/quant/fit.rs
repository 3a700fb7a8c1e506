//! Fitting a quantizer in one streaming pass over the input.
//!
//! 1. Every row feeds a streaming mean/covariance (f64) and a seeded reservoir sample.
//! 2. PCA: symmetric eigendecomposition of the covariance; the first block keeps the top
//!    `min(bits, dim)` components.
//! 3. ITQ on the training part of the sample learns the first block's rotation; when
//!    `bits > dim`, further blocks use independent random orthogonal rotations of the centred
//!    space. All rotations are folded into one `dim × bits` projection.
//! 4. Per-bit thresholds are the medians of the centred projections of the training rows.
//! 5. Held-out sample rows calibrate the rerank candidates and dedup radii.

use std::time::Instant;

use ndarray::{s, Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::calibrate::calibrate;
use super::itq::itq;
use super::moments::Moments;
use super::reservoir::Reservoir;
use super::{Calibration, FitInfo, QuantError, Quantizer};
use crate::linalg::{par_matmul_rows, random_orthogonal, symmetric_eigen};
use crate::progress::Progress;
use crate::store::{EmbeddingBatch, InputError};

/// Fewest rows a quantizer can be fitted on.
pub const MIN_FIT_ROWS: usize = 100;
/// Default rows ITQ iterates on: each iteration costs two `rows × c × c` products and one
/// `c × c` SVD, so 10,000 rows keep 50 iterations of a 512-bit fit around 15 s on 2 cores.
pub const DEFAULT_ITQ_ROWS: usize = 10_000;
/// Most held-out rows used for calibration (by default a tenth of the sample, up to this).
pub const MAX_HOLDOUT: usize = 2000;

const STREAM_SPLIT: u64 = 1;
const STREAM_ROTATION: u64 = 2 << 32;

/// Parameters of a fit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FitParams {
    /// Code length: a multiple of 64 from 64 to 2048.
    pub bits: usize,
    /// Reservoir sample size (rows kept for ITQ, thresholds and calibration).
    pub sample: usize,
    /// ITQ iteration cap.
    pub iterations: usize,
    /// Relative objective improvement below which ITQ stops.
    pub tolerance: f64,
    /// Random seed.
    pub seed: u64,
    /// Held-out rows for calibration (default: a tenth of the sample, at most 2,000).
    pub holdout: Option<usize>,
    /// Training rows ITQ iterates on (the rest still set the thresholds).
    pub itq_rows: usize,
}

impl Default for FitParams {
    fn default() -> Self {
        Self {
            bits: 512,
            sample: 50_000,
            iterations: 50,
            tolerance: 1e-6,
            seed: 0,
            holdout: None,
            itq_rows: DEFAULT_ITQ_ROWS,
        }
    }
}

impl FitParams {
    /// Checks the parameters before any input is read.
    pub fn validate(&self) -> Result<(), QuantError> {
        if self.bits < 64 || self.bits > 2048 || !self.bits.is_multiple_of(64) {
            return Err(QuantError::Params(format!(
                "bits must be a multiple of 64 from 64 to 2048, got {}",
                self.bits
            )));
        }
        if self.itq_rows == 0 {
            return Err(QuantError::Params("ITQ needs at least one row".into()));
        }
        if self.sample < MIN_FIT_ROWS {
            return Err(QuantError::Params(format!(
                "the sample must hold at least {MIN_FIT_ROWS} rows, got {}",
                self.sample
            )));
        }
        Ok(())
    }
}

/// Fits a quantizer on a stream of embedding batches.
pub fn fit<I>(
    batches: I,
    params: &FitParams,
    progress: Option<&Progress>,
) -> Result<Quantizer, QuantError>
where
    I: Iterator<Item = Result<EmbeddingBatch, InputError>>,
{
    params.validate()?;
    let start = Instant::now();
    let mut state: Option<(Moments, Reservoir)> = None;
    for batch in batches {
        let batch = batch?;
        let (moments, reservoir) = state.get_or_insert_with(|| {
            (
                Moments::new(batch.dim),
                Reservoir::new(batch.dim, params.sample, params.seed),
            )
        });
        moments.add(&batch.vectors);
        reservoir.offer(&batch.vectors);
        if let Some(p) = progress {
            p.inc(batch.len() as u64);
        }
    }
    let Some((moments, reservoir)) = state else {
        return Err(QuantError::Unfittable("the input has no rows".into()));
    };
    let rows_seen = reservoir.seen();
    if rows_seen < MIN_FIT_ROWS as u64 {
        return Err(QuantError::Unfittable(format!(
            "need at least {MIN_FIT_ROWS} rows, the input has {rows_seen}"
        )));
    }
    let phase = |name: &str, since: &mut Instant| {
        tracing::debug!(
            event = "fit_phase",
            phase = name,
            seconds = since.elapsed().as_secs_f64()
        );
        *since = Instant::now();
    };
    let mut since = Instant::now();
    tracing::debug!(
        event = "fit_phase",
        phase = "read",
        seconds = start.elapsed().as_secs_f64()
    );
    let dim = moments.dim();
    let sample = reservoir.into_rows();
    let sample_rows = sample.len() / dim;

    // Split the sample into training rows and held-out calibration rows.
    let holdout_rows = params
        .holdout
        .unwrap_or((sample_rows / 10).min(MAX_HOLDOUT))
        .min(sample_rows / 2);
    let mut order: Vec<usize> = (0..sample_rows).collect();
    let mut split_rng = ChaCha8Rng::seed_from_u64(params.seed);
    split_rng.set_stream(STREAM_SPLIT);
    order.shuffle(&mut split_rng);
    let gather = |idx: &[usize]| -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| sample[i * dim..(i + 1) * dim].iter().copied())
            .collect()
    };
    let holdout = gather(&order[..holdout_rows]);
    let train = gather(&order[holdout_rows..]);
    let train_rows = sample_rows - holdout_rows;
    drop(sample);

    // PCA.
    let (mean, covariance) = moments.mean_and_covariance();
    let (eigenvalues, eigenvectors) = symmetric_eigen(&covariance)?;
    let first_block = params.bits.min(dim);
    let total_variance: f64 = eigenvalues.iter().map(|v| v.max(0.0)).sum();
    let explained_variance = if total_variance > 0.0 {
        eigenvalues
            .iter()
            .take(first_block)
            .map(|v| v.max(0.0))
            .sum::<f64>()
            / total_variance
    } else {
        0.0
    };
    if total_variance <= 0.0 {
        return Err(QuantError::Unfittable(
            "the embeddings have no variance (all rows identical)".into(),
        ));
    }

    phase("pca", &mut since);

    // ITQ on the first block.
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let centred: Vec<f32> = train
        .chunks_exact(dim)
        .flat_map(|r| r.iter().zip(&mean32).map(|(x, m)| x - m))
        .collect();
    let itq_rows = params.itq_rows.clamp(1, train_rows);
    let pca = eigenvectors.slice(s![.., ..first_block]).to_owned();
    let pca32 = pca.mapv(|x| x as f32);
    let v = par_matmul_rows(&centred[..itq_rows * dim], dim, pca32.view());
    let mut itq_rng = ChaCha8Rng::seed_from_u64(params.seed);
    itq_rng.set_stream(STREAM_ROTATION);
    let itq_progress =
        progress.map(|_| Progress::new("fit: ITQ", "iterations", Some(params.iterations as u64)));
    let itq_result = itq(
        &v,
        first_block,
        params.iterations,
        params.tolerance,
        &mut itq_rng,
        itq_progress.as_ref(),
    )?;
    drop(itq_progress);
    drop(v);
    phase("itq", &mut since);

    // Fold the rotations into one projection.
    let mut projection = Array2::<f64>::zeros((dim, params.bits));
    projection
        .slice_mut(s![.., ..first_block])
        .assign(&pca.dot(&itq_result.rotation));
    let mut column = first_block;
    let mut block = 1u64;
    while column < params.bits {
        let width = (params.bits - column).min(dim);
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        rng.set_stream(STREAM_ROTATION + block);
        let rotation = random_orthogonal(dim, &mut rng);
        projection
            .slice_mut(s![.., column..column + width])
            .assign(&eigenvectors.dot(&rotation.slice(s![.., ..width])));
        column += width;
        block += 1;
    }
    let projection: Vec<f32> = projection.iter().map(|&x| x as f32).collect();

    // Per-bit medians over the training rows.
    let w = ArrayView2::from_shape((dim, params.bits), &projection).expect("projection shape");
    let y = par_matmul_rows(&centred, dim, w);
    drop(centred);
    let thresholds = column_medians(&y, params.bits);
    drop(y);
    phase("thresholds", &mut since);

    let info = FitInfo {
        tool_version: crate::TOOL_VERSION.to_string(),
        created: chrono::Utc::now().to_rfc3339(),
        seed: params.seed,
        rows_seen,
        sample_rows,
        train_rows,
        holdout_rows,
        itq_rows,
        max_iterations: params.iterations,
        objective: itq_result.objective,
        converged: itq_result.converged,
        explained_variance,
        bit_balance: (0.5, 0.5),
        seconds: 0.0,
    };
    let mut quantizer = Quantizer::from_parts(
        dim,
        params.bits,
        mean32,
        projection,
        thresholds,
        info,
        Calibration::default(),
    );

    // Calibration and bit balance on rows the fit did not see.
    let train_codes = quantizer.encode(&train)?;
    let holdout_codes = quantizer.encode(&holdout)?;
    quantizer.info.bit_balance = bit_balance(
        if holdout_rows > 0 {
            &holdout_codes
        } else {
            &train_codes
        },
        params.bits,
    );
    quantizer.calibration = calibrate(
        &holdout,
        &holdout_codes,
        &train,
        &train_codes,
        dim,
        params.bits / 64,
    );
    phase("calibration", &mut since);
    quantizer.info.seconds = start.elapsed().as_secs_f64();
    Ok(quantizer)
}

/// Median of each column of row-major `y` (`rows × cols`).
fn column_medians(y: &[f32], cols: usize) -> Vec<f32> {
    let rows = y.len() / cols;
    let mut column = vec![0f32; rows];
    (0..cols)
        .map(|j| {
            column
                .iter_mut()
                .enumerate()
                .for_each(|(i, c)| *c = y[i * cols + j]);
            let mid = rows / 2;
            let (_, &mut upper, _) = column.select_nth_unstable_by(mid, f32::total_cmp);
            if rows % 2 == 1 {
                upper
            } else {
                let lower = column[..mid]
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, f32::max);
                0.5 * (lower + upper)
            }
        })
        .collect()
}

/// Smallest and largest share of ones over the bits of `codes`.
pub fn bit_balance(codes: &[u64], bits: usize) -> (f64, f64) {
    let words = bits / 64;
    let rows = codes.len() / words.max(1);
    if rows == 0 {
        return (0.0, 0.0);
    }
    let mut ones = vec![0u64; bits];
    for code in codes.chunks_exact(words) {
        for (i, one) in ones.iter_mut().enumerate() {
            *one += (code[i / 64] >> (i % 64)) & 1;
        }
    }
    let shares = ones.iter().map(|&o| o as f64 / rows as f64);
    shares.fold((1.0f64, 0.0f64), |(lo, hi), s| (lo.min(s), hi.max(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_columns() {
        // 4 rows × 2 columns.
        let y = [1.0, 10.0, 3.0, 40.0, 2.0, 20.0, 9.0, 30.0];
        assert_eq!(column_medians(&y, 2), vec![2.5, 25.0]);
        let y = [5.0, 1.0, 3.0];
        assert_eq!(column_medians(&y, 1), vec![3.0]);
    }

    #[test]
    fn bad_bit_counts_are_rejected() {
        for bits in [0, 32, 100, 4096] {
            let p = FitParams {
                bits,
                ..FitParams::default()
            };
            assert!(matches!(p.validate(), Err(QuantError::Params(_))), "{bits}");
        }
    }
}
