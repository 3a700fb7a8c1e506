//! The PCA+ITQ binary quantizer: fitting, encoding, the `.ffq` file and calibration.

mod error;

pub use error::QuantError;
