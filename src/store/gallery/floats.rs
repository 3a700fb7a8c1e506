//! Float shards (`floats-NNNNN.bin`): the L2-normalised embeddings of a shard's rows, row-major,
//! as f32 or f16, for the exact cosine rerank of candidates. Mapped without read-ahead: a
//! rerank touches only the candidates' rows.

use std::path::Path;

use half::f16;
use serde::{Deserialize, Serialize};

use super::binfile::{BinWriter, MappedBin};
use super::GalleryError;

/// Magic of float shards.
pub const FLOATS_MAGIC: &[u8; 8] = b"FFFLOAT\0";

/// Precision of the stored embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FloatType {
    /// 4 bytes per value.
    F32,
    /// 2 bytes per value: half the disk and page cache; rerank still computes in f32.
    F16,
}

impl FloatType {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            FloatType::F32 => 4,
            FloatType::F16 => 2,
        }
    }

    /// The name used on the command line and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            FloatType::F32 => "f32",
            FloatType::F16 => "f16",
        }
    }

    fn from_bytes(b: u32) -> Option<Self> {
        match b {
            4 => Some(FloatType::F32),
            2 => Some(FloatType::F16),
            _ => None,
        }
    }
}

impl std::str::FromStr for FloatType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(FloatType::F32),
            "f16" => Ok(FloatType::F16),
            other => Err(format!("unknown float type `{other}`: use f32 or f16")),
        }
    }
}

/// Streams embeddings into a float shard.
pub struct FloatShardWriter {
    out: BinWriter,
    dim: usize,
    dtype: FloatType,
    rows: u64,
    buf: Vec<u8>,
}

impl FloatShardWriter {
    /// Starts a float shard of `dim`-dimensional rows at `dest`.
    pub fn create(dest: &Path, dim: usize, dtype: FloatType) -> Result<Self, GalleryError> {
        Ok(Self {
            out: BinWriter::create(dest)?,
            dim,
            dtype,
            rows: 0,
            buf: Vec::new(),
        })
    }

    /// Appends rows (row-major, `dim` values each), converting to the shard's precision.
    pub fn push(&mut self, vectors: &[f32]) -> Result<(), GalleryError> {
        debug_assert_eq!(vectors.len() % self.dim, 0);
        self.buf.clear();
        match self.dtype {
            FloatType::F32 => self
                .buf
                .extend(vectors.iter().flat_map(|v| v.to_le_bytes())),
            FloatType::F16 => self
                .buf
                .extend(vectors.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes())),
        }
        self.rows += (vectors.len() / self.dim) as u64;
        self.out.write(&self.buf)
    }

    /// Appends rows already in the shard's byte format (compaction copies rows verbatim).
    pub fn push_raw(&mut self, row_bytes: &[u8]) -> Result<(), GalleryError> {
        let row = self.dim * self.dtype.bytes();
        debug_assert_eq!(row_bytes.len() % row, 0);
        self.rows += (row_bytes.len() / row) as u64;
        self.out.write(row_bytes)
    }

    /// Writes the header and moves the file into place; returns (payload bytes, checksum).
    pub fn finish(self) -> Result<(u64, u64), GalleryError> {
        self.out.finish(
            FLOATS_MAGIC,
            self.dim as u32,
            self.dtype.bytes() as u32,
            self.rows,
        )
    }
}

/// A memory-mapped float shard.
pub struct FloatShard {
    bin: MappedBin,
    dim: usize,
    dtype: FloatType,
}

