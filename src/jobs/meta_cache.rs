//! Face ids and identities of gallery rows, read from the metadata shards on first use.

use std::sync::OnceLock;

use arrow::array::{Array, StringArray};

use crate::store::gallery::read_ids;
use crate::store::{Gallery, GalleryError};

/// Lazily loaded `face_id` / `identity` columns of every shard (≈ 30 bytes a face).
pub struct MetaCache<'g> {
    gallery: &'g Gallery,
    shards: Vec<OnceLock<(StringArray, StringArray)>>,
}

impl<'g> MetaCache<'g> {
    /// A cache over `gallery`; nothing is read yet.
    pub fn new(gallery: &'g Gallery) -> Self {
        Self {
            gallery,
            shards: (0..gallery.shards().len())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// Loads the ids of shard `i` (once).
    pub fn ids(&self, i: usize) -> Result<&(StringArray, StringArray), GalleryError> {
        if let Some(v) = self.shards[i].get() {
            return Ok(v);
        }
        let shard = &self.gallery.shards()[i];
        let (ids, identities) = read_ids(&shard.meta_path)?;
        if ids.len() != shard.rows() {
            return Err(GalleryError::Corrupt {
                path: shard.meta_path.clone(),
                message: format!("holds {} rows, the codes {}", ids.len(), shard.rows()),
            });
        }
        Ok(self.shards[i].get_or_init(|| (ids, identities)))
    }

    /// (face_id, identity) of row `row` of shard `shard`.
    pub fn face(&self, shard: usize, row: usize) -> Result<(&str, Option<&str>), GalleryError> {
        let (ids, identities) = self.ids(shard)?;
        let identity = identities.is_valid(row).then(|| identities.value(row));
        Ok((ids.value(row), identity))
    }
}
