//! Face-recognition protocols over a benchmark gallery, exact and quantized side by side:
//! identification (1:N, rank-1 over enrolled probes) and verification (TAR and FRR at a
//! fixed FAR over genuine and impostor pairs).

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::store::gallery::Shard;
use crate::store::Gallery;

/// Rank-1 identification rates.
#[derive(Debug, Clone, Serialize)]
pub struct Identification {
    /// Probes whose identity is enrolled in the gallery.
    pub probes: usize,
    /// Share whose exact-cosine nearest gallery face has the probe's identity.
    pub rank1_exact: f64,
    /// Share whose top result from the quantized search has the probe's identity.
    pub rank1_quantized: f64,
}

/// Rank-1 of exact and quantized top-1 rows (`None`: no result) against identities.
pub fn identification(
    gallery_ids: &[String],
    query_ids: &[String],
    exact_top1: &[Option<u32>],
    quantized_top1: &[Option<u64>],
) -> Identification {
    let enrolled: std::collections::HashSet<&String> = gallery_ids.iter().collect();
    let (mut probes, mut exact, mut quantized) = (0usize, 0usize, 0usize);
    for (q, id) in query_ids.iter().enumerate() {
        if !enrolled.contains(id) {
            continue;
        }
        probes += 1;
        let same = |row: Option<usize>| row.is_some_and(|r| gallery_ids[r] == *id);
        exact += usize::from(same(exact_top1[q].map(|r| r as usize)));
        quantized += usize::from(same(quantized_top1[q].map(|r| r as usize)));
    }
    let rate = |n: usize| n as f64 / probes.max(1) as f64;
    Identification {
        probes,
        rank1_exact: rate(exact),
        rank1_quantized: rate(quantized),
    }
}

/// True accept rate at one false accept rate.
#[derive(Debug, Clone, Serialize)]
pub struct TarAtFar {
    /// The FAR asked for.
    pub far_target: f64,
    /// Accept scores strictly above this (cosine; or negated Hamming distance).
    pub threshold: f64,
    /// FAR reached (at most the target).
    pub far: f64,
    /// Share of genuine pairs accepted.
    pub tar: f64,
    /// 1 − TAR.
    pub frr: f64,
}

/// The verification report.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// Scored by exact cosine.
    pub exact: Vec<TarAtFar>,
    /// Scored by the Hamming distance of the binary codes alone (no float rerank).
    pub quantized: Vec<TarAtFar>,
}

/// FARs reported.
pub const FAR_TARGETS: [f64; 2] = [1e-3, 1e-4];

/// Genuine pairs kept per probe at most.
const GENUINE_PER_PROBE: usize = 8;

/// TAR at each FAR target from genuine and impostor scores (higher = more alike).
pub fn tar_at_far(genuine: &[f64], impostor: &[f64], targets: &[f64]) -> Vec<TarAtFar> {
    let mut imp = impostor.to_vec();
    imp.sort_by(|a, b| b.total_cmp(a));
    targets
        .iter()
        .map(|&far_target| {
            let allowed = (far_target * imp.len() as f64).floor() as usize;
            // Accept strictly above the (allowed+1)-th largest impostor score: at most
            // `allowed` impostors pass, ties included.
            let threshold = imp.get(allowed).copied().unwrap_or(f64::NEG_INFINITY);
            let passed = imp.partition_point(|&s| s > threshold);
            let tar = genuine.iter().filter(|&&s| s > threshold).count() as f64
                / genuine.len().max(1) as f64;
            TarAtFar {
                far_target,
                threshold,
                far: passed as f64 / imp.len().max(1) as f64,
                tar,
                frr: 1.0 - tar,
            }
        })
        .collect()
}

fn locate(g: &Gallery, global: u64) -> (&Shard, usize) {
    let i = g
        .shards()
        .partition_point(|s| s.first_row <= global)
        .saturating_sub(1);
    let s = &g.shards()[i];
    (s, (global - s.first_row) as usize)
}

