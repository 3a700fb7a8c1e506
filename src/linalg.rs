//! Dense linear algebra glue: symmetric eigendecomposition, SVD and QR from `faer` for the
//! ndarray arrays used everywhere else, seeded random orthogonal matrices, and deterministic
//! parallel matrix products (ndarray + matrixmultiply).
//!
//! `faer` replaces `linfa-linalg` here: on this 2-core machine linfa-linalg 0.2 needed 10 s
//! for the SVD, 5 s for the eigendecomposition and 3.5 s for the QR of a 512 × 512 matrix
//! (release build), which alone would have broken the fit-time budget; faer runs them
//! sequentially in tens of milliseconds.

use faer::{Mat, Side};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// A decomposition failed to converge (degenerate input).
#[derive(Debug, thiserror::Error)]
#[error("linear algebra failed: {0}")]
pub struct LinalgError(String);

fn to_faer(a: &Array2<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)])
}

fn from_faer(m: faer::MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// Eigendecomposition of a symmetric matrix, eigenvalues in descending order; eigenvector
/// `j` is column `j` of the returned matrix.
pub fn symmetric_eigen(a: &Array2<f64>) -> Result<(Array1<f64>, Array2<f64>), LinalgError> {
    let evd = to_faer(a)
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| LinalgError(format!("{e:?}")))?;
    let n = a.nrows();
    let (u, s) = (evd.U(), evd.S().column_vector());
    // faer sorts ascending; reverse.
    let values = Array1::from_iter((0..n).rev().map(|j| s[j]));
    let vectors = Array2::from_shape_fn((n, n), |(i, j)| u[(i, n - 1 - j)]);
    Ok((values, vectors))
}

/// The orthogonal factor of the polar decomposition of a square matrix: the orthogonal `Q`
/// nearest to `m` in Frobenius norm (`U Vᵀ` from the SVD `m = U Σ Vᵀ`). This solves the
/// orthogonal Procrustes problem.
pub fn nearest_orthogonal(m: &Array2<f64>) -> Result<Array2<f64>, LinalgError> {
    let svd = to_faer(m)
        .svd()
        .map_err(|e| LinalgError(format!("{e:?}")))?;
    let q = svd.U() * svd.V().transpose();
    Ok(from_faer(q.as_ref()))
}

/// A random `n × n` orthogonal matrix (QR of a Gaussian matrix with the sign fix that makes
/// it Haar-distributed), drawn from `rng`.
pub fn random_orthogonal<R: Rng>(n: usize, rng: &mut R) -> Array2<f64> {
    let g = Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
    let qr = to_faer(&g).qr();
    let (q, r) = (qr.compute_Q(), qr.R());
    let mut q = from_faer(q.as_ref());
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).mapv_inplace(|x| -x);
        }
    }
    q
}

/// Rows per work item of the parallel products: fixed, so results never depend on the
/// thread count.
pub const ROW_CHUNK: usize = 512;

/// `x · w` for row-major `x` (`n × k`), computed in parallel over fixed chunks of rows.
pub fn par_matmul_rows(x: &[f32], k: usize, w: ArrayView2<'_, f32>) -> Vec<f32> {
    let n = x.len() / k.max(1);
    let m = w.ncols();
    let mut out = vec![0f32; n * m];
    out.par_chunks_mut(ROW_CHUNK * m)
        .zip(x.par_chunks(ROW_CHUNK * k))
        .for_each(|(o, xc)| {
            let rows = xc.len() / k;
            let a = ArrayView2::from_shape((rows, k), xc).expect("chunk shape");
            let mut ov = ArrayViewMut2::from_shape((rows, m), o).expect("chunk shape");
            ndarray::linalg::general_mat_mul(1.0, &a, &w, 0.0, &mut ov);
        });
    out
}

/// `xᵀ · y` for row-major `x` (`n × a`) and `y` (`n × b`): per-chunk f32 products summed in
/// f64 in a fixed order (deterministic whatever the thread count).
pub fn par_transpose_product(x: &[f32], a: usize, y: &[f32], b: usize) -> Array2<f64> {
    let parts: Vec<Array2<f32>> = x
        .par_chunks(ROW_CHUNK * a)
        .zip(y.par_chunks(ROW_CHUNK * b))
        .map(|(xc, yc)| {
            let rows = xc.len() / a;
            let xv = ArrayView2::from_shape((rows, a), xc).expect("chunk shape");
            let yv = ArrayView2::from_shape((rows, b), yc).expect("chunk shape");
            xv.t().dot(&yv)
        })
        .collect();
    let mut total = Array2::<f64>::zeros((a, b));
    for p in parts {
        total.zip_mut_with(&p, |t, &v| *t += v as f64);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn random_orthogonal_is_orthogonal() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let q = random_orthogonal(17, &mut rng);
        let qtq = q.t().dot(&q);
        for i in 0..17 {
            for j in 0..17 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((qtq[(i, j)] - want).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn eigen_recovers_known_spectrum() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let n = 12;
        let q = random_orthogonal(n, &mut rng);
        let lambda: Vec<f64> = (0..n).map(|i| 10.0 / (i as f64 + 1.0)).collect();
        let a = q
            .dot(&Array2::from_diag(&Array1::from_vec(lambda.clone())))
            .dot(&q.t());
        let (vals, vecs) = symmetric_eigen(&a).unwrap();
        for i in 0..n {
            assert!((vals[i] - lambda[i]).abs() < 1e-9, "eigenvalue {i}");
            let dot: f64 = vecs.column(i).dot(&q.column(i));
            assert!(
                (dot.abs() - 1.0).abs() < 1e-8,
                "eigenvector {i} matches up to sign"
            );
        }
    }

    #[test]
    fn nearest_orthogonal_of_scaled_rotation_is_the_rotation() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let q = random_orthogonal(9, &mut rng);
        let d = Array2::from_diag(&Array1::from_iter((0..9).map(|i| 1.0 + i as f64)));
        // Q D with D positive diagonal has polar decomposition Q · D, so its factor is Q.
        let m = q.dot(&d);
        let r = nearest_orthogonal(&m).unwrap();
        for (a, b) in r.iter().zip(q.iter()) {
            assert!((a - b).abs() < 1e-9);
        }
    }
}