impl FloatShard {
    /// Maps `path` and checks it holds `rows` rows of dimension `dim` as `dtype`.
    pub fn open(
        path: &Path,
        dim: usize,
        dtype: FloatType,
        rows: u64,
    ) -> Result<Self, GalleryError> {
        let bin = MappedBin::open(path, FLOATS_MAGIC, false, true)?;
        let h = bin.header;
        let found = FloatType::from_bytes(h.b).ok_or_else(|| {
            GalleryError::corrupt(path, format!("unknown float width of {} bytes", h.b))
        })?;
        if found != dtype || h.a as usize != dim || h.rows != rows {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "holds {} rows of {}-d {}, the manifest says {rows} rows of {dim}-d {}",
                    h.rows,
                    h.a,
                    found.name(),
                    dtype.name()
                ),
            ));
        }
        let expected = rows * (dim * dtype.bytes()) as u64;
        if h.payload_bytes != expected {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "payload has {} bytes, {rows} rows need {expected}",
                    h.payload_bytes
                ),
            ));
        }
        Ok(Self { bin, dim, dtype })
    }

    /// The path of the shard file.
    pub fn path(&self) -> &Path {
        &self.bin.path
    }

    /// The stored precision.
    pub fn dtype(&self) -> FloatType {
        self.dtype
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The stored bytes of `row` (verbatim, for copying).
    pub fn row_bytes(&self, row: usize) -> &[u8] {
        let n = self.dim * self.dtype.bytes();
        &self.bin.payload()[row * n..(row + 1) * n]
    }

    /// Row `row` in place, when the shard stores f32.
    pub fn row_f32(&self, row: usize) -> Option<&[f32]> {
        (self.dtype == FloatType::F32).then(|| {
            let bytes = self.row_bytes(row);
            // SAFETY: the payload starts 64 bytes into a page-aligned mapping and rows are
            // `4 * dim` bytes, so `bytes` is 4-byte aligned and holds exactly `dim` f32 (any bit
            // pattern is a valid f32; little-endian layout is enforced at compile time).
            unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), self.dim) }
        })
    }

    /// Row `row` in place, when the shard stores f16.
    pub fn row_f16(&self, row: usize) -> Option<&[f16]> {
        (self.dtype == FloatType::F16).then(|| {
            let bytes = self.row_bytes(row);
            // SAFETY: as in `row_f32`, with 2-byte values: aligned, exactly `dim` of them, and
            // every bit pattern is a valid f16.
            unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f16>(), self.dim) }
        })
    }

    /// Decodes `row` into `out` (`dim` values) as f32.
    pub fn vector(&self, row: usize, out: &mut [f32]) {
        let bytes = self.row_bytes(row);
        match self.dtype {
            FloatType::F32 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes(b.try_into().expect("4 bytes"));
                }
            }
            FloatType::F16 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f16::from_le_bytes(b.try_into().expect("2 bytes")).to_f32();
                }
            }
        }
    }

    /// The payload checksum recorded in the header.
    pub fn checksum(&self) -> u64 {
        self.bin.header.checksum
    }

    /// Re-hashes the rows against the header checksum (buffered reads: the rows do not stay
    /// resident).
    pub fn check_payload(&self) -> Result<(), GalleryError> {
        self.bin.check_payload_streaming()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_exact_and_f16_close() {
        let dir = tempfile::tempdir().unwrap();
        let v: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin() / 3.0).collect();
        for dtype in [FloatType::F32, FloatType::F16] {
            let path = dir.path().join(format!("{}.bin", dtype.name()));
            let mut w = FloatShardWriter::create(&path, 3, dtype).unwrap();
            w.push(&v[..12]).unwrap();
            w.push(&v[12..]).unwrap();
            w.finish().unwrap();
            let s = FloatShard::open(&path, 3, dtype, 10).unwrap();
            s.check_payload().unwrap();
            let mut out = [0f32; 3];
            for r in 0..10 {
                s.vector(r, &mut out);
                for (a, b) in out.iter().zip(&v[r * 3..r * 3 + 3]) {
                    match dtype {
                        FloatType::F32 => assert_eq!(a, b),
                        FloatType::F16 => assert!((a - b).abs() < 1e-3, "{a} vs {b}"),
                    }
                }
            }
            assert!(FloatShard::open(&path, 4, dtype, 10).is_err());
        }
        assert!(FloatShard::open(&dir.path().join("f32.bin"), 3, FloatType::F16, 10).is_err());
    }
}
