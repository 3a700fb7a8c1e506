//! Seeded reservoir sample of embedding rows (Vitter's algorithm R): a uniform random subset
//! of a stream of unknown length, in one pass with memory bounded by the sample size.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A uniform sample of at most `capacity` rows of `dim` values.
pub struct Reservoir {
    dim: usize,
    capacity: usize,
    seen: u64,
    rows: Vec<f32>,
    rng: ChaCha8Rng,
}

impl Reservoir {
    /// An empty reservoir; `seed` fixes which rows are kept.
    pub fn new(dim: usize, capacity: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0x5245_5345_5256_4f49); // "RESERVOI"
        Self {
            dim,
            capacity,
            seen: 0,
            rows: Vec::with_capacity(capacity.min(1 << 20) * dim),
            rng,
        }
    }

    /// Offers every row of `vectors` (row-major, `dim` values each).
    pub fn offer(&mut self, vectors: &[f32]) {
        for row in vectors.chunks_exact(self.dim) {
            if (self.seen as usize) < self.capacity {
                self.rows.extend_from_slice(row);
            } else {
                let j = self.rng.random_range(0..=self.seen);
                if (j as usize) < self.capacity {
                    let j = j as usize;
                    self.rows[j * self.dim..(j + 1) * self.dim].copy_from_slice(row);
                }
            }
            self.seen += 1;
        }
    }

    /// Rows offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample, row-major.
    pub fn into_rows(self) -> Vec<f32> {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_capacity_and_samples_uniformly_above() {
        let mut r = Reservoir::new(1, 10, 0);
        r.offer(&[1.0, 2.0, 3.0]);
        assert_eq!(r.into_rows(), vec![1.0, 2.0, 3.0]);

        // Each of 100 rows should be kept about 10% of the time over many seeds.
        let mut hits = vec![0u32; 100];
        for seed in 0..2000 {
            let mut r = Reservoir::new(1, 10, seed);
            let data: Vec<f32> = (0..100).map(|i| i as f32).collect();
            r.offer(&data[..37]);
            r.offer(&data[37..]);
            for v in r.into_rows() {
                hits[v as usize] += 1;
            }
        }
        for (i, &h) in hits.iter().enumerate() {
            assert!(
                (120..290).contains(&h),
                "row {i} kept {h} times of 2000 (expected ~200)"
            );
        }
    }
}
