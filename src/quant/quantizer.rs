//! A fitted quantizer: `code bit j = (x · W_j > t_j + mean · W_j)`, packed so that bit `i` of
//! a code is bit `i mod 64` of little-endian `u64` word `i / 64` (equivalently bit `i mod 8`
//! of byte `i / 8`).

use std::sync::Arc;

use arrow::array::FixedSizeBinaryArray;
use arrow::buffer::Buffer;
use ndarray::ArrayView2;
use rayon::prelude::*;

use super::{Calibration, FitInfo, QuantError};
use crate::linalg::ROW_CHUNK;

/// A PCA+ITQ binary quantizer.
#[derive(Debug, Clone)]
pub struct Quantizer {
    pub(crate) dim: usize,
    pub(crate) bits: usize,
    /// Mean of the fitting data (`dim`).
    pub(crate) mean: Vec<f32>,
    /// Projection with the rotations folded in, row-major `dim × bits`.
    pub(crate) projection: Vec<f32>,
    /// Per-bit median of the centred projections (`bits`).
    pub(crate) thresholds: Vec<f32>,
    /// `thresholds + mean · projection`: compare raw `x · projection` against these.
    offsets: Vec<f32>,
    /// How the quantizer was fitted.
    pub info: FitInfo,
    /// Defaults for later jobs, measured at fit time.
    pub calibration: Calibration,
    /// SHA-256 of the `.ffq` file (hex), once written or loaded.
    pub(crate) hash: Option<Arc<str>>,
}

impl Quantizer {
    /// Assembles a quantizer from its parts (used by fitting and loading).
    pub(crate) fn from_parts(
        dim: usize,
        bits: usize,
        mean: Vec<f32>,
        projection: Vec<f32>,
        thresholds: Vec<f32>,
        info: FitInfo,
        calibration: Calibration,
    ) -> Self {
        let w = ArrayView2::from_shape((dim, bits), &projection).expect("projection shape");
        let mean_proj = ndarray::ArrayView1::from(&mean).dot(&w);
        let offsets = thresholds
            .iter()
            .zip(mean_proj.iter())
            .map(|(t, m)| t + m)
            .collect();
        Self {
            dim,
            bits,
            mean,
            projection,
            thresholds,
            offsets,
            info,
            calibration,
            hash: None,
        }
    }

    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Code length in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Code length in `u64` words.
    pub fn words(&self) -> usize {
        self.bits / 64
    }

    /// Code length in bytes.
    pub fn code_bytes(&self) -> usize {
        self.bits / 8
    }

    /// Mean of the fitting data.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Projection with the rotations folded in, row-major `dim × bits`.
    pub fn projection(&self) -> &[f32] {
        &self.projection
    }

    /// Per-bit thresholds on the centred projections.
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// SHA-256 (hex) of the quantizer file, when it has been written or loaded.
    pub fn hash(&self) -> Option<&str> {
        self.hash.as_deref()
    }

    /// Checks that `dim` matches, naming `context` (a file) in the error.
    pub fn check_dim(&self, dim: usize, context: &str) -> Result<(), QuantError> {
        if dim != self.dim {
            return Err(QuantError::DimensionMismatch {
                context: context.to_string(),
                found: dim,
                expected: self.dim,
            });
        }
        Ok(())
    }

    /// The signed margins `x · W_i − (t_i + mean · W_i)` of every bit (`n × bits`, row-major):
    /// bit i of the code is 1 exactly when margin i is positive. Asymmetric scoring of codes
    /// against a query uses them.
    pub fn margins(&self, vectors: &[f32]) -> Result<Vec<f32>, QuantError> {
        let n = self.rows_of(vectors, "margins")?;
        let mut margins = vec![0f32; n * self.bits];
        let w = ArrayView2::from_shape((self.dim, self.bits), &self.projection).expect("shape");
        // The same row chunks as `encode`, so margins and codes come from identical products.
        margins
            .par_chunks_mut(ROW_CHUNK * self.bits)
            .zip(vectors.par_chunks(ROW_CHUNK * self.dim))
            .for_each(|(out, x)| {
                let y = project_chunk(x, self.dim, w);
                for (row_out, row_y) in out
                    .chunks_exact_mut(self.bits)
                    .zip(y.chunks_exact(self.bits))
                {
                    for ((o, v), t) in row_out.iter_mut().zip(row_y).zip(&self.offsets) {
                        *o = v - t;
                    }
                }
            });
        Ok(margins)
    }

