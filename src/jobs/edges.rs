//! The similarity graph of a dedup run spilled to an unnamed temporary file (20 bytes a pair:
//! two global rows and the cosine), so clustering reads it back in passes with memory
//! proportional to the faces, not the pairs. The file vanishes when dropped, even on a kill.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::store::StoreError;

const RECORD: usize = 20;

/// One edge: global rows `a < b` and their cosine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub a: u64,
    pub b: u64,
    pub cosine: f32,
}

/// Edges being written.
pub struct EdgeSpill {
    writer: BufWriter<File>,
    path: PathBuf,
    edges: u64,
}

impl EdgeSpill {
    /// A new spill file in `dir` (the output's directory, so it shares its disk).
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let file = tempfile::tempfile_in(dir).map_err(|e| StoreError::io(dir, e))?;
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 20, file),
            path: dir.to_path_buf(),
            edges: 0,
        })
    }

    /// Appends one edge.
    pub fn push(&mut self, e: Edge) -> Result<(), StoreError> {
        let mut rec = [0u8; RECORD];
        rec[..8].copy_from_slice(&e.a.to_le_bytes());
        rec[8..16].copy_from_slice(&e.b.to_le_bytes());
        rec[16..].copy_from_slice(&e.cosine.to_le_bytes());
        self.edges += 1;
        self.writer
            .write_all(&rec)
            .map_err(|err| StoreError::io(&self.path, err))
    }

    /// Ends writing; the edges can now be read.
    pub fn finish(self) -> Result<EdgeFile, StoreError> {
        let path = self.path;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| StoreError::io(&path, e.into_error()))?;
        Ok(EdgeFile {
            file,
            path,
            edges: self.edges,
        })
    }
}

/// Spilled edges, read in passes.
pub struct EdgeFile {
    file: File,
    path: PathBuf,
    edges: u64,
}

impl EdgeFile {
    /// Number of edges.
    pub fn len(&self) -> u64 {
        self.edges
    }

    /// True when there are no edges.
    pub fn is_empty(&self) -> bool {
        self.edges == 0
    }

    /// Calls `each` for every edge in the order written.
    pub fn for_each(&mut self, mut each: impl FnMut(Edge)) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| StoreError::io(&path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, &mut self.file);
        let mut rec = [0u8; RECORD];
        for _ in 0..self.edges {
            reader
                .read_exact(&mut rec)
                .map_err(|e| StoreError::io(&path, e))?;
            each(Edge {
                a: u64::from_le_bytes(rec[..8].try_into().expect("8 bytes")),
                b: u64::from_le_bytes(rec[8..16].try_into().expect("8 bytes")),
                cosine: f32::from_le_bytes(rec[16..].try_into().expect("4 bytes")),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_read_back_in_order_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = EdgeSpill::create(dir.path()).unwrap();
        let want: Vec<Edge> = (0..1000u64)
            .map(|i| Edge {
                a: i,
                b: i * 7 + 1,
                cosine: i as f32 / 1000.0,
            })
            .collect();
        for &e in &want {
            spill.push(e).unwrap();
        }
        let mut file = spill.finish().unwrap();
        assert_eq!(file.len(), 1000);
        for _ in 0..2 {
            let mut got = Vec::new();
            file.for_each(|e| got.push(e)).unwrap();
            assert_eq!(got, want);
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "unnamed temporary file"
        );
    }
}
