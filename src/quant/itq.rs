//! Iterative quantization (Gong & Lazebnik 2011): the rotation `R` minimising
//! `‖B − V R‖²_F` over binary `B ∈ {−1, +1}` and orthogonal `R`, by alternating the sign step
//! `B = sign(V R)` and the orthogonal Procrustes step `R = polar(Vᵀ B)`.

use ndarray::Array2;
use rand::Rng;

use crate::linalg::{
    nearest_orthogonal, par_matmul_rows, par_transpose_product, random_orthogonal, LinalgError,
};
use crate::progress::Progress;

/// The learned rotation and how the fit went.
#[derive(Debug, Clone)]
pub struct ItqResult {
    /// `c × c` orthogonal rotation.
    pub rotation: Array2<f64>,
    /// Quantization loss per bit, `‖B − V̂ R‖²_F / (n c)` with `V̂` the data scaled to unit
    /// mean square (so the number does not depend on the data's scale and lies in [0, 2]),
    /// after each iteration; the first entry is the random start.
    pub objective: Vec<f64>,
    /// True when the relative improvement fell below the tolerance before the iteration cap.
    pub converged: bool,
}

/// Runs ITQ on `v` (row-major, `n × c`, already centred and projected), from a random
/// orthogonal start drawn from `rng`, for at most `max_iterations` updates, stopping when the
/// objective improves by less than `tolerance` relatively.
pub fn itq<R: Rng>(
    v: &[f32],
    c: usize,
    max_iterations: usize,
    tolerance: f64,
    rng: &mut R,
    progress: Option<&Progress>,
) -> Result<ItqResult, LinalgError> {
    let n = (v.len() / c.max(1)).max(1) as f64;
    let v_norm2: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
    // Scale making the mean square of V̂ = scale · V equal to 1.
    let scale = (n * c as f64 / v_norm2.max(f64::MIN_POSITIVE)).sqrt();
    let mut rotation = random_orthogonal(c, rng);
    let mut objective: Vec<f64> = Vec::with_capacity(max_iterations + 1);
    let mut converged = false;
    let (mut t_product, mut t_polar) = (0f64, 0f64);
    for iteration in 0..=max_iterations {
        let t0 = std::time::Instant::now();
        let r32 = rotation.mapv(|x| x as f32);
        let mut z = par_matmul_rows(v, c, r32.view());
        let abs_sum: f64 = z.iter().map(|&x| x.abs() as f64).sum();
        // ‖B − Ẑ‖² = ‖B‖² + ‖Ẑ‖² − 2 Σ B∘Ẑ with ‖B‖² = ‖Ẑ‖² = n c and Σ B∘Ẑ = Σ|Ẑ|.
        let loss = 2.0 - 2.0 * scale * abs_sum / (n * c as f64);
        if let Some(&previous) = objective.last() {
            if (previous - loss) / previous.abs().max(f64::MIN_POSITIVE) < tolerance {
                objective.push(loss);
                converged = true;
                break;
            }
        }
        objective.push(loss);
        if iteration == max_iterations {
            break;
        }
        z.iter_mut()
            .for_each(|x| *x = if *x >= 0.0 { 1.0 } else { -1.0 });
        let m = par_transpose_product(v, c, &z, c);
        t_product += t0.elapsed().as_secs_f64();
        let t1 = std::time::Instant::now();
        rotation = nearest_orthogonal(&m)?;
        t_polar += t1.elapsed().as_secs_f64();
        if let Some(p) = progress {
            p.inc(1);
        }
    }
    tracing::debug!(event = "itq_timing", products = t_product, polar = t_polar);
    Ok(ItqResult {
        rotation,
        objective,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::StandardNormal;

    #[test]
    fn objective_decreases_and_beats_the_random_start() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (n, c) = (2000, 16);
        // Anisotropic Gaussian data, like PCA-projected embeddings.
        let v: Vec<f32> = (0..n * c)
            .map(|i| {
                let g: f32 = rng.sample(StandardNormal);
                g / (1.0 + (i % c) as f32).sqrt()
            })
            .collect();
        let result = itq(&v, c, 50, 1e-6, &mut rng, None).unwrap();
        let obj = &result.objective;
        assert!(obj.len() >= 3);
        for w in obj.windows(2) {
            assert!(w[1] <= w[0] + 1e-9, "objective rose: {obj:?}");
        }
        assert!(
            obj.last().unwrap() < &(obj[0] * 0.98),
            "ITQ improved little: {obj:?}"
        );
        let q = &result.rotation;
        let qtq = q.t().dot(q);
        for i in 0..c {
            assert!((qtq[(i, i)] - 1.0).abs() < 1e-9);
        }
    }
}
