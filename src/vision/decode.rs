//! Image decoding for embedding: format sniffed from the bytes, a pixel limit checked before
//! any pixel is decoded (decompression bombs), EXIF orientation applied, and every colour
//! type (grayscale, alpha, 16-bit, CMYK JPEG) converted to 8-bit RGB.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use super::{Fault, FaultKind};

/// Default pixel limit: 100 megapixels.
pub const MAX_PIXELS: u64 = 100_000_000;

/// Decodes `bytes` to an upright 8-bit RGB image, or says why it cannot.
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, Fault> {
    if bytes.is_empty() {
        return Err(Fault::new(FaultKind::Empty, "the file is empty (0 bytes)"));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Fault::new(FaultKind::Unreadable, e.to_string()))?;
    if reader.format().is_none() {
        return Err(Fault::new(
            FaultKind::NotImage,
            "not a recognised image format (jpeg, png, webp, bmp, tiff)",
        ));
    }
    let mut reader = reader;
    // Our own pixel limit is checked below from the header; the allocation limit only guards
    // decoders that would allocate more than the limit's worth of 16-bit RGBA.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(1 << 26));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > max_pixels {
        return Err(Fault::new(
            FaultKind::TooLarge,
            format!(
                "{w}×{h} = {:.1} megapixels exceeds the limit of {:.1}",
                (w as f64 * h as f64) / 1e6,
                max_pixels as f64 / 1e6
            ),
        ));
    }
    let orientation = decoder.orientation().map_err(classify)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    img.apply_orientation(orientation);
    Ok(img.into_rgb8())
}

fn classify(e: ImageError) -> Fault {
    let kind = match &e {
        ImageError::Limits(_) => FaultKind::TooLarge,
        ImageError::Unsupported(_) => FaultKind::NotImage,
        ImageError::IoError(_)
        | ImageError::Decoding(_)
        | ImageError::Parameter(_)
        | ImageError::Encoding(_) => FaultKind::Corrupt,
    };
    Fault::new(kind, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn every_colour_type_becomes_rgb8() {
        let gray = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(4, 3, image::Luma([100])));
        let rgba16 = DynamicImage::ImageRgba16(image::ImageBuffer::from_pixel(
            4,
            3,
            image::Rgba([65535u16, 0, 0, 65535]),
        ));
        for img in [gray, rgba16] {
            let rgb = decode_rgb(&png(&img), MAX_PIXELS).unwrap();
            assert_eq!(rgb.dimensions(), (4, 3));
        }
    }

    #[test]
    fn bad_bytes_are_classified() {
        assert_eq!(
            decode_rgb(b"", MAX_PIXELS).unwrap_err().kind,
            FaultKind::Empty
        );
        assert_eq!(
            decode_rgb(b"hello, not an image", MAX_PIXELS)
                .unwrap_err()
                .kind,
            FaultKind::NotImage
        );
        let full = png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(
            64,
            64,
            image::Rgb([1, 2, 3]),
        )));
        assert_eq!(
            decode_rgb(&full[..full.len() / 2], MAX_PIXELS)
                .unwrap_err()
                .kind,
            FaultKind::Corrupt
        );
        assert_eq!(
            decode_rgb(&full, 1000).unwrap_err().kind,
            FaultKind::TooLarge
        );
    }
}
