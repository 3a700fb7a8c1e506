//! What a quantizer records about its fit, and the calibrated defaults for later jobs.

use serde::{Deserialize, Serialize};

/// How the quantizer was fitted (stored in the `.ffq` header).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FitInfo {
    /// Tool version that fitted it.
    pub tool_version: String,
    /// UTC time of the fit (RFC 3339).
    pub created: String,
    /// Random seed.
    pub seed: u64,
    /// Rows read from the input (all used for the mean and covariance).
    pub rows_seen: u64,
    /// Rows in the reservoir sample.
    pub sample_rows: usize,
    /// Sample rows used for ITQ and the thresholds.
    pub train_rows: usize,
    /// Sample rows held out for calibration.
    pub holdout_rows: usize,
    /// Training rows ITQ iterated on.
    pub itq_rows: usize,
    /// ITQ iteration cap.
    pub max_iterations: usize,
    /// ITQ loss per bit `‖B − V̂R‖² / (n c)` (data scaled to unit mean square) per
    /// iteration, first entry = random start.
    pub objective: Vec<f64>,
    /// True when ITQ stopped on the relative tolerance (1e-6) before the cap.
    pub converged: bool,
    /// Share of the variance kept by the PCA components used by the first block.
    pub explained_variance: f64,
    /// Smallest and largest fraction of ones per bit over the training sample.
    pub bit_balance: (f64, f64),
    /// Seconds spent fitting.
    pub seconds: f64,
}

/// Recall@1 after reranking `candidates` Hamming candidates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RecallPoint {
    /// Hamming candidates reranked by exact cosine.
    pub candidates: usize,
    /// Share of held-out queries whose exact nearest neighbour is among them.
    pub recall_at_1: f64,
}

/// Hamming radius keeping a share of the pairs above a cosine threshold.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RadiusPoint {
    /// Cosine threshold.
    pub cosine: f32,
    /// Smallest radius keeping ≥ 99.99% of measured pairs with cosine ≥ threshold (the
    /// largest distance seen when fewer than 10,000 pairs were measured); `None` when no pair
    /// was measured (jobs then scan without a prefilter).
    pub radius: Option<u32>,
    /// Pairs measured.
    pub pairs: u64,
}

/// Defaults measured at fit time on held-out rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Calibration {
    /// Held-out queries.
    pub queries: usize,
    /// Rows of the database they were searched against.
    pub database_rows: usize,
    /// Recall@1 for several candidate counts.
    pub recall: Vec<RecallPoint>,
    /// The recall@1 the default candidate count aims at (0.999 in files written before
    /// it was recorded).
    #[serde(default = "old_target")]
    pub recall_target: f64,
    /// Candidates reaching recall@1 ≥ `recall_target` at `database_rows`.
    #[serde(alias = "candidates_999")]
    pub candidates_target: Option<usize>,
    /// Radii for cosine 0.3, 0.4, 0.5, 0.6, 0.7.
    pub radii: Vec<RadiusPoint>,
    /// (database rows, candidates for recall@1 ≥ `recall_target`) at the full calibration
    /// database and at subsamples of it.
    #[serde(default, alias = "candidates_999_by_rows")]
    pub candidates_by_rows: Vec<(usize, usize)>,
    /// Fitted exponent b of candidates ∝ rows^b (1 = linear, used when unknown).
    #[serde(default = "linear")]
    pub growth_exponent: f64,
}

fn linear() -> f64 {
    1.0
}

fn old_target() -> f64 {
    0.999
}

impl Calibration {
    /// Candidates to rerank for a gallery of `gallery_rows`: the calibrated count, scaled up
    /// by `(gallery_rows / database_rows)^growth_exponent` when the gallery is larger than the
    /// calibration database (the exponent is fitted on subsamples of the calibration database;
    /// linear when unknown, the worst case), never below `k`.
    pub fn candidates_for(&self, gallery_rows: usize, k: usize) -> usize {
        let base = self.candidates_target.unwrap_or(self.database_rows).max(1);
        let scale = (gallery_rows as f64 / self.database_rows.max(1) as f64).max(1.0);
        let b = if self.growth_exponent > 0.0 {
            self.growth_exponent.min(1.0)
        } else {
            1.0
        };
        ((base as f64 * scale.powf(b)).ceil() as usize)
            .max(k)
            .min(gallery_rows.max(k))
    }

    /// Hamming prefilter radius for a cosine threshold, interpolated linearly between the
    /// calibrated thresholds and rounded up; `None` (no prefilter) below the lowest one or
    /// where nothing was measured. Above the highest threshold the highest one's radius is
    /// used (a higher cosine needs a smaller radius, so this is conservative).
    pub fn radius_for(&self, cosine: f32) -> Option<u32> {
        let points: Vec<&RadiusPoint> = self.radii.iter().filter(|p| p.radius.is_some()).collect();
        let first = points.first()?;
        if cosine < first.cosine {
            return None;
        }
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if cosine >= a.cosine && cosine <= b.cosine {
                let (ra, rb) = (a.radius? as f32, b.radius? as f32);
                let t = (cosine - a.cosine) / (b.cosine - a.cosine).max(f32::EPSILON);
                return Some((ra + t * (rb - ra)).ceil() as u32);
            }
        }
        points.last()?.radius
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calibration() -> Calibration {
        Calibration {
            queries: 1000,
            database_rows: 10_000,
            recall: vec![],
            recall_target: 0.995,
            candidates_target: Some(50),
            radii: vec![
                RadiusPoint {
                    cosine: 0.3,
                    radius: Some(200),
                    pairs: 20_000,
                },
                RadiusPoint {
                    cosine: 0.4,
                    radius: Some(180),
                    pairs: 20_000,
                },
                RadiusPoint {
                    cosine: 0.5,
                    radius: None,
                    pairs: 0,
                },
            ],
            candidates_by_rows: vec![],
            growth_exponent: 1.0,
        }
    }

    #[test]
    fn radius_interpolates_and_is_conservative() {
        let c = calibration();
        assert_eq!(c.radius_for(0.2), None);
        assert_eq!(c.radius_for(0.3), Some(200));
        assert_eq!(c.radius_for(0.35), Some(190));
        assert_eq!(c.radius_for(0.4), Some(180));
        assert_eq!(c.radius_for(0.9), Some(180));
    }

    #[test]
    fn candidates_scale_with_gallery_size() {
        let c = calibration();
        assert_eq!(c.candidates_for(5_000, 10), 50);
        assert_eq!(c.candidates_for(100_000, 10), 500);
        assert_eq!(c.candidates_for(100_000, 1000), 1000);
        assert_eq!(c.candidates_for(20, 10), 20);
        let sub = Calibration {
            growth_exponent: 0.5,
            ..calibration()
        };
        assert_eq!(sub.candidates_for(1_000_000, 10), 500, "50 × (100)^0.5");
    }
}
