//! Batch jobs over galleries: streaming, memory-bounded, writing Parquet results atomically.

pub mod cluster;
mod clusters_table;
pub mod dedup;
mod edges;
#[cfg(feature = "vision")]
pub mod embed;
mod error;
mod hits;
pub mod identify;
mod inputs;
mod matches;
mod meta_cache;
mod pairs;
pub mod report;
mod table;
mod threshold;
pub mod watchlist;

pub use cluster::{cluster, cluster_gallery, ClusterParams, ClusterStats};
pub use clusters_table::{clusters_schema, face_id_of, write_clusters};
pub use dedup::{dedup, dedup_work, DedupOutput, DedupParams, DedupSummary};
pub use edges::{Edge, EdgeFile, EdgeSpill};
pub use error::JobError;
pub use hits::{hits_schema, HitsWriter};
pub use identify::{identify, IdentifyParams, IdentifySummary};
pub use inputs::{check_batch_dim, check_inputs};
pub use matches::{matches_schema, MatchesWriter};
pub use meta_cache::MetaCache;
pub use pairs::{pairs_schema, PairsWriter};
pub use report::{write_report, ReportHeader, ReportParams, ReportSummary};
pub use table::{gallery_provenance, RowBuffer, TableWriter};
pub use threshold::{check_threshold, prefilter_radius};
pub use watchlist::{watchlist, WatchlistParams, WatchlistSummary};
