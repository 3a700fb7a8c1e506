//! Face detection with YuNet: the input tensor (BGR, 0–255, padded to multiples of 32), the
//! decoding of its `cls/obj/bbox/kps` outputs at strides 8/16/32 into boxes and 5 landmarks
//! (score √(cls·obj)), and non-maximum suppression. The decoding follows OpenCV's
//! `FaceDetectorYN`; the landmark order (left eye, right eye, nose, left and right mouth
//! corners as seen in the image) is the template's.

/// Strides of YuNet's three output levels.
pub const STRIDES: [usize; 3] = [8, 16, 32];

/// One detected face, in pixels of the image given to the detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    /// `[x0, y0, …, x4, y4]` in template order.
    pub landmarks: [f32; 10],
    pub score: f32,
}

impl Detection {
    /// Box area in square pixels.
    pub fn area(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).max(0.0) * (self.bbox[3] - self.bbox[1]).max(0.0)
    }

    /// The shorter side of the box.
    pub fn min_side(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).min(self.bbox[3] - self.bbox[1])
    }

    /// The same face in an image `factor` times larger.
    pub fn scaled(&self, factor: f32) -> Detection {
        Detection {
            bbox: self.bbox.map(|v| v * factor),
            landmarks: self.landmarks.map(|v| v * factor),
            score: self.score,
        }
    }
}

/// The raw outputs of one stride level: `cls` and `obj` (one value per anchor), `bbox` (4 per
/// anchor), `kps` (10 per anchor), anchors in row-major grid order.
pub struct LevelOutputs<'a> {
    pub stride: usize,
    pub cls: &'a [f32],
    pub obj: &'a [f32],
    pub bbox: &'a [f32],
    pub kps: &'a [f32],
}

/// Decodes one level's anchors scoring at least `min_score` on a `width`-pixel-wide input.
pub fn decode_level(level: &LevelOutputs, width: usize, min_score: f32, out: &mut Vec<Detection>) {
    let s = level.stride as f32;
    let cols = width / level.stride;
    let anchors = level.cls.len().min(level.obj.len());
    for i in 0..anchors {
        let score = (level.cls[i].clamp(0.0, 1.0) * level.obj[i].clamp(0.0, 1.0)).sqrt();
        if score < min_score || score.is_nan() {
            continue;
        }
        let (Some(b), Some(k)) = (
            level.bbox.get(4 * i..4 * i + 4),
            level.kps.get(10 * i..10 * i + 10),
        ) else {
            break;
        };
        let (c, r) = ((i % cols.max(1)) as f32, (i / cols.max(1)) as f32);
        let (cx, cy) = ((c + b[0]) * s, (r + b[1]) * s);
        let (w, h) = (b[2].exp() * s, b[3].exp() * s);
        let mut landmarks = [0f32; 10];
        for p in 0..5 {
            landmarks[2 * p] = (k[2 * p] + c) * s;
            landmarks[2 * p + 1] = (k[2 * p + 1] + r) * s;
        }
        let bbox = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
        if bbox.iter().chain(landmarks.iter()).all(|v| v.is_finite()) {
            out.push(Detection {
                bbox,
                landmarks,
                score,
            });
        }
    }
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Greedy non-maximum suppression: keeps the best-scoring boxes, dropping any box whose IoU
/// with a kept one exceeds `threshold`. The result is sorted by score, best first (ties by
/// position, so the order never depends on the input order).
pub fn nms(mut dets: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.bbox[1].total_cmp(&b.bbox[1]))
            .then(a.bbox[0].total_cmp(&b.bbox[0]))
    });
    let mut kept: Vec<Detection> = Vec::new();
    for d in dets {
        if kept.iter().all(|k| iou(&k.bbox, &d.bbox) <= threshold) {
            kept.push(d);
        }
    }
    kept
}

/// Input size for a `width × height` image: the scale that fits its longer side in
/// `max_side` (never enlarging), and the padded tensor size (multiples of 32).
pub fn input_geometry(
    width: usize,
    height: usize,
    max_side: usize,
) -> (f32, usize, usize, usize, usize) {
    let scale = (max_side as f32 / width.max(height).max(1) as f32).min(1.0);
    let rw = ((width as f32 * scale).round() as usize).max(1);
    let rh = ((height as f32 * scale).round() as usize).max(1);
    (scale, rw, rh, rw.div_ceil(32) * 32, rh.div_ceil(32) * 32)
}

#[cfg(feature = "vision")]
pub use session::YuNet;

#[cfg(feature = "vision")]
mod session {
    use std::path::PathBuf;

    use image::RgbImage;
    use ort::session::Session;
    use ort::value::TensorRef;

    use super::*;
    use crate::vision::VisionError;