    /// The codes of rows whose [`Quantizer::margins`] are given: bit i is 1 where margin i is
    /// positive (the same codes `encode` gives).
    pub fn codes_from_margins(&self, margins: &[f32]) -> Vec<u64> {
        let words = self.words();
        let zeros = vec![0f32; self.bits];
        let mut codes = vec![0u64; margins.len() / self.bits * words];
        codes
            .par_chunks_mut(ROW_CHUNK * words)
            .zip(margins.par_chunks(ROW_CHUNK * self.bits))
            .for_each(|(out, m)| pack_signs(m, &zeros, out));
        codes
    }

    /// Rows of `vectors`, checking it holds whole rows of the quantizer's dimension.
    fn rows_of(&self, vectors: &[f32], context: &str) -> Result<usize, QuantError> {
        if !vectors.len().is_multiple_of(self.dim) {
            return Err(QuantError::DimensionMismatch {
                context: context.into(),
                found: vectors.len(),
                expected: self.dim,
            });
        }
        Ok(vectors.len() / self.dim)
    }

    /// Encodes row-major `vectors` (`n × dim`) into `n × words()` code words.
    pub fn encode(&self, vectors: &[f32]) -> Result<Vec<u64>, QuantError> {
        let n = self.rows_of(vectors, "encode")?;
        let words = self.words();
        let mut codes = vec![0u64; n * words];
        let w = ArrayView2::from_shape((self.dim, self.bits), &self.projection).expect("shape");
        codes
            .par_chunks_mut(ROW_CHUNK * words)
            .zip(vectors.par_chunks(ROW_CHUNK * self.dim))
            .for_each(|(out, x)| {
                let y = project_chunk(x, self.dim, w);
                pack_signs(&y, &self.offsets, out);
            });
        Ok(codes)
    }

    /// Encodes into an Arrow `FixedSizeBinary(bits / 8)` array.
    pub fn encode_arrow(&self, vectors: &[f32]) -> Result<FixedSizeBinaryArray, QuantError> {
        let codes = self.encode(vectors)?;
        Ok(codes_to_arrow(&codes, self.code_bytes()))
    }
}

fn project_chunk(x: &[f32], dim: usize, w: ArrayView2<'_, f32>) -> Vec<f32> {
    let rows = x.len() / dim;
    let a = ArrayView2::from_shape((rows, dim), x).expect("chunk shape");
    a.dot(&w).into_raw_vec_and_offset().0
}

/// Packs `y > offset` per bit: `y` is row-major `rows × bits`, `out` is `rows × bits/64`.
fn pack_signs(y: &[f32], offsets: &[f32], out: &mut [u64]) {
    let bits = offsets.len();
    for (row, code) in y.chunks_exact(bits).zip(out.chunks_exact_mut(bits / 64)) {
        for (w, word) in code.iter_mut().enumerate() {
            let ys = &row[w * 64..(w + 1) * 64];
            let os = &offsets[w * 64..(w + 1) * 64];
            let mut acc = 0u64;
            for b in 0..64 {
                acc |= ((ys[b] > os[b]) as u64) << b;
            }
            *word = acc;
        }
    }
}

/// Code words (little-endian `u64`) as an Arrow `FixedSizeBinary(code_bytes)` array.
pub fn codes_to_arrow(codes: &[u64], code_bytes: usize) -> FixedSizeBinaryArray {
    let bytes: Vec<u8> = codes.iter().flat_map(|w| w.to_le_bytes()).collect();
    FixedSizeBinaryArray::new(code_bytes as i32, Buffer::from_vec(bytes), None)
}

