//! The PCA+ITQ binary quantizer: fitting, encoding, the `.ffq` file and calibration.

mod calibrate;
mod error;
pub mod file;
mod fit;
mod info;
mod itq;
mod moments;
mod quantizer;
mod reservoir;

pub use calibrate::{calibrate, PAIR_KEEP, RADIUS_THRESHOLDS, RECALL_TARGET};
pub use error::QuantError;
pub use fit::{bit_balance, fit, FitParams, DEFAULT_ITQ_ROWS, MAX_HOLDOUT, MIN_FIT_ROWS};
pub use info::{Calibration, FitInfo, RadiusPoint, RecallPoint};
pub use itq::{itq, ItqResult};
pub use moments::Moments;
pub use quantizer::{code_words, codes_to_arrow, Quantizer};
pub use reservoir::Reservoir;
