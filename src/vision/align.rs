//! Five-point face alignment: the least-squares similarity transform (Umeyama, without
//! reflection) that maps detected landmarks onto the standard 112×112 ArcFace template, and a
//! bilinear affine warp of an RGB buffer (OpenCV `warpAffine` conventions: integer pixel
//! coordinates, constant black border).

/// The ArcFace template in a 112×112 crop: left eye, right eye, nose tip, left and right
/// mouth corners (as seen in the image), as `[x0, y0, x1, y1, …]`.
pub const TEMPLATE_112: [f32; 10] = [
    38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299, 92.2041,
];

/// Side of the aligned crop in pixels.
pub const CROP_SIZE: usize = 112;

/// A 2-D affine map `(x, y) → (a·x + b·y + c, d·x + e·y + f)`, stored `[a, b, c, d, e, f]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [f64; 6]);

impl Affine {
    /// Applies the map to a point.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + b * y + c, d * x + e * y + f)
    }

    /// The inverse map, or `None` when the map is singular.
    pub fn inverse(&self) -> Option<Affine> {
        let [a, b, c, d, e, f] = self.0;
        let det = a * e - b * d;
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Some(Affine([
            ia,
            ib,
            -(ia * c + ib * f),
            id,
            ie,
            -(id * c + ie * f),
        ]))
    }
}

/// The similarity transform (scale, rotation, translation) minimising the squared distance
/// between the mapped `points` and `template` (both `[x0, y0, x1, y1, …]`). `None` when the
/// points are degenerate (all equal, or not finite).
pub fn similarity_transform(points: &[f32], template: &[f32]) -> Option<Affine> {
    let n = points.len() / 2;
    if n < 2 || points.len() != template.len() || points.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean = |v: &[f32], k: usize| {
        v.iter().skip(k).step_by(2).map(|&x| x as f64).sum::<f64>() / n as f64
    };
    let (px, py, qx, qy) = (
        mean(points, 0),
        mean(points, 1),
        mean(template, 0),
        mean(template, 1),
    );
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (ax, ay) = (points[2 * i] as f64 - px, points[2 * i + 1] as f64 - py);
        let (bx, by) = (template[2 * i] as f64 - qx, template[2 * i + 1] as f64 - qy);
        dot += ax * bx + ay * by;
        cross += ax * by - ay * bx;
        norm += ax * ax + ay * ay;
    }
    if norm < 1e-9 {
        return None;
    }
    // The map is [[α, −β], [β, α]] p + t: α = s·cos θ, β = s·sin θ.
    let (alpha, beta) = (dot / norm, cross / norm);
    let tx = qx - (alpha * px - beta * py);
    let ty = qy - (beta * px + alpha * py);
    Some(Affine([alpha, -beta, tx, beta, alpha, ty]))
}

/// Warps an interleaved RGB image (`width × height × 3` bytes) by `to_crop` (source → crop
/// coordinates) into a `size × size` RGB crop, sampling bilinearly; outside pixels are black.
pub fn warp_rgb(src: &[u8], width: usize, height: usize, to_crop: &Affine, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size * size * 3];
    let Some(back) = to_crop.inverse() else {
        return out;
    };
    let pixel = |x: isize, y: isize, c: usize| -> f64 {
        if x < 0 || y < 0 || x as usize >= width || y as usize >= height {
            0.0
        } else {
            src[(y as usize * width + x as usize) * 3 + c] as f64
        }
    };
    for v in 0..size {
        for u in 0..size {
            let (sx, sy) = back.apply(u as f64, v as f64);
            if !(sx > -1.0 && sy > -1.0 && sx < width as f64 && sy < height as f64) {
                continue;
            }
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            for c in 0..3 {
                let top = pixel(x0, y0, c) * (1.0 - fx) + pixel(x0 + 1, y0, c) * fx;
                let bottom = pixel(x0, y0 + 1, c) * (1.0 - fx) + pixel(x0 + 1, y0 + 1, c) * fx;
                let value = top * (1.0 - fy) + bottom * fy;
                out[(v * size + u) * 3 + c] = value.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_points(t: &Affine, p: &[f32]) -> Vec<f32> {
        p.chunks(2)
            .flat_map(|xy| {
                let (x, y) = t.apply(xy[0] as f64, xy[1] as f64);
                [x as f32, y as f32]
            })
            .collect()
    }

    #[test]
    fn recovers_a_known_similarity() {
        // Landmarks = the template rotated by 20°, scaled by 3 and moved: the fit must undo it.
        let (s, th) = (3.0f64, 20f64.to_radians());
        let fwd = Affine([
            s * th.cos(),
            -s * th.sin(),
            400.0,
            s * th.sin(),
            s * th.cos(),
            250.0,
        ]);
        let points = map_points(&fwd, &TEMPLATE_112);
        let fit = similarity_transform(&points, &TEMPLATE_112).unwrap();
        for (a, b) in map_points(&fit, &points).iter().zip(TEMPLATE_112.iter()) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        let inv = fwd.inverse().unwrap();
        // Equal up to the f32 precision of the landmarks (≈ 1e-7 relative).
        for (a, b) in fit.0.iter().zip(inv.0.iter()) {
            assert!((a - b).abs() < 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn degenerate_points_have_no_transform() {
        assert!(similarity_transform(&[5.0; 10], &TEMPLATE_112).is_none());
        let mut p = TEMPLATE_112;
        p[3] = f32::NAN;
        assert!(similarity_transform(&p, &TEMPLATE_112).is_none());
    }

    #[test]
    fn identity_warp_copies_and_translation_shifts() {
        let (w, h) = (7usize, 5usize);
        let src: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let id = Affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let out = warp_rgb(&src, w, h, &id, 5);
        for y in 0..5 {
            for x in 0..5 {
                for c in 0..3 {
                    assert_eq!(out[(y * 5 + x) * 3 + c], src[(y * w + x) * 3 + c]);
                }
            }
        }
        // Crop = source moved right by 2: crop pixel (u, v) reads source (u − 2, v).
        let shift = Affine([1.0, 0.0, 2.0, 0.0, 1.0, 0.0]);
        let out = warp_rgb(&src, w, h, &shift, 5);
        assert_eq!(&out[0..6], &[0; 6]);
        assert_eq!(&out[6..9], &src[0..3]);
    }

    #[test]
    fn half_pixel_shift_averages_neighbours() {
        let src = [0u8, 0, 0, 200, 100, 50];
        let t = Affine([1.0, 0.0, -0.5, 0.0, 1.0, 0.0]);
        let out = warp_rgb(&src, 2, 1, &t, 1);
        assert_eq!(out, vec![100, 50, 25]);
    }
}
