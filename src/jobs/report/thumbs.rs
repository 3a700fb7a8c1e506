//! Face thumbnails for the HTML report: the photo (EXIF orientation applied), cropped to the
//! face box with a margin when the gallery has one, scaled to a small square JPEG. Needs the
//! `vision` feature (the `image` crate); without it the report shows placeholders.

/// Where a face's thumbnail comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceSource {
    /// The photo on disk.
    pub path: String,
    /// Face box `[x1, y1, x2, y2]` in pixels of the (oriented) photo, if known.
    pub bbox: Option<[f32; 4]>,
}

/// Why a thumbnail could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ThumbError {
    pub path: String,
    pub message: String,
}

/// A `size`×`size` JPEG of the face, as bytes.
#[cfg(feature = "vision")]
pub fn thumbnail(source: &FaceSource, size: u32) -> Result<Vec<u8>, ThumbError> {
    use image::{DynamicImage, ImageDecoder, ImageReader};
    let fail = |message: String| ThumbError {
        path: source.path.clone(),
        message,
    };
    let reader = ImageReader::open(&source.path)
        .map_err(|e| fail(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| fail(e.to_string()))?;
    let mut decoder = reader.into_decoder().map_err(|e| fail(e.to_string()))?;
    let orientation = decoder.orientation().map_err(|e| fail(e.to_string()))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| fail(e.to_string()))?;
    img.apply_orientation(orientation);
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (x0, y0, side) = match source.bbox {
        Some([x1, y1, x2, y2]) if x2 > x1 && y2 > y1 => {
            // A square around the box with 30% margin, clamped to the photo.
            let side = ((x2 - x1).max(y2 - y1) * 1.3).min(w.min(h));
            let cx = (x1 + x2) / 2.0;
            let cy = (y1 + y2) / 2.0;
            let x0 = (cx - side / 2.0).clamp(0.0, (w - side).max(0.0));
            let y0 = (cy - side / 2.0).clamp(0.0, (h - side).max(0.0));
            (x0, y0, side)
        }
        // No box: the centre square of the photo.
        _ => {
            let side = w.min(h);
            ((w - side) / 2.0, (h - side) / 2.0, side)
        }
    };
    let side = (side as u32).max(1);
    let crop = img.crop_imm(x0 as u32, y0 as u32, side, side);
    let thumb = crop
        .resize_exact(size, size, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 75);
    enc.encode_image(&thumb).map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

/// Without the `vision` feature there are no thumbnails.
#[cfg(not(feature = "vision"))]
pub fn thumbnail(source: &FaceSource, _size: u32) -> Result<Vec<u8>, ThumbError> {
    Err(ThumbError {
        path: source.path.clone(),
        message: "this build has no image support (feature `vision`)".into(),
    })
}
