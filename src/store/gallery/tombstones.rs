//! Tombstones: the (shard, row) of every face removed from a gallery but not yet compacted
//! away. Stored as a small Parquet file `tombstones-GGGGG.parquet` (columns `shard`, `row`,
//! UInt32, sorted) named by the generation that wrote it; held in memory as one bitmap per
//! shard, so the scan skips removed rows at one bit test each.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, UInt32Type};
use parquet::arrow::ArrowWriter;

use super::manifest::{tombstones_file, FileEntry, Manifest, TombstoneEntry};
use super::meta::{check_whole_file, for_each_batch, hash_file};
use super::{binfile::hex64, GalleryError};
use crate::store::{AtomicOutput, Provenance, StoreError};

/// A set of rows of one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowBitmap {
    words: Vec<u64>,
    count: usize,
}

impl RowBitmap {
    /// An empty set for a shard of `rows` rows.
    pub fn new(rows: usize) -> Self {
        Self {
            words: vec![0; rows.div_ceil(64)],
            count: 0,
        }
    }

    /// True when `row` is in the set.
    #[inline]
    pub fn contains(&self, row: usize) -> bool {
        self.words
            .get(row / 64)
            .is_some_and(|w| w >> (row % 64) & 1 == 1)
    }

    /// Adds `row`; false when it was already there.
    pub fn insert(&mut self, row: usize) -> bool {
        let w = &mut self.words[row / 64];
        let bit = 1u64 << (row % 64);
        if *w & bit != 0 {
            return false;
        }
        *w |= bit;
        self.count += 1;
        true
    }

    /// Number of rows in the set.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no row is in the set.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The rows in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let b = w.trailing_zeros() as usize;
                    w &= w - 1;
                    i * 64 + b
                })
            })
        })
    }

    /// Bytes held in memory.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// Tombstones of a gallery: shard id → removed rows.
pub type Tombstones = BTreeMap<u32, RowBitmap>;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("shard", DataType::UInt32, false),
        Field::new("row", DataType::UInt32, false),
    ]))
}

/// The tombstones `manifest` lists (none when it lists no file), checked.
pub fn load(dir: &Path, manifest: &Manifest) -> Result<Tombstones, GalleryError> {
    let Some(entry) = &manifest.tombstones else {
        return Ok(Tombstones::new());
    };
    let shard_rows: BTreeMap<u32, u64> = manifest.shards.iter().map(|s| (s.id, s.rows)).collect();
    read(dir, entry, &shard_rows)
}

/// Writes `tombstones` as the file of `generation` in `dir`; `None` when there are none.
pub fn write(
    dir: &Path,
    generation: u64,
    tombstones: &Tombstones,
) -> Result<Option<TombstoneEntry>, GalleryError> {
    let rows: usize = tombstones.values().map(RowBitmap::len).sum();
    if rows == 0 {
        return Ok(None);
    }
    let name = tombstones_file(generation);
    let path = dir.join(&name);
    let (mut shard, mut row) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    for (&id, set) in tombstones {
        for r in set.iter() {
            shard.push(id);
            row.push(r as u32);
        }
    }
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(UInt32Array::from(shard)),
            Arc::new(UInt32Array::from(row)),
        ],
    )
    .map_err(|e| StoreError::Arrow {
        path: path.clone(),
        source: e,
    })?;
    let out = AtomicOutput::create(&path)?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(Provenance::new("gallery remove").to_key_values()))
        .build();
    let parquet_err = |e| StoreError::Parquet {
        path: path.clone(),
        source: e,
    };
    let mut w = ArrowWriter::try_new(out.file()?, schema(), Some(props)).map_err(parquet_err)?;
    w.write(&batch).map_err(parquet_err)?;
    w.close().map_err(parquet_err)?;
    out.commit()?;
    let (bytes, sum) = hash_file(&path)?;
    Ok(Some(TombstoneEntry {
        file: FileEntry {
            file: name,
            bytes,
            xxh3: hex64(sum),
        },
        rows: rows as u64,
    }))
}

/// Reads the tombstones file, checking its checksum and that every (shard, row) exists;
/// `shard_rows` maps shard ids to their row counts.
fn read(
    dir: &Path,
    entry: &TombstoneEntry,
    shard_rows: &BTreeMap<u32, u64>,
) -> Result<Tombstones, GalleryError> {
    let path = dir.join(&entry.file.file);
    check_whole_file(&path, &entry.file)?;
    let mut out = Tombstones::new();
    for_each_batch(&path, Some(&["shard", "row"]), |b: RecordBatch| {
        let (Some(shard), Some(row)) = (
            b.column(0).as_primitive_opt::<UInt32Type>(),
            b.column(1).as_primitive_opt::<UInt32Type>(),
        ) else {
            return Err(GalleryError::corrupt(
                &path,
                "columns `shard` and `row` are not UInt32",
            ));
        };
        if shard.null_count() + row.null_count() > 0 {
            return Err(GalleryError::corrupt(&path, "null shard or row"));
        }
        for (s, r) in shard.values().iter().zip(row.values()) {
            let rows = *shard_rows.get(s).ok_or_else(|| {
                GalleryError::corrupt(
                    &path,
                    format!("tombstone of shard {s}, which the manifest does not list"),
                )
            })?;
            if u64::from(*r) >= rows {
                return Err(GalleryError::corrupt(
                    &path,
                    format!("tombstone of row {r} of shard {s}, which has {rows} rows"),
                ));
            }
            out.entry(*s)
                .or_insert_with(|| RowBitmap::new(rows as usize))
                .insert(*r as usize);
        }
        Ok(())
    })?;
    let found: usize = out.values().map(RowBitmap::len).sum();
    if found as u64 != entry.rows {
        return Err(GalleryError::corrupt(
            &path,
            format!("holds {found} tombstones, the manifest says {}", entry.rows),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_insert_contains_iter() {
        let mut b = RowBitmap::new(130);
        assert!(b.insert(0) && b.insert(64) && b.insert(129));
        assert!(!b.insert(64));
        assert_eq!(b.len(), 3);
        assert!(b.contains(129) && !b.contains(1) && !b.contains(1000));
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![0, 64, 129]);
    }

    #[test]
    fn file_round_trip_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tombstones::new();
        t.entry(3).or_insert_with(|| RowBitmap::new(10)).insert(9);
        t.entry(1).or_insert_with(|| RowBitmap::new(5)).insert(0);
        let entry = write(dir.path(), 7, &t).unwrap().unwrap();
        assert_eq!(entry.rows, 2);
        let rows = BTreeMap::from([(1, 5), (3, 10)]);
        assert_eq!(read(dir.path(), &entry, &rows).unwrap(), t);
        let short = BTreeMap::from([(1, 5), (3, 9)]);
        assert!(read(dir.path(), &entry, &short)
            .unwrap_err()
            .to_string()
            .contains("row 9"));
        assert!(write(dir.path(), 8, &Tombstones::new()).unwrap().is_none());
    }
}
