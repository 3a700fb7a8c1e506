//! MXNet RecordIO, the format of InsightFace's training sets (MS1MV2: `faces_emore/train.rec`
//! and `train.idx`). A record is `magic 0xced7230a`, `u32 (cflag << 29 | length)`, the data,
//! and padding to 4 bytes; multi-part records (cflag 1, 2, 3) are joined by the magic. An image
//! record's data is an `IRHeader` (`u32 flag, f32 label, u64 id, u64 id2`, then `flag` extra
//! f32 labels) and the encoded image. Records without an image (MS1MV2's header and
//! identity-range records) are skipped by [`RecordIoReader::images`].

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::InputError;

const MAGIC: u32 = 0xced7_230a;
const HEADER_BYTES: usize = 24;
const MAX_PART: usize = (1 << 29) - 1;

/// One image record: its key (the `.idx` key, else its position), its byte offset in the
/// `.rec` file, and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordImage {
    pub key: u64,
    pub offset: u64,
    pub label: f32,
}

/// Reads the image records of a `.rec` file.
pub struct RecordIoReader {
    path: PathBuf,
    file: BufReader<File>,
}

fn bad(path: &Path, message: impl Into<String>) -> InputError {
    InputError::NotRecordIo {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl RecordIoReader {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, InputError> {
        let file = File::open(path).map_err(|_| InputError::NotFound {
            path: path.to_path_buf(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file: BufReader::with_capacity(1 << 20, file),
        })
    }

    /// Reads the record at `offset`: its `(label, image bytes)`; the image is empty for
    /// records that carry none.
    pub fn read_at(&mut self, offset: u64) -> Result<(f32, Vec<u8>), InputError> {
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| bad(&self.path, e.to_string()))?;
        let data = self
            .read_record()?
            .ok_or_else(|| bad(&self.path, format!("no record at offset {offset}")))?;
        parse_image_record(&data).ok_or_else(|| {
            bad(
                &self.path,
                format!("record at offset {offset} is shorter than its header"),
            )
        })
    }

    /// Reads the next record's data at the current position, `None` at the end of the file.
    fn read_record(&mut self) -> Result<Option<Vec<u8>>, InputError> {
        let mut data = Vec::new();
        loop {
            let mut head = [0u8; 8];
            match self.file.read_exact(&mut head) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && data.is_empty() => {
                    return Ok(None)
                }
                Err(e) => return Err(bad(&self.path, e.to_string())),
            }
            let magic = u32::from_le_bytes(head[0..4].try_into().unwrap());
            if magic != MAGIC {
                return Err(bad(&self.path, format!("bad magic {magic:#x}")));
            }
            let lrec = u32::from_le_bytes(head[4..8].try_into().unwrap());
            let (cflag, len) = (lrec >> 29, (lrec as usize) & MAX_PART);
            let start = data.len();
            data.resize(start + len, 0);
            self.file
                .read_exact(&mut data[start..])
                .map_err(|e| bad(&self.path, format!("truncated record: {e}")))?;
            let pad = (4 - len % 4) % 4;
            self.file
                .seek_relative(pad as i64)
                .map_err(|e| bad(&self.path, e.to_string()))?;
            match cflag {
                0 | 3 => return Ok(Some(data)),
                1 | 2 => data.extend_from_slice(&MAGIC.to_le_bytes()),
                other => return Err(bad(&self.path, format!("bad continuation flag {other}"))),
            }
        }
    }

    /// Every record holding an image, in key order: from the `.idx` file beside the `.rec`
    /// when there is one, else by reading the file through.
    pub fn images(&mut self) -> Result<Vec<RecordImage>, InputError> {
        let idx = self.path.with_extension("idx");
        let entries = if idx.is_file() {
            read_idx(&idx)?
        } else {
            self.scan()?
        };
        let mut images = Vec::with_capacity(entries.len());
        for (key, offset) in entries {
            let (label, image) = self.read_at(offset)?;
            if !image.is_empty() {
                images.push(RecordImage { key, offset, label });
            }
        }
        Ok(images)
    }

    fn scan(&mut self) -> Result<Vec<(u64, u64)>, InputError> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| bad(&self.path, e.to_string()))?;
        let mut entries = Vec::new();
        loop {
            let offset = self
                .file
                .stream_position()
                .map_err(|e| bad(&self.path, e.to_string()))?;
            if self.read_record()?.is_none() {
                return Ok(entries);
            }
            entries.push((entries.len() as u64, offset));
        }
    }
}

fn parse_image_record(data: &[u8]) -> Option<(f32, Vec<u8>)> {
    let head = data.get(..HEADER_BYTES)?;
    let flag = u32::from_le_bytes(head[0..4].try_into().ok()?) as usize;
    let mut label = f32::from_le_bytes(head[4..8].try_into().ok()?);
    let mut rest = &data[HEADER_BYTES..];
    if flag > 0 {
        let labels = rest.get(..4 * flag)?;
        label = f32::from_le_bytes(labels[0..4].try_into().ok()?);
        rest = &rest[4 * flag..];
    }
    Some((label, rest.to_vec()))
}

