//! The shared layout of the gallery's binary shards (code and float shards).
//!
//! A 64-byte header, then the payload; all numbers little-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | magic (`FFCODES\0` or `FFFLOAT\0`) |
//! | 8..12 | format version (u32, currently 1) |
//! | 12..16 | field A (u32): code bits, or float dimension |
//! | 16..20 | field B (u32): rows per interleaved block, or bytes per float (4 or 2) |
//! | 20..24 | zero |
//! | 24..32 | rows (u64) |
//! | 32..40 | payload bytes (u64) |
//! | 40..48 | XXH3-64 of the payload |
//! | 48..64 | zero |
//!
//! The payload starts at byte 64, so a page-aligned mapping gives 64-byte aligned rows.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap, MmapOptions};
use xxhash_rust::xxh3::Xxh3Default;

use super::GalleryError;
use crate::store::{AtomicOutput, StoreError};

/// Bytes before the payload.
pub const HEADER_BYTES: usize = 64;
/// Format version of code and float shards written by this build.
pub const BIN_VERSION: u32 = 1;

/// The decoded header of a binary shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinHeader {
    pub magic: [u8; 8],
    pub a: u32,
    pub b: u32,
    pub rows: u64,
    pub payload_bytes: u64,
    pub checksum: u64,
}

impl BinHeader {
    fn to_bytes(self) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        h[0..8].copy_from_slice(&self.magic);
        h[8..12].copy_from_slice(&BIN_VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&self.a.to_le_bytes());
        h[16..20].copy_from_slice(&self.b.to_le_bytes());
        h[24..32].copy_from_slice(&self.rows.to_le_bytes());
        h[32..40].copy_from_slice(&self.payload_bytes.to_le_bytes());
        h[40..48].copy_from_slice(&self.checksum.to_le_bytes());
        h
    }

    /// Decodes and checks magic, version and the zero bytes.
    fn parse(bytes: &[u8], magic: &[u8; 8], path: &Path) -> Result<Self, GalleryError> {
        if bytes.len() < HEADER_BYTES {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "file is truncated ({} bytes, shorter than the {HEADER_BYTES}-byte header)",
                    bytes.len()
                ),
            ));
        }
        if &bytes[0..8] != magic {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "bad magic bytes (expected {:?})",
                    String::from_utf8_lossy(&magic[..7])
                ),
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != BIN_VERSION {
            return Err(GalleryError::corrupt(
                path,
                format!("format version {version} is not supported (this build reads version {BIN_VERSION})"),
            ));
        }
        if bytes[20..24].iter().chain(&bytes[48..64]).any(|&b| b != 0) {
            return Err(GalleryError::corrupt(
                path,
                "reserved header bytes are not zero",
            ));
        }
        Ok(Self {
            magic: *magic,
            a: u32_at(12),
            b: u32_at(16),
            rows: u64_at(24),
            payload_bytes: u64_at(32),
            checksum: u64_at(40),
        })
    }
}

/// Hex form of a checksum, as recorded in the manifest.
pub fn hex64(v: u64) -> String {
    format!("{v:016x}")
}

/// Streams a binary shard to a temporary file; it appears at its destination on
/// [`BinWriter::finish`].
pub struct BinWriter {
    out: AtomicOutput,
    file: BufWriter<File>,
    hasher: Xxh3Default,
    payload_bytes: u64,
}

impl BinWriter {
    /// Starts `dest` with a placeholder header.
    pub fn create(dest: &Path) -> Result<Self, GalleryError> {
        let out = AtomicOutput::create(dest)?;
        let mut file = BufWriter::with_capacity(1 << 20, out.file()?);
        file.write_all(&[0u8; HEADER_BYTES])
            .map_err(|e| GalleryError::io(dest, e))?;
        Ok(Self {
            out,
            file,
            hasher: Xxh3Default::new(),
            payload_bytes: 0,
        })
    }

    /// Appends payload bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), GalleryError> {
        self.hasher.update(bytes);
        self.payload_bytes += bytes.len() as u64;
        self.file
            .write_all(bytes)
            .map_err(|e| GalleryError::io(self.out.dest(), e))
    }

    /// Writes the final header and moves the file into place; returns (payload bytes,
    /// checksum).
    pub fn finish(
        self,
        magic: &[u8; 8],
        a: u32,
        b: u32,
        rows: u64,
    ) -> Result<(u64, u64), GalleryError> {
        let dest: PathBuf = self.out.dest().to_path_buf();
        let header = BinHeader {
            magic: *magic,
            a,
            b,
            rows,
            payload_bytes: self.payload_bytes,
            checksum: self.hasher.digest(),
        };
        let mut file = self
            .file
            .into_inner()
            .map_err(|e| GalleryError::io(&dest, e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header.to_bytes()))
            .map_err(|e| GalleryError::io(&dest, e))?;
        drop(file);
        self.out
            .commit()
            .map_err(|e: StoreError| GalleryError::Store(e))?;
        Ok((header.payload_bytes, header.checksum))
    }
}

