//! Cosine thresholds of the threshold jobs (dedup, watchlist) and the Hamming prefilter radius
//! that goes with one.

use super::JobError;
use crate::store::Gallery;

/// Checks a cosine threshold: a finite number in -1..=1.
pub fn check_threshold(threshold: f32) -> Result<(), JobError> {
    if threshold.is_finite() && (-1.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(JobError::Params(format!(
            "--threshold {threshold} is not a cosine in -1..1"
        )))
    }
}

/// The Hamming radius that keeps the pairs at or above `threshold` (checked first with
/// [`check_threshold`]): `radius` when given
/// (clamped to the code length), else the gallery quantizer's calibrated radius for that
/// cosine (interpolated between the calibrated thresholds; above the highest, the highest's
/// radius, which keeps even more).
pub fn prefilter_radius(
    gallery: &Gallery,
    threshold: f32,
    radius: Option<u32>,
) -> Result<u32, JobError> {
    check_threshold(threshold)?;
    let bits = gallery.bits() as u32;
    if let Some(r) = radius {
        return Ok(r.min(bits));
    }
    let calibration = &gallery.quantizer().calibration;
    calibration
        .radius_for(threshold)
        .map(|r| r.min(bits))
        .ok_or_else(|| {
            let range = calibration
                .radii
                .iter()
                .filter(|p| p.radius.is_some())
                .map(|p| p.cosine)
                .collect::<Vec<_>>();
            JobError::Params(match (range.first(), range.last()) {
                (Some(lo), Some(hi)) => format!(
                    "--threshold {threshold} is below the quantizer's calibrated range \
                     ({lo}..{hi}); pass --radius R (up to {bits}, where {bits} compares every pair exactly)"
                ),
                _ => format!(
                    "the quantizer has no calibrated Hamming radii; pass --radius R (up to \
                     {bits}, where {bits} compares every pair exactly)"
                ),
            })
        })
}
