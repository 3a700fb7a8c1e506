//! Parquet tables of faces: the streaming embedding reader, the faces writer, atomic output
//! files and provenance metadata.

mod atomic;
mod embeddings;
mod error;
mod faces;
mod inputs;
mod provenance;
mod vectors;

pub use atomic::AtomicOutput;
pub use embeddings::{EmbeddingBatch, EmbeddingReader, ReadOptions};
pub use error::{InputError, StoreError};
pub use faces::{faces_schema, FacesWriter};
pub use inputs::{count_rows, resolve_inputs};
pub use provenance::Provenance;
pub use vectors::l2_normalize;
