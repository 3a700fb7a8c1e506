//! The `.ffq` quantizer file (all numbers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `FFQUANT\0` |
//! | 4 | format version (u32, currently 1) |
//! | 4 + 4 | dim, bits (u32) |
//! | 4 | header length H (u32) |
//! | H | JSON header: fit info, calibration table, bit order |
//! | 4·dim | mean (f32) |
//! | 4·dim·bits | projection, row-major `dim × bits` (f32) |
//! | 4·bits | thresholds (f32) |
//! | 32 | SHA-256 of everything above |
//!
//! The quantizer's hash (recorded in galleries and outputs) is the SHA-256 of the whole file.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Calibration, FitInfo, QuantError, Quantizer};
use crate::store::AtomicOutput;

/// First bytes of every quantizer file.
pub const MAGIC: &[u8; 8] = b"FFQUANT\0";
/// Format version written by this build (and the only one it reads).
pub const FORMAT_VERSION: u32 = 1;
/// Bit order of codes, recorded in the header.
pub const BIT_ORDER: &str = "bit i = bit (i mod 64) of little-endian u64 word i/64";
const FIXED: usize = 8 + 4 * 4;
const CHECKSUM: usize = 32;
/// Largest dimension and code length a file may declare.
const MAX_DIM: u32 = 65_536;
const MAX_BITS: u32 = 2048;

#[derive(Serialize, Deserialize)]
struct Header {
    bit_order: String,
    info: FitInfo,
    calibration: Calibration,
}

/// Serialises `q` into the file format.
pub fn to_bytes(q: &Quantizer) -> Vec<u8> {
    let header = serde_json::to_vec(&Header {
        bit_order: BIT_ORDER.to_string(),
        info: q.info.clone(),
        calibration: q.calibration.clone(),
    })
    .expect("header serialises");
    let mut out =
        Vec::with_capacity(FIXED + header.len() + 4 * (q.dim + q.dim * q.bits + q.bits) + CHECKSUM);
    out.extend_from_slice(MAGIC);
    for v in [
        FORMAT_VERSION,
        q.dim as u32,
        q.bits as u32,
        header.len() as u32,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&header);
    for v in q.mean.iter().chain(&q.projection).chain(&q.thresholds) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Writes `q` to `path` atomically and records the file's hash in `q`; returns the hash.
pub fn save(q: &mut Quantizer, path: &Path) -> Result<String, QuantError> {
    let bytes = to_bytes(q);
    let out = AtomicOutput::create(path)?;
    let mut file = out.file()?;
    file.write_all(&bytes).map_err(|e| QuantError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    out.commit()?;
    let hash = hex(&Sha256::digest(&bytes));
    q.hash = Some(Arc::from(hash.as_str()));
    Ok(hash)
}

/// Reads and verifies a quantizer file.
pub fn load(path: &Path) -> Result<Quantizer, QuantError> {
    let bytes = std::fs::read(path).map_err(|e| QuantError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    from_bytes(&bytes, path)
}

/// Parses and verifies the file format; `path` only names the file in errors.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Quantizer, QuantError> {
    let p = || path.to_path_buf();
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(QuantError::BadMagic { path: p() });
    }
    if bytes.len() < FIXED {
        return Err(QuantError::Truncated {
            path: p(),
            found: bytes.len() as u64,
            expected: FIXED as u64,
        });
    }
    let word =
        |i: usize| u32::from_le_bytes(bytes[8 + 4 * i..12 + 4 * i].try_into().expect("4 bytes"));
    let (version, dim, bits, header_len) = (word(0), word(1), word(2), word(3));
    if version != FORMAT_VERSION {
        return Err(QuantError::Version {
            path: p(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if dim == 0 || dim > MAX_DIM || bits == 0 || bits % 64 != 0 || bits > MAX_BITS {
        return Err(QuantError::Header {
            path: p(),
            message: format!("impossible shape: dim {dim}, bits {bits}"),
        });
    }
    let (dim, bits, header_len) = (dim as usize, bits as usize, header_len as usize);
    let expected = FIXED + header_len + 4 * (dim + dim * bits + bits) + CHECKSUM;
    if bytes.len() < expected {
        return Err(QuantError::Truncated {
            path: p(),
            found: bytes.len() as u64,
            expected: expected as u64,
        });
    }
    if bytes.len() > expected {
        return Err(QuantError::Header {
            path: p(),
            message: format!(
                "{} trailing bytes after the checksum",
                bytes.len() - expected
            ),
        });
    }
    let body = &bytes[..expected - CHECKSUM];
    if Sha256::digest(body).as_slice() != &bytes[expected - CHECKSUM..] {
        return Err(QuantError::Checksum { path: p() });
    }
    let header: Header =
        serde_json::from_slice(&bytes[FIXED..FIXED + header_len]).map_err(|e| {
            QuantError::Header {
                path: p(),
                message: e.to_string(),
            }
        })?;
    let floats: Vec<f32> = body[FIXED + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    let (mean, rest) = floats.split_at(dim);
    let (projection, thresholds) = rest.split_at(dim * bits);
    let mut q = Quantizer::from_parts(
        dim,
        bits,
        mean.to_vec(),
        projection.to_vec(),
        thresholds.to_vec(),
        header.info,
        header.calibration,
    );
    q.hash = Some(Arc::from(hex(&Sha256::digest(bytes)).as_str()));
    Ok(q)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