/// A read-only memory mapping of a binary shard, its header checked against the file size.
pub struct MappedBin {
    pub path: PathBuf,
    pub header: BinHeader,
    map: Mmap,
}

impl MappedBin {
    /// Maps `path`; `populate` faults every page in now (for data every scan reads), and
    /// `random` tells the kernel not to read ahead (for rows touched one at a time).
    pub fn open(
        path: &Path,
        magic: &[u8; 8],
        populate: bool,
        random: bool,
    ) -> Result<Self, GalleryError> {
        let file = File::open(path).map_err(|e| GalleryError::opening(path, e))?;
        let len = file
            .metadata()
            .map_err(|e| GalleryError::io(path, e))?
            .len();
        if len < HEADER_BYTES as u64 {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "file is truncated ({len} bytes, shorter than the {HEADER_BYTES}-byte header)"
                ),
            ));
        }
        let mut options = MmapOptions::new();
        if populate {
            options.populate();
        }
        // SAFETY: the file is opened read-only and gallery files are never modified in place:
        // writers create new files and rename them, so the mapped bytes do not change under
        // us. (Truncation by a foreign process would fault, as for any mapped reader.)
        let map = unsafe { options.map(&file) }.map_err(|e| GalleryError::io(path, e))?;
        if random {
            // Advice only; a kernel that refuses it still serves the pages.
            let _ = map.advise(Advice::Random);
        }
        let header = BinHeader::parse(&map[..HEADER_BYTES], magic, path)?;
        let expected = HEADER_BYTES as u64 + header.payload_bytes;
        if len != expected {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "file has {len} bytes, its header says {expected} (truncated or overwritten)"
                ),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            header,
            map,
        })
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.map[HEADER_BYTES..]
    }

    /// Re-hashes the payload (through the mapping) and compares with the header.
    pub fn check_payload(&self) -> Result<(), GalleryError> {
        self.compare(xxhash_rust::xxh3::xxh3_64(self.payload()))
    }

    /// Re-hashes the payload with buffered reads, so checking a large file does not leave
    /// it resident in this process.
    pub fn check_payload_streaming(&self) -> Result<(), GalleryError> {
        use std::io::Read;
        let mut file = File::open(&self.path).map_err(|e| GalleryError::io(&self.path, e))?;
        file.seek(SeekFrom::Start(HEADER_BYTES as u64))
            .map_err(|e| GalleryError::io(&self.path, e))?;
        let mut hasher = Xxh3Default::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| GalleryError::io(&self.path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        self.compare(hasher.digest())
    }

    fn compare(&self, found: u64) -> Result<(), GalleryError> {
        if found != self.header.checksum {
            return Err(GalleryError::corrupt(
                &self.path,
                format!(
                    "payload checksum mismatch (header says {}, contents hash to {}): the file is damaged",
                    hex64(self.header.checksum),
                    hex64(found)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        let mut w = BinWriter::create(&path).unwrap();
        w.write(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let (bytes, sum) = w.finish(b"FFTEST\0\0", 7, 9, 1).unwrap();
        assert_eq!(bytes, 8);
        let m = MappedBin::open(&path, b"FFTEST\0\0", false, false).unwrap();
        assert_eq!((m.header.a, m.header.b, m.header.rows), (7, 9, 1));
        assert_eq!(m.header.checksum, sum);
        assert_eq!(m.payload(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        m.check_payload().unwrap();
        assert!(MappedBin::open(&path, b"FFOTHER\0", false, false).is_err());

        let mut raw = std::fs::read(&path).unwrap();
        raw[HEADER_BYTES + 3] ^= 1;
        std::fs::write(&path, &raw).unwrap();
        let m = MappedBin::open(&path, b"FFTEST\0\0", false, false).unwrap();
        assert!(m
            .check_payload()
            .unwrap_err()
            .to_string()
            .contains("checksum"));

        raw.pop();
        std::fs::write(&path, &raw).unwrap();
        let err = MappedBin::open(&path, b"FFTEST\0\0", false, false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
