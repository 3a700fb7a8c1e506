//! The batch jobs as SQL table functions: `ff_identify(gallery, queries, k [, candidates])`,
//! `ff_dedup(gallery, threshold)`, `ff_clusters(gallery, threshold [, min_faces])`,
//! `ff_watchlist(watchlist, stream, threshold)`. Their schemas are the CLI jobs' tables, and
//! they run the very same jobs, so SQL and CLI results are identical. A job runs when the
//! query executes (never at planning, so `EXPLAIN` is free), on a blocking thread, into a
//! temporary Parquet file whose batches then stream into the query.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;

use super::gallery_table::string_arg;
use crate::jobs::{self, ClusterParams, DedupParams, IdentifyParams, WatchlistParams};
use crate::scan::SearchParams;
use crate::store::{resolve_inputs, Gallery, ReadOptions};

/// A job a table function runs, with its arguments.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum JobSpec {
    /// `ff_identify(gallery, queries, k [, candidates])`.
    Identify {
        gallery: PathBuf,
        queries: PathBuf,
        k: usize,
        candidates: Option<usize>,
    },
    /// `ff_dedup(gallery, threshold)`.
    Dedup { gallery: PathBuf, threshold: f32 },
    /// `ff_clusters(gallery, threshold [, min_faces])`.
    Clusters {
        gallery: PathBuf,
        threshold: f32,
        min_faces: usize,
    },
    /// `ff_watchlist(watchlist, stream, threshold)`.
    Watchlist {
        watchlist: PathBuf,
        stream: PathBuf,
        threshold: f32,
    },
}

impl JobSpec {
    /// The output schema (that of the CLI job).
    pub fn schema(&self) -> SchemaRef {
        match self {
            JobSpec::Identify { .. } => jobs::matches_schema(),
            JobSpec::Dedup { .. } => jobs::pairs_schema(),
            JobSpec::Clusters { .. } => jobs::clusters_schema(),
            JobSpec::Watchlist { .. } => jobs::hits_schema(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            JobSpec::Identify { .. } => "ff_identify",
            JobSpec::Dedup { .. } => "ff_dedup",
            JobSpec::Clusters { .. } => "ff_clusters",
            JobSpec::Watchlist { .. } => "ff_watchlist",
        }
    }

    /// Runs the job, writing its table to `out`.
    pub fn run(&self, out: &std::path::Path) -> Result<(), anyhow::Error> {
        match self {
            JobSpec::Identify {
                gallery,
                queries,
                k,
                candidates,
            } => {
                let g = Gallery::open(gallery)?;
                let params = IdentifyParams {
                    search: SearchParams {
                        candidates: *candidates,
                        ..SearchParams::top(*k)
                    },
                    batch_size: 4096,
                };
                let files = resolve_inputs(std::slice::from_ref(queries))?;
                jobs::identify(&g, files, ReadOptions::default(), out, &params, None)?;
            }
            JobSpec::Dedup { gallery, threshold } => {
                let g = Gallery::open(gallery)?;
                jobs::dedup(&g, out, &dedup_params(*threshold, false), None)?;
            }
            JobSpec::Clusters {
                gallery,
                threshold,
                min_faces,
            } => {
                let g = Gallery::open(gallery)?;
                let scratch = tempfile::tempdir_in(crate::store::parent_dir(out))?;
                let d = jobs::dedup(
                    &g,
                    &scratch.path().join("pairs.parquet"),
                    &dedup_params(*threshold, true),
                    None,
                )?;
                let mut edges = d.edges.expect("edges kept");
                let meta = jobs::MetaCache::new(&g);
                let params = ClusterParams {
                    min_faces: *min_faces,
                    ..ClusterParams::default()
                };
                let (clusters, _) = jobs::cluster_gallery(&g, &meta, &mut edges, &params)?;
                let provenance = jobs::gallery_provenance(
                    "sql ff_clusters",
                    "gallery",
                    &g,
                    &serde_json::json!({"threshold": threshold, "min_faces": min_faces}),
                );
                jobs::write_clusters(out, &g, &meta, &clusters, &provenance)?;
            }
            JobSpec::Watchlist {
                watchlist,
                stream,
                threshold,
            } => {
                let g = Gallery::open(watchlist)?;
                let params = WatchlistParams {
                    threshold: *threshold,
                    radius: None,
                    k: 1,
                    per_identity: false,
                    batch_size: 4096,
                };
                let files = resolve_inputs(std::slice::from_ref(stream))?;
                jobs::watchlist(&g, files, ReadOptions::default(), out, &params, None)?;
            }
        }
        Ok(())
    }
}

fn dedup_params(threshold: f32, keep_edges: bool) -> DedupParams {
    DedupParams {
        threshold,
        radius: None,
        keep_edges,
    }
}

/// A number literal argument.
fn number_arg(func: &str, exprs: &[Expr], i: usize, what: &str) -> Result<f64> {
    let v = match exprs.get(i) {
        Some(Expr::Literal(v, _)) => v,
        _ => return plan_err!("{func}: argument {} must be a number: {what}", i + 1),
    };
    let cast = v.cast_to(&arrow::datatypes::DataType::Float64)?;
    match cast {
        ScalarValue::Float64(Some(x)) => Ok(x),
        _ => plan_err!("{func}: argument {} must be a number: {what}", i + 1),
    }
}

fn threshold_arg(func: &str, exprs: &[Expr], i: usize) -> Result<f32> {
    let t = number_arg(func, exprs, i, "the cosine threshold")? as f32;
    jobs::check_threshold(t).map_err(|e| DataFusionError::Plan(format!("{func}: {e}")))?;
    Ok(t)
}

fn count_arg(func: &str, exprs: &[Expr], i: usize, what: &str) -> Result<usize> {
    let x = number_arg(func, exprs, i, what)?;
    if x < 1.0 || x.fract() != 0.0 {
        return plan_err!("{func}: {what} must be a whole number ≥ 1, got {x}");
    }
    Ok(x as usize)
}

fn arity(func: &str, exprs: &[Expr], min: usize, max: usize, usage: &str) -> Result<()> {
    if exprs.len() < min || exprs.len() > max {
        return plan_err!("{func} takes {usage}, got {} arguments", exprs.len());
    }
    Ok(())
}

/// One of the job table functions.
#[derive(Debug, Clone, Copy)]
pub enum JobFunction {
    Identify,
    Dedup,
    Clusters,
    Watchlist,
}

impl JobFunction {
    /// Every job function with its SQL name.
    pub fn all() -> [(&'static str, JobFunction); 4] {
        [
            ("ff_identify", JobFunction::Identify),
            ("ff_dedup", JobFunction::Dedup),
            ("ff_clusters", JobFunction::Clusters),
            ("ff_watchlist", JobFunction::Watchlist),
        ]
    }

    fn spec(self, e: &[Expr]) -> Result<JobSpec> {
        Ok(match self {
            JobFunction::Identify => {
                let f = "ff_identify";
                arity(f, e, 3, 4, "(gallery, queries, k [, candidates])")?;
                JobSpec::Identify {
                    gallery: string_arg(f, e, 0, "the gallery directory")?.into(),
                    queries: string_arg(f, e, 1, "the queries Parquet file or directory")?.into(),
                    k: count_arg(f, e, 2, "k")?,
                    candidates: if e.len() > 3 {
                        Some(count_arg(f, e, 3, "candidates")?)
                    } else {
                        None
                    },
                }
            }
            JobFunction::Dedup => {
                let f = "ff_dedup";
                arity(f, e, 2, 2, "(gallery, threshold)")?;
                JobSpec::Dedup {
                    gallery: string_arg(f, e, 0, "the gallery directory")?.into(),
                    threshold: threshold_arg(f, e, 1)?,
                }
            }
            JobFunction::Clusters => {
                let f = "ff_clusters";
                arity(f, e, 2, 3, "(gallery, threshold [, min_faces])")?;
                JobSpec::Clusters {
                    gallery: string_arg(f, e, 0, "the gallery directory")?.into(),
                    threshold: threshold_arg(f, e, 1)?,
                    min_faces: if e.len() > 2 {
                        count_arg(f, e, 2, "min_faces")?
                    } else {
                        ClusterParams::default().min_faces
                    },
                }
            }
            JobFunction::Watchlist => {
                let f = "ff_watchlist";
                arity(f, e, 3, 3, "(watchlist, stream, threshold)")?;
                JobSpec::Watchlist {
                    watchlist: string_arg(f, e, 0, "the watchlist gallery directory")?.into(),
                    stream: string_arg(f, e, 1, "the stream Parquet file or directory")?.into(),
                    threshold: threshold_arg(f, e, 2)?,
                }
            }
        })
    }
}

impl TableFunctionImpl for JobFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        Ok(Arc::new(JobTable(self.spec(args.exprs())?)))
    }
}

