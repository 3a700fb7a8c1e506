//! Code shards (`codes-NNNNN.bin`): the binary codes of a shard's rows, laid out for the scan.
//!
//! Rows are grouped in blocks of [`BLOCK_ROWS`]; inside a block the codes are interleaved word
//! by word: u64 `w * BLOCK_ROWS + r` of block `b` is word `w` of row `b * BLOCK_ROWS + r`, so
//! one 512-bit load holds the same word of 8 rows. The last block is padded with zero codes
//! (the header's row count says which rows are real). The block size is recorded in the
//! header (field B), so a future layout stays readable.

use std::path::Path;

use super::binfile::{BinWriter, MappedBin};
use super::GalleryError;

#[cfg(target_endian = "big")]
compile_error!(
    "gallery shards are little-endian and mapped in place: big-endian targets are not supported"
);

/// Magic of code shards.
pub const CODES_MAGIC: &[u8; 8] = b"FFCODES\0";
/// Rows per interleaved block.
pub const BLOCK_ROWS: usize = 8;

/// Streams codes (row-major, `words` u64 per row) into a code shard.
pub struct CodeShardWriter {
    out: BinWriter,
    words: usize,
    block: Vec<u64>,
    filled: usize,
    rows: u64,
}

impl CodeShardWriter {
    /// Starts a code shard of `bits`-bit codes at `dest`.
    pub fn create(dest: &Path, bits: usize) -> Result<Self, GalleryError> {
        let words = bits / 64;
        Ok(Self {
            out: BinWriter::create(dest)?,
            words,
            block: vec![0; BLOCK_ROWS * words],
            filled: 0,
            rows: 0,
        })
    }

    /// Appends rows; `codes.len()` must be a multiple of the words per code.
    pub fn push(&mut self, codes: &[u64]) -> Result<(), GalleryError> {
        debug_assert_eq!(codes.len() % self.words, 0);
        for code in codes.chunks_exact(self.words) {
            for (w, &word) in code.iter().enumerate() {
                self.block[w * BLOCK_ROWS + self.filled] = word;
            }
            self.filled += 1;
            self.rows += 1;
            if self.filled == BLOCK_ROWS {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<(), GalleryError> {
        let bytes: Vec<u8> = self.block.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.out.write(&bytes)?;
        self.block.iter_mut().for_each(|w| *w = 0);
        self.filled = 0;
        Ok(())
    }

    /// Pads the last block, writes the header and moves the file into place; returns
    /// (payload bytes, checksum).
    pub fn finish(mut self) -> Result<(u64, u64), GalleryError> {
        if self.filled > 0 {
            self.flush_block()?;
        }
        let bits = (self.words * 64) as u32;
        self.out
            .finish(CODES_MAGIC, bits, BLOCK_ROWS as u32, self.rows)
    }
}

/// A memory-mapped code shard.
pub struct CodeShard {
    bin: MappedBin,
    words: usize,
}

impl CodeShard {
    /// Maps `path` (faulting its pages in) and checks it holds `rows` codes of `bits` bits.
    pub fn open(path: &Path, bits: usize, rows: u64) -> Result<Self, GalleryError> {
        let bin = MappedBin::open(path, CODES_MAGIC, true, false)?;
        let h = bin.header;
        if h.a as usize != bits {
            return Err(GalleryError::corrupt(
                path,
                format!("holds {}-bit codes, the manifest says {bits}", h.a),
            ));
        }
        if h.b as usize != BLOCK_ROWS {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "interleaved in blocks of {} rows; this build reads blocks of {BLOCK_ROWS}",
                    h.b
                ),
            ));
        }
        if h.rows != rows {
            return Err(GalleryError::corrupt(
                path,
                format!("holds {} rows, the manifest says {rows}", h.rows),
            ));
        }
        let words = bits / 64;
        let expected = rows.div_ceil(BLOCK_ROWS as u64) * (BLOCK_ROWS * words * 8) as u64;
        if h.payload_bytes != expected {
            return Err(GalleryError::corrupt(
                path,
                format!(
                    "payload has {} bytes, {rows} rows of {bits} bits need {expected}",
                    h.payload_bytes
                ),
            ));
        }
        Ok(Self { bin, words })
    }

    /// The path of the shard file.
    pub fn path(&self) -> &Path {
        &self.bin.path
    }

    /// Number of real rows (without the padding of the last block).
    pub fn rows(&self) -> usize {
        self.bin.header.rows as usize
    }

    /// u64 words per code.
    pub fn words(&self) -> usize {
        self.words
    }

    /// The interleaved payload: `blocks() * BLOCK_ROWS * words()` words.
    pub fn blocks_words(&self) -> &[u64] {
        let bytes = self.bin.payload();
        debug_assert_eq!(bytes.as_ptr() as usize % 8, 0);
        // SAFETY: the payload starts 64 bytes into a page-aligned mapping, so it is 8-byte
        // aligned; its length is a multiple of 8 (checked at open); every bit pattern is a
        // valid u64; the mapping lives as long as `self`.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u64>(), bytes.len() / 8) }
    }

    /// Number of interleaved blocks.
    pub fn blocks(&self) -> usize {
        self.rows().div_ceil(BLOCK_ROWS)
    }

    /// Copies the code of `row` into `out` (`words()` long).
    pub fn code(&self, row: usize, out: &mut [u64]) {
        let all = self.blocks_words();
        let base = (row / BLOCK_ROWS) * BLOCK_ROWS * self.words;
        let r = row % BLOCK_ROWS;
        for (w, o) in out.iter_mut().enumerate() {
            *o = all[base + w * BLOCK_ROWS + r];
        }
    }

    /// Bytes of codes that a scan keeps resident.
    pub fn resident_bytes(&self) -> u64 {
        self.bin.header.payload_bytes
    }

    /// The payload checksum recorded in the header.
    pub fn checksum(&self) -> u64 {
        self.bin.header.checksum
    }

    /// Re-hashes the codes against the header checksum.
    pub fn check_payload(&self) -> Result<(), GalleryError> {
        self.bin.check_payload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_round_trip_with_partial_last_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codes.bin");
        for rows in [0usize, 1, 7, 8, 9, 21] {
            let words = 2;
            let codes: Vec<u64> = (0..rows * words)
                .map(|i| (i as u64 + 1) * 0x9E37_79B9)
                .collect();
            let mut w = CodeShardWriter::create(&path, 128).unwrap();
            w.push(&codes[..codes.len() / 2 / words * words]).unwrap();
            w.push(&codes[codes.len() / 2 / words * words..]).unwrap();
            w.finish().unwrap();
            let shard = CodeShard::open(&path, 128, rows as u64).unwrap();
            shard.check_payload().unwrap();
            assert_eq!(shard.blocks(), rows.div_ceil(8));
            assert_eq!(shard.blocks_words().len(), shard.blocks() * 8 * words);
            let mut out = [0u64; 2];
            for r in 0..rows {
                shard.code(r, &mut out);
                assert_eq!(
                    &out[..],
                    &codes[r * words..(r + 1) * words],
                    "row {r} of {rows}"
                );
            }
            // Padding rows are zero.
            if rows % 8 != 0 {
                let all = shard.blocks_words();
                let last = (shard.blocks() - 1) * 8 * words;
                for w in 0..words {
                    for r in rows % 8..8 {
                        assert_eq!(all[last + w * 8 + r], 0);
                    }
                }
            }
            assert!(CodeShard::open(&path, 256, rows as u64).is_err());
            assert!(CodeShard::open(&path, 128, rows as u64 + 1).is_err());
        }
    }
}
