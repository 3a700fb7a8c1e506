//! Small vector helpers used when reading and writing embeddings.

/// L2-normalises `v` in place and returns its original norm (computed in f64).
pub fn l2_normalize(v: &mut [f32]) -> f64 {
    let norm = v
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        let inv = (1.0 / norm) as f32;
        v.iter_mut().for_each(|x| *x *= inv);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_unit_length() {
        let mut v = vec![3.0f32, 4.0];
        assert_eq!(l2_normalize(&mut v), 5.0);
        assert!((v[0] - 0.6).abs() < 1e-7 && (v[1] - 0.8).abs() < 1e-7);
    }
}