/// The table a job function returns.
#[derive(Debug)]
pub struct JobTable(pub JobSpec);

#[async_trait::async_trait]
impl TableProvider for JobTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(JobExec::new(self.0.clone(), projection.cloned())?))
    }
}

/// The plan node that runs a job and streams its table.
#[derive(Debug)]
pub struct JobExec {
    spec: JobSpec,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl JobExec {
    /// A node running `spec`, keeping the columns of `projection` (all when `None`).
    pub fn new(spec: JobSpec, projection: Option<Vec<usize>>) -> Result<Self> {
        let full = spec.schema();
        let schema = match &projection {
            Some(p) => Arc::new(full.project(p)?),
            None => full,
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            spec,
            projection,
            schema,
            properties,
        })
    }

    /// The job this node runs.
    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// The projected columns.
    pub fn projection(&self) -> Option<&Vec<usize>> {
        self.projection.as_ref()
    }
}

impl DisplayAs for JobExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "FaceflashJobExec: {:?}", self.spec)
    }
}

impl ExecutionPlan for JobExec {
    fn name(&self) -> &str {
        self.spec.name()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let spec = self.spec.clone();
        let projection = self.projection.clone();
        let run = async move {
            tokio::task::spawn_blocking(move || run_and_read(&spec, projection.as_deref()))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?
        };
        let stream = futures::stream::once(run)
            .map(|r: Result<Vec<arrow::array::RecordBatch>>| match r {
                Ok(batches) => futures::stream::iter(batches.into_iter().map(Ok)).boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            })
            .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}

/// Runs the job into a temporary file and reads its (projected) batches back.
fn run_and_read(
    spec: &JobSpec,
    projection: Option<&[usize]>,
) -> Result<Vec<arrow::array::RecordBatch>> {
    let external = |e: anyhow::Error| DataFusionError::External(e.into());
    let dir = tempfile::tempdir().map_err(|e| DataFusionError::External(Box::new(e)))?;
    let out = dir.path().join("result.parquet");
    spec.run(&out).map_err(external)?;
    let file = std::fs::File::open(&out)?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(8192)
        .build()?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch?;
        // Columns in the order the query asked for them.
        out.push(match projection {
            Some(p) => batch.project(p)?,
            None => batch,
        });
    }
    Ok(out)
}