/// Verification over every enrolled probe's genuine pairs (at most a few per probe) and about
/// `impostor_pairs` random probe–gallery pairs of different identities (seeded).
pub fn verification(
    g: &Gallery,
    gallery_ids: &[String],
    queries: &[f32],
    query_ids: &[String],
    impostor_pairs: usize,
    seed: u64,
) -> Verification {
    let dim = g.dim();
    let words = g.bits() / 64;
    let codes = g
        .quantizer()
        .encode(queries)
        .expect("queries have the gallery's dimension");
    let mut rows_of: HashMap<&str, Vec<u64>> = HashMap::new();
    for (r, id) in gallery_ids.iter().enumerate() {
        let rows = rows_of.entry(id.as_str()).or_default();
        if rows.len() < GENUINE_PER_PROBE {
            rows.push(r as u64);
        }
    }
    let nq = query_ids.len();
    let per_query = impostor_pairs.div_ceil(nq.max(1));
    let n = gallery_ids.len() as u64;
    // (genuine?, cosine, −hamming) per pair.
    let scored: Vec<(bool, f64, f64)> = (0..nq)
        .into_par_iter()
        .flat_map_iter(|q| {
            let qv = &queries[q * dim..(q + 1) * dim];
            let qc = &codes[q * words..(q + 1) * words];
            let mut v = vec![0f32; dim];
            let mut c = vec![0u64; words];
            let mut score = |row: u64| -> (f64, f64) {
                let (s, r) = locate(g, row);
                s.floats.vector(r, &mut v);
                s.codes.code(r, &mut c);
                let cos: f32 = qv.iter().zip(&v).map(|(a, b)| a * b).sum();
                let ham: u32 = qc.iter().zip(&c).map(|(a, b)| (a ^ b).count_ones()).sum();
                (cos as f64, -(ham as f64))
            };
            let mut out = Vec::new();
            for &row in rows_of.get(query_ids[q].as_str()).into_iter().flatten() {
                let (cos, ham) = score(row);
                out.push((true, cos, ham));
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (q as u64).wrapping_mul(0x9e37));
            let mut drawn = 0;
            let mut tries = 0;
            while drawn < per_query && tries < 4 * per_query {
                tries += 1;
                let row = rng.random_range(0..n);
                if gallery_ids[row as usize] == query_ids[q] {
                    continue;
                }
                let (cos, ham) = score(row);
                out.push((false, cos, ham));
                drawn += 1;
            }
            out
        })
        .collect();
    let pick = |genuine: bool, exact: bool| -> Vec<f64> {
        scored
            .iter()
            .filter(|p| p.0 == genuine)
            .map(|p| if exact { p.1 } else { p.2 })
            .collect()
    };
    let genuine_exact = pick(true, true);
    let impostor_exact = pick(false, true);
    Verification {
        genuine_pairs: genuine_exact.len(),
        impostor_pairs: impostor_exact.len(),
        exact: tar_at_far(&genuine_exact, &impostor_exact, &FAR_TARGETS),
        quantized: tar_at_far(&pick(true, false), &pick(false, false), &FAR_TARGETS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_at_far_never_exceeds_the_far_and_counts_ties_as_rejected() {
        let impostor: Vec<f64> = (0..1000).map(|i| (i % 100) as f64).collect(); // 10 each
        let genuine = [99.0, 98.5, 50.0, 100.0];
        let r = &tar_at_far(&genuine, &impostor, &[0.01, 0.001])[..];
        // FAR 1%: 10 impostors may pass, but the 10 at 99 tie with the 11th largest (98):
        // accept above 98, i.e. 10 impostors (= 1%).
        assert_eq!(r[0].threshold, 98.0);
        assert!((r[0].far - 0.01).abs() < 1e-12);
        assert_eq!(r[0].tar, 0.75);
        // FAR 0.1%: one impostor may pass, ten tie at 99: accept above 99 only.
        assert_eq!(r[1].threshold, 99.0);
        assert_eq!(r[1].far, 0.0);
        assert_eq!(r[1].tar, 0.25);
        assert_eq!(r[1].frr, 0.75);
    }

    #[test]
    fn identification_counts_enrolled_probes_only() {
        let gallery = ["a", "b", "c"].map(String::from);
        let queries = ["a", "b", "z"].map(String::from);
        let r = identification(
            &gallery,
            &queries,
            &[Some(0), Some(2), Some(1)],
            &[Some(0), Some(1), None],
        );
        assert_eq!(r.probes, 2);
        assert_eq!(r.rank1_exact, 0.5);
        assert_eq!(r.rank1_quantized, 1.0);
    }
}
