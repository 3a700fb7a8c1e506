//! Batch jobs over galleries: streaming, memory-bounded, writing Parquet results atomically.

mod error;
pub mod identify;
mod matches;
mod meta_cache;

pub use error::JobError;
pub use identify::{identify, IdentifyParams, IdentifySummary};
pub use matches::{matches_schema, MatchesWriter};
pub use meta_cache::MetaCache;
