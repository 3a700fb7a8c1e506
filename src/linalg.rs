//! Dense linear algebra glue: symmetric eigendecomposition, SVD and QR from `linfa-linalg`
//! (which is built on ndarray 0.16) for the ndarray 0.17 arrays used everywhere else, plus
//! seeded random orthogonal matrices.

use linfa_linalg::eigh::{EigSort, Eigh};
use linfa_linalg::qr::QR;
use linfa_linalg::svd::SVD;
use ndarray::{Array1, Array2};
use rand::Rng;
use rand_distr::StandardNormal;

/// A decomposition failed to converge (degenerate input).
#[derive(Debug, thiserror::Error)]
#[error("linear algebra failed: {0}")]
pub struct LinalgError(String);

fn to16(a: &Array2<f64>) -> ndarray16::Array2<f64> {
    let (r, c) = a.dim();
    let data: Vec<f64> = a.iter().copied().collect();
    ndarray16::Array2::from_shape_vec((r, c), data).expect("shape preserved")
}

fn from16(a: &ndarray16::Array2<f64>) -> Array2<f64> {
    let (r, c) = a.dim();
    Array2::from_shape_vec((r, c), a.iter().copied().collect()).expect("shape preserved")
}

/// Eigendecomposition of a symmetric matrix, eigenvalues in descending order; eigenvector
/// `j` is column `j` of the returned matrix.
pub fn symmetric_eigen(a: &Array2<f64>) -> Result<(Array1<f64>, Array2<f64>), LinalgError> {
    let (vals, vecs) = to16(a)
        .eigh()
        .map_err(|e| LinalgError(e.to_string()))?
        .sort_eig_desc();
    Ok((Array1::from_vec(vals.to_vec()), from16(&vecs)))
}

/// The orthogonal factor of the polar decomposition of a square matrix: the orthogonal `Q`
/// nearest to `m` in Frobenius norm (`U Vᵀ` from the SVD `m = U Σ Vᵀ`). This solves the
/// orthogonal Procrustes problem.
pub fn nearest_orthogonal(m: &Array2<f64>) -> Result<Array2<f64>, LinalgError> {
    let (u, _s, vt) = to16(m)
        .svd(true, true)
        .map_err(|e| LinalgError(e.to_string()))?;
    let (u, vt) = (u.expect("u requested"), vt.expect("vt requested"));
    Ok(from16(&u.dot(&vt)))
}

/// A random `n × n` orthogonal matrix (QR of a Gaussian matrix with the sign fix that makes
/// it Haar-distributed), drawn from `rng`.
pub fn random_orthogonal<R: Rng>(n: usize, rng: &mut R) -> Array2<f64> {
    let g = ndarray16::Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
    let (q, r) = g.qr().expect("square Gaussian matrix").into_decomp();
    let mut q = from16(&q);
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).mapv_inplace(|x| -x);
        }
    }
    q
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
