//! Parquet tables of faces (the streaming embedding reader, the faces writer, atomic output
//! files, provenance metadata) and the gallery store ([`gallery`]).

mod atomic;
mod embeddings;
mod error;
mod faces;
pub mod gallery;
mod inputs;
mod provenance;
pub mod recordio;
mod vectors;

pub use atomic::{parent_dir, AtomicOutput};
pub use embeddings::{EmbeddingBatch, EmbeddingReader, ReadOptions};
pub use error::{InputError, StoreError};
pub use faces::{faces_schema, FacesWriter};
pub use gallery::{Gallery, GalleryError};
pub use inputs::{count_rows, resolve_inputs};
pub use provenance::Provenance;
pub use vectors::l2_normalize;
