//! Face recognition: aligned 112×112 RGB crops in, L2-normalised embeddings out, in batches
//! (the models' batch dimension is dynamic).

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;

use super::align::CROP_SIZE;
use super::models::InputScale;
use super::VisionError;

/// A recognizer session and how its input is scaled.
pub struct Recognizer {
    session: Session,
    path: PathBuf,
    scale: InputScale,
}

impl Recognizer {
    pub(crate) fn new(session: Session, path: &Path, scale: InputScale) -> Self {
        Self {
            session,
            path: path.to_path_buf(),
            scale,
        }
    }

    /// Embeddings of `crops` (each `112 × 112 × 3` RGB bytes), L2-normalised, row-major:
    /// returns `(values, dim)`.
    pub fn embed(&mut self, crops: &[&[u8]]) -> Result<(Vec<f32>, usize), VisionError> {
        if crops.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let plane = CROP_SIZE * CROP_SIZE;
        let mut input = vec![0f32; crops.len() * 3 * plane];
        for (crop, dst) in crops.iter().zip(input.chunks_exact_mut(3 * plane)) {
            for (i, px) in crop.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    let v = px[c] as f32;
                    dst[c * plane + i] = match self.scale {
                        InputScale::Raw => v,
                        InputScale::Centered => (v - 127.5) / 127.5,
                    };
                }
            }
        }
        let model = self.path.display().to_string();
        let fail = |e: ort::Error| VisionError::Inference {
            model: model.clone(),
            message: e.to_string(),
        };
        let tensor = TensorRef::from_array_view(([crops.len(), 3, CROP_SIZE, CROP_SIZE], &*input))
            .map_err(fail)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(fail)?;
        let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
        let dim = shape.iter().skip(1).product::<i64>().max(0) as usize;
        if shape.first().copied() != Some(crops.len() as i64)
            || dim == 0
            || data.len() != dim * crops.len()
        {
            return Err(VisionError::ModelOutput {
                path: self.path.clone(),
                message: format!("output shape {shape:?} for a batch of {}", crops.len()),
            });
        }
        let mut values = data.to_vec();
        for row in values.chunks_exact_mut(dim) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 && norm.is_finite() {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Ok((values, dim))
    }
}
