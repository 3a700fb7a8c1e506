//! Streaming mean and covariance in f64 over any number of rows.

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;

use crate::linalg::ROW_CHUNK;

/// Running sums for the mean and covariance of `dim`-dimensional rows.
pub struct Moments {
    dim: usize,
    rows: u64,
    sum: Array1<f64>,
    cross: Array2<f64>,
}

impl Moments {
    /// Empty sums.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            rows: 0,
            sum: Array1::zeros(dim),
            cross: Array2::zeros((dim, dim)),
        }
    }

    /// Adds the rows of `vectors` (row-major). Chunks are reduced in a fixed order, so the
    /// sums never depend on the thread count.
    pub fn add(&mut self, vectors: &[f32]) {
        let d = self.dim;
        let parts: Vec<(Array1<f64>, Array2<f64>)> = vectors
            .par_chunks(ROW_CHUNK * d)
            .map(|chunk| {
                let rows = chunk.len() / d;
                let x = ArrayView2::from_shape((rows, d), chunk)
                    .expect("chunk shape")
                    .mapv(|v| v as f64);
                (x.sum_axis(ndarray::Axis(0)), x.t().dot(&x))
            })
            .collect();
        for (s, c) in parts {
            self.sum += &s;
            self.cross += &c;
        }
        self.rows += (vectors.len() / d) as u64;
    }

    /// Dimension of the rows.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows added.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The mean and the (population) covariance matrix.
    pub fn mean_and_covariance(&self) -> (Array1<f64>, Array2<f64>) {
        let n = self.rows.max(1) as f64;
        let mean = &self.sum / n;
        let mut cov = &self.cross / n;
        for i in 0..self.dim {
            for j in 0..self.dim {
                cov[(i, j)] -= mean[i] * mean[j];
            }
        }
        (mean, cov)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_two_pass_computation() {
        let d = 3;
        let data: Vec<f32> = (0..3000)
            .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
            .collect();
        let mut m = Moments::new(d);
        m.add(&data[..900]);
        m.add(&data[900..]);
        let (mean, cov) = m.mean_and_covariance();
        let n = (data.len() / d) as f64;
        for a in 0..d {
            let ma: f64 = data
                .iter()
                .skip(a)
                .step_by(d)
                .map(|&v| v as f64)
                .sum::<f64>()
                / n;
            assert!((mean[a] - ma).abs() < 1e-12);
            for b in 0..d {
                let mb: f64 = data
                    .iter()
                    .skip(b)
                    .step_by(d)
                    .map(|&v| v as f64)
                    .sum::<f64>()
                    / n;
                let c: f64 = data
                    .chunks(d)
                    .map(|r| (r[a] as f64 - ma) * (r[b] as f64 - mb))
                    .sum::<f64>()
                    / n;
                assert!((cov[(a, b)] - c).abs() < 1e-12, "cov[{a},{b}]");
            }
        }
    }
}
