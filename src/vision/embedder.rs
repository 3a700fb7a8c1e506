//! The per-image pipeline: decode → detect → align (a [`Embedder::faces`] call, run in
//! parallel over images with one detector session per worker) and batched recognition of
//! the aligned crops ([`Embedder::embed`], one session using every thread).

use std::sync::Mutex;

use image::RgbImage;

use super::align::{similarity_transform, warp_rgb, CROP_SIZE, TEMPLATE_112};
use super::decode::{decode_rgb, MAX_PIXELS};
use super::detect::YuNet;
use super::recognize::Recognizer;
use super::runtime::session;
use super::{Fault, FaultKind, ModelFiles, VisionError};

/// What to keep of the detector's output.
#[derive(Debug, Clone)]
pub struct FaceOptions {
    /// Keep every face (else only the largest of each image).
    pub all_faces: bool,
    /// Smallest face kept: shorter box side in pixels of the photo.
    pub min_face: f32,
    /// Smallest detector score kept.
    pub min_score: f32,
    /// The inputs are aligned 112×112 crops: no detection.
    pub aligned: bool,
    /// Pixel limit of a photo (decompression bombs).
    pub max_pixels: u64,
    /// Longer side of the detector's input.
    pub detector_side: usize,
}

impl Default for FaceOptions {
    fn default() -> Self {
        Self {
            all_faces: true,
            min_face: 40.0,
            min_score: 0.6,
            aligned: false,
            max_pixels: MAX_PIXELS,
            detector_side: 640,
        }
    }
}

/// One face found in an image, aligned and ready for recognition.
#[derive(Debug, Clone)]
pub struct FaceCrop {
    pub face_index: u16,
    pub bbox: Option<[f32; 4]>,
    pub landmarks: Option<[f32; 10]>,
    pub det_score: Option<f32>,
    /// `112 × 112 × 3` RGB bytes.
    pub crop: Vec<u8>,
}

/// Loaded models: detector sessions (one per worker) and the recognizer.
pub struct Embedder {
    detectors: Vec<Mutex<YuNet>>,
    recognizer: Mutex<Recognizer>,
    pub files: ModelFiles,
    pub options: FaceOptions,
    /// Dimension of the recognizer's embeddings (probed at load).
    pub dim: usize,
}

impl Embedder {
    /// Loads the models of `files` for `threads` workers.
    pub fn load(
        files: ModelFiles,
        options: FaceOptions,
        threads: usize,
    ) -> Result<Self, VisionError> {
        let detectors = (0..threads.max(1))
            .map(|_| {
                session(&files.detector, 1).map(|s| {
                    Mutex::new(YuNet::new(s, files.detector.clone(), options.detector_side))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut recognizer = Recognizer::new(
            session(&files.recognizer, threads)?,
            &files.recognizer,
            files.profile.input_scale(),
        );
        let (_, dim) = recognizer.embed(&[&vec![0u8; CROP_SIZE * CROP_SIZE * 3]])?;
        Ok(Self {
            detectors,
            recognizer: Mutex::new(recognizer),
            files,
            options,
            dim,
        })
    }

    /// The faces of one encoded image, or why there are none. `Err` only for failures of
    /// the runtime itself, which stop the job.
    pub fn faces(&self, bytes: &[u8]) -> Result<Result<Vec<FaceCrop>, Fault>, VisionError> {
        let img = match decode_rgb(bytes, self.options.max_pixels) {
            Ok(img) => img,
            Err(fault) => return Ok(Err(fault)),
        };
        if self.options.aligned {
            return Ok(Ok(vec![aligned_crop(&img)]));
        }
        let worker = rayon::current_thread_index().unwrap_or(0) % self.detectors.len();
        let mut detector = self.detectors[worker]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let found = detector.detect(&img, self.options.min_score)?;
        drop(detector);
        let total = found.len();
        let mut dets: Vec<_> = found
            .into_iter()
            .filter(|d| d.min_side() >= self.options.min_face)
            .collect();
        if !self.options.all_faces {
            dets.sort_by(|a, b| b.area().total_cmp(&a.area()));
            dets.truncate(1);
        }
        if dets.is_empty() {
            let message = if total == 0 {
                format!(
                    "no face scored ≥ {} ({}×{} photo)",
                    self.options.min_score,
                    img.width(),
                    img.height()
                )
            } else {
                format!(
                    "{total} face(s) found, all smaller than --min-face {} px",
                    self.options.min_face
                )
            };
            return Ok(Err(Fault::new(FaultKind::NoFace, message)));
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        let crops = dets
            .into_iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let to_crop = similarity_transform(&d.landmarks, &TEMPLATE_112)?;
                Some(FaceCrop {
                    face_index: i as u16,
                    bbox: Some(d.bbox),
                    landmarks: Some(d.landmarks),
                    det_score: Some(d.score),
                    crop: warp_rgb(img.as_raw(), w, h, &to_crop, CROP_SIZE),
                })
            })
            .collect();
        Ok(Ok(crops))
    }

    /// L2-normalised embeddings of aligned crops: `(values, dim)`.
    pub fn embed(&self, crops: &[&[u8]]) -> Result<(Vec<f32>, usize), VisionError> {
        self.recognizer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .embed(crops)
    }
}

/// A pre-aligned image as a crop (resized to 112×112 when it is not).
fn aligned_crop(img: &RgbImage) -> FaceCrop {
    let crop = if img.dimensions() == (CROP_SIZE as u32, CROP_SIZE as u32) {
        img.as_raw().clone()
    } else {
        image::imageops::resize(
            img,
            CROP_SIZE as u32,
            CROP_SIZE as u32,
            image::imageops::FilterType::Triangle,
        )
        .into_raw()
    };
    FaceCrop {
        face_index: 0,
        bbox: None,
        landmarks: None,
        det_score: None,
        crop,
    }
}
