//! Error classification shared by every module: bad input data versus runtime failure.

use std::error::Error;

/// True when `err`, or any error in its `source()` chain, was caused by the user's input
/// data (a bad Parquet file, a wrong dimension, a corrupt quantizer file): exit code 3.
pub fn is_bad_input(err: &(dyn Error + 'static)) -> bool {
    let mut current: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<crate::store::InputError>().is_some() {
            return true;
        }
        if let Some(q) = e.downcast_ref::<crate::quant::QuantError>() {
            if q.is_bad_input() {
                return true;
            }
        }
        if let Some(j) = e.downcast_ref::<crate::jobs::JobError>() {
            if j.is_bad_input() {
                return true;
            }
        }
        if let Some(a) = e.downcast_ref::<crate::bench::ann::AnnError>() {
            if a.is_bad_input() {
                return true;
            }
        }
        if let Some(g) = e.downcast_ref::<crate::store::GalleryError>() {
            if g.is_bad_input() {
                return true;
            }
        }
        if let Some(v) = e.downcast_ref::<crate::vision::VisionError>() {
            if v.is_bad_input() {
                return true;
            }
        }
        current = e.source();
    }
    false
}
