//! SQL over faces and results: DataFusion scalar UDFs and table functions backed by the scan
//! engine, registered on a session by [`register_all`] (the convention of
//! `datafusion-functions-json`). Every name has the `ff_` prefix so it never collides with
//! DataFusion's own (`cosine_distance`, `array_distance`).
//!
//! Scalar: `ff_hamming(code, code)`, `ff_popcount(code)`, `ff_hex(code)`,
//! `ff_cosine(embedding, embedding)`, `ff_encode(embedding, 'quantizer.ffq' | 'gallery/')`.
//! Tables: `ff_gallery('gallery/')`, and the jobs `ff_identify(gallery, queries, k [, C])`,
//! `ff_dedup(gallery, threshold)`, `ff_clusters(gallery, threshold [, min_faces])`,
//! `ff_watchlist(watchlist, stream, threshold)` with the CLI jobs' output schemas.

mod codec;
mod codes;
mod cosine;
mod encode;
mod gallery_table;
mod job_tables;
mod similarity_join;
mod vectors;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

pub use codec::FaceflashCodec;
pub use codes::{FfHamming, FfHex, FfPopcount};
pub use cosine::{cosine, FfCosine};
pub use encode::{quantizer_at, FfEncode};
pub use gallery_table::{gallery_table, FfGallery};
pub use job_tables::{JobExec, JobFunction, JobSpec, JobTable};
pub use similarity_join::{Similarity, SimilarityJoinExec, SimilarityJoinRule};

/// A session with the similarity-join rewrite ([`SimilarityJoinRule`]) among its physical
/// optimizer rules and every `ff_*` function registered.
pub fn new_session() -> SessionContext {
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(SimilarityJoinRule))
        .build();
    let ctx = SessionContext::new_with_state(state);
    register_all(&ctx);
    ctx
}

/// Registers every `ff_*` function on `ctx` (the join rewrite needs [`new_session`]).
pub fn register_all(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(FfHamming::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(FfPopcount::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(FfHex::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(FfCosine::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(FfEncode::default()));
    ctx.register_udtf("ff_gallery", Arc::new(FfGallery));
    for (name, f) in JobFunction::all() {
        ctx.register_udtf(name, Arc::new(f));
    }
}