    /// A YuNet session (one per worker thread: ONNX Runtime runs take `&mut`).
    pub struct YuNet {
        session: Session,
        path: PathBuf,
        /// Longer side of the detector's input, in pixels.
        pub max_side: usize,
    }

    impl YuNet {
        pub(crate) fn new(session: Session, path: PathBuf, max_side: usize) -> Self {
            Self {
                session,
                path,
                max_side,
            }
        }

        /// Faces in `img` scoring at least `min_score`, after NMS (IoU 0.3), in pixels of
        /// `img`, best first.
        pub fn detect(
            &mut self,
            img: &RgbImage,
            min_score: f32,
        ) -> Result<Vec<Detection>, VisionError> {
            let (w, h) = (img.width() as usize, img.height() as usize);
            let (scale, rw, rh, pw, ph) = input_geometry(w, h, self.max_side);
            let resized;
            let src = if (rw, rh) == (w, h) {
                img
            } else {
                // Area averaging in integers: fast, and no aliasing when shrinking a photo.
                resized = image::imageops::thumbnail(img, rw as u32, rh as u32);
                &resized
            };
            let mut input = vec![0f32; 3 * pw * ph];
            let plane = pw * ph;
            for (y, row) in src.as_raw().chunks_exact(rw * 3).enumerate() {
                for (x, px) in row.chunks_exact(3).enumerate() {
                    let at = y * pw + x;
                    // BGR planes.
                    input[at] = px[2] as f32;
                    input[plane + at] = px[1] as f32;
                    input[2 * plane + at] = px[0] as f32;
                }
            }
            let fail = |message: String| VisionError::Inference {
                model: self.path.display().to_string(),
                message,
            };
            let tensor = TensorRef::from_array_view(([1usize, 3, ph, pw], &*input))
                .map_err(|e| fail(e.to_string()))?;
            let outputs = self
                .session
                .run(ort::inputs![tensor])
                .map_err(|e| fail(e.to_string()))?;
            let mut dets = Vec::new();
            for stride in STRIDES {
                let get = |name: &str| -> Result<&[f32], VisionError> {
                    let key = format!("{name}_{stride}");
                    let value =
                        outputs
                            .get(key.as_str())
                            .ok_or_else(|| VisionError::ModelOutput {
                                path: self.path.clone(),
                                message: format!("no output `{key}`"),
                            })?;
                    value
                        .try_extract_tensor::<f32>()
                        .map(|(_, data)| data)
                        .map_err(|e| VisionError::ModelOutput {
                            path: self.path.clone(),
                            message: format!("`{key}`: {e}"),
                        })
                };
                let level = LevelOutputs {
                    stride,
                    cls: get("cls")?,
                    obj: get("obj")?,
                    bbox: get("bbox")?,
                    kps: get("kps")?,
                };
                decode_level(&level, pw, min_score, &mut dets);
            }
            Ok(nms(dets, 0.3)
                .into_iter()
                .map(|d| d.scaled(1.0 / scale))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_an_anchor_at_its_grid_cell() {
        // A 64-pixel-wide input at stride 32 has 2 columns; anchor 3 is row 1, column 1.
        let mut cls = vec![0.0; 4];
        let mut obj = vec![0.0; 4];
        cls[3] = 0.81;
        obj[3] = 1.0;
        let mut bbox = vec![0.0; 16];
        bbox[12..16].copy_from_slice(&[0.5, 0.25, 0.0, (2.0f32).ln()]);
        let mut kps = vec![0.0; 40];
        kps[30] = 0.5;
        kps[31] = -0.5;
        let level = LevelOutputs {
            stride: 32,
            cls: &cls,
            obj: &obj,
            bbox: &bbox,
            kps: &kps,
        };
        let mut out = Vec::new();
        decode_level(&level, 64, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        let d = &out[0];
        assert!((d.score - 0.9).abs() < 1e-6);
        // Centre (1.5·32, 1.25·32) = (48, 40); size 32 × 64.
        assert_eq!(d.bbox, [32.0, 8.0, 64.0, 72.0]);
        assert_eq!(&d.landmarks[0..2], &[48.0, 16.0]);
        assert_eq!(&d.landmarks[2..4], &[32.0, 32.0]);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let det = |x: f32, score: f32| Detection {
            bbox: [x, 0.0, x + 10.0, 10.0],
            landmarks: [0.0; 10],
            score,
        };
        let kept = nms(
            vec![det(1.0, 0.7), det(0.0, 0.9), det(30.0, 0.8), det(2.0, 0.95)],
            0.3,
        );
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.95, 0.8]);
    }

    #[test]
    fn geometry_fits_the_longer_side_and_pads_to_32() {
        assert_eq!(input_geometry(1280, 720, 640), (0.5, 640, 360, 640, 384));
        assert_eq!(input_geometry(100, 50, 640), (1.0, 100, 50, 128, 64));
    }
}