/// Bytes of one code (as stored in Arrow/Parquet) back to `u64` words.
pub fn code_words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quantizer whose bit `i` is simply `x_i > 0` (identity projection, zero thresholds).
    fn identity_quantizer(dim: usize) -> Quantizer {
        let mut projection = vec![0f32; dim * dim];
        (0..dim).for_each(|i| projection[i * dim + i] = 1.0);
        Quantizer::from_parts(
            dim,
            dim,
            vec![0.0; dim],
            projection,
            vec![0.0; dim],
            FitInfo::default(),
            Calibration::default(),
        )
    }

    #[test]
    fn bit_order_is_little_endian_words_and_bytes() {
        let q = identity_quantizer(128);
        let set = [0usize, 1, 7, 8, 63, 64, 100, 127];
        let mut x = vec![-1f32; 128];
        set.iter().for_each(|&i| x[i] = 1.0);
        let code = q.encode(&x).unwrap();
        let expect0 = (1u64 << 0) | (1 << 1) | (1 << 7) | (1 << 8) | (1 << 63);
        let expect1 = (1u64 << 0) | (1 << 36) | (1 << 63);
        assert_eq!(code, vec![expect0, expect1]);
        let arrow = q.encode_arrow(&x).unwrap();
        let bytes = arrow.value(0);
        assert_eq!(bytes.len(), 16);
        for i in 0..128 {
            let bit = (bytes[i / 8] >> (i % 8)) & 1 == 1;
            assert_eq!(bit, set.contains(&i), "bit {i}");
        }
        assert_eq!(code_words(bytes), code);
    }

    #[test]
    fn encode_is_deterministic_and_chunk_independent() {
        let q = identity_quantizer(64);
        let n = ROW_CHUNK * 2 + 17;
        let x: Vec<f32> = (0..n * 64)
            .map(|i| ((i * 2654435761usize) % 1000) as f32 - 500.0)
            .collect();
        let all = q.encode(&x).unwrap();
        let tail = q.encode(&x[(n - 5) * 64..]).unwrap();
        assert_eq!(&all[n - 5..], &tail[..]);
        assert_eq!(all, q.encode(&x).unwrap());
        assert!(q.encode(&x[..63]).is_err(), "partial row rejected");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Every bit equals the documented rule `x · W_i > t_i + mean · W_i`, computed naively
        /// in f64 (bits within 1e-4 of their threshold are skipped: the matrix product may
        /// round differently), and a row's code does not depend on its batch.
        #[test]
        fn encode_follows_the_documented_rule(
            dim in 1usize..40,
            words in 1usize..4,
            rows in 1usize..20,
            seed in 0u64..1000,
        ) {
            let bits = words * 64;
            let mut state = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            };
            let mean: Vec<f32> = (0..dim).map(|_| next() * 0.1).collect();
            let projection: Vec<f32> = (0..dim * bits).map(|_| next()).collect();
            let thresholds: Vec<f32> = (0..bits).map(|_| next() * 0.1).collect();
            let q = Quantizer::from_parts(dim, bits, mean.clone(), projection.clone(), thresholds.clone(), FitInfo::default(), Calibration::default());
            let x: Vec<f32> = (0..rows * dim).map(|_| next()).collect();
            let codes = q.encode(&x).unwrap();
            proptest::prop_assert_eq!(&codes, &q.encode(&x).unwrap());
            for r in 0..rows {
                let row = &x[r * dim..(r + 1) * dim];
                proptest::prop_assert_eq!(&q.encode(row).unwrap()[..], &codes[r * words..(r + 1) * words]);
                for i in 0..bits {
                    let y: f64 = (0..dim).map(|k| (row[k] as f64 - mean[k] as f64) * projection[k * bits + i] as f64).sum();
                    let margin = y - thresholds[i] as f64;
                    if margin.abs() < 1e-4 {
                        continue;
                    }
                    let bit = (codes[r * words + i / 64] >> (i % 64)) & 1 == 1;
                    proptest::prop_assert_eq!(bit, margin > 0.0, "row {} bit {}", r, i);
                }
            }
        }
    }
}