fn read_idx(path: &Path) -> Result<Vec<(u64, u64)>, InputError> {
    let file = File::open(path).map_err(|_| InputError::NotFound {
        path: path.to_path_buf(),
    })?;
    let mut entries = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| bad(path, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let parse = |s: Option<&str>| s.and_then(|v| v.parse::<u64>().ok());
        match (parse(parts.next()), parse(parts.next())) {
            (Some(key), Some(offset)) => entries.push((key, offset)),
            _ => {
                return Err(bad(
                    path,
                    format!("line {}: expected `key<TAB>offset`, found `{line}`", n + 1),
                ))
            }
        }
    }
    entries.sort();
    Ok(entries)
}

/// Writes a `.rec` file and its `.idx` in InsightFace's layout (tests and small exports).
pub struct RecordIoWriter {
    rec: BufWriter<File>,
    idx: BufWriter<File>,
    offset: u64,
    key: u64,
}

impl RecordIoWriter {
    /// Creates `path` and `path` with extension `.idx`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            rec: BufWriter::new(File::create(path)?),
            idx: BufWriter::new(File::create(path.with_extension("idx"))?),
            offset: 0,
            key: 0,
        })
    }

    /// Appends a record with header `flag`, `label` (or `labels` when `flag > 0`) and `payload`.
    pub fn write(&mut self, labels: &[f32], payload: &[u8]) -> std::io::Result<()> {
        let mut data = Vec::with_capacity(HEADER_BYTES + 4 * labels.len() + payload.len());
        let flag = if labels.len() == 1 {
            0
        } else {
            labels.len() as u32
        };
        data.extend_from_slice(&flag.to_le_bytes());
        data.extend_from_slice(&(if flag == 0 { labels[0] } else { 0.0f32 }).to_le_bytes());
        data.extend_from_slice(&self.key.to_le_bytes());
        data.extend_from_slice(&0u64.to_le_bytes());
        if flag > 0 {
            labels
                .iter()
                .for_each(|l| data.extend_from_slice(&l.to_le_bytes()));
        }
        data.extend_from_slice(payload);
        writeln!(self.idx, "{}\t{}", self.key, self.offset)?;
        // Split where the magic occurs in the data (it is re-inserted by the reader).
        let magic = MAGIC.to_le_bytes();
        let mut parts = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i + 4 <= data.len() {
            if data[i..i + 4] == magic {
                parts.push(&data[start..i]);
                start = i + 4;
                i += 4;
            } else {
                i += 1;
            }
        }
        parts.push(&data[start..]);
        let last = parts.len() - 1;
        for (n, part) in parts.iter().enumerate() {
            let cflag: u32 = match (n, last) {
                (_, 0) => 0,
                (0, _) => 1,
                (n, l) if n == l => 3,
                _ => 2,
            };
            self.rec.write_all(&magic)?;
            self.rec
                .write_all(&((cflag << 29) | part.len() as u32).to_le_bytes())?;
            self.rec.write_all(part)?;
            let pad = (4 - part.len() % 4) % 4;
            self.rec.write_all(&[0u8; 3][..pad])?;
            self.offset += 8 + part.len() as u64 + pad as u64;
        }
        self.key += 1;
        Ok(())
    }

    /// Flushes both files.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.rec.flush()?;
        self.idx.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_header_records_and_embedded_magic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.rec");
        let mut w = RecordIoWriter::create(&path).unwrap();
        w.write(&[3.0, 5.0], b"").unwrap(); // MS1MV2's header record: no image
        let tricky: Vec<u8> = [
            b"ab".as_slice(),
            &MAGIC.to_le_bytes(),
            b"cde",
            &MAGIC.to_le_bytes(),
        ]
        .concat();
        w.write(&[7.0], &tricky).unwrap();
        w.write(&[9.0], b"plain").unwrap();
        w.write(&[1.0, 3.0], b"").unwrap(); // identity range record
        w.finish().unwrap();
        for with_idx in [true, false] {
            if !with_idx {
                std::fs::remove_file(path.with_extension("idx")).unwrap();
            }
            let mut r = RecordIoReader::open(&path).unwrap();
            let images = r.images().unwrap();
            assert_eq!(
                images.iter().map(|i| (i.key, i.label)).collect::<Vec<_>>(),
                vec![(1, 7.0), (2, 9.0)]
            );
            assert_eq!(r.read_at(images[0].offset).unwrap().1, tricky);
            assert_eq!(r.read_at(images[1].offset).unwrap().1, b"plain");
        }
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.rec");
        std::fs::write(&path, b"definitely not recordio").unwrap();
        let err = RecordIoReader::open(&path).unwrap().images().unwrap_err();
        assert!(err.to_string().contains("bad magic"), "{err}");
    }
}
