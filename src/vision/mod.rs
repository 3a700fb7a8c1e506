//! Photos to embeddings: image decoding (EXIF orientation, size limits), face detection
//! (YuNet), 5-point alignment to the ArcFace template, recognition (SFace / ArcFace) on ONNX
//! Runtime, and the walk that turns folders and lists into the images to embed.
//!
//! Everything that touches ONNX Runtime or decodes images needs the `vision` feature; the
//! geometry ([`align`]), the detector's output decoding and the input walk are plain Rust.

pub mod align;
#[cfg(feature = "vision")]
pub mod decode;
pub mod detect;
#[cfg(feature = "vision")]
pub mod embedder;
mod error;
pub mod models;
#[cfg(feature = "vision")]
pub mod recognize;
#[cfg(feature = "vision")]
pub mod runtime;
pub mod walk;

pub use align::{similarity_transform, Affine, TEMPLATE_112};
pub use detect::{nms, Detection};
#[cfg(feature = "vision")]
pub use embedder::{Embedder, FaceCrop, FaceOptions};
pub use error::{Fault, FaultKind, VisionError};
pub use models::{ModelFiles, Profile};
pub use walk::{collect_images, collect_records, ImageItem, IMAGE_EXTENSIONS};
