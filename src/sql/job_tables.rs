//! The batch jobs as SQL table functions: `ff_identify(gallery, queries, k [, candidates])`,
//! `ff_dedup(gallery, threshold)`, `ff_clusters(gallery, threshold [, min_faces])`,
//! `ff_watchlist(watchlist, stream, threshold)`. Their schemas are the CLI jobs' tables, and
//! they run the very same jobs, so SQL and CLI results are identical. A job runs when the
//! query executes (never at planning, so `EXPLAIN` is free), on a blocking thread, into a
//! temporary Parquet file whose batches then stream into the query. The queries of
//! `ff_identify` and the stream of `ff_watchlist` are a table or view of the session (the
//! node's child plan, its rows written to a temporary file first) or a Parquet path.

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

/// Faces a job reads: a Parquet file or directory, or a table (or view) of the session,
/// whose rows the job's plan node reads from its child plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacesInput {
    Path(PathBuf),
    Table(String),
}

impl FacesInput {
    /// A table of `session` when `name` is one, else a path.
    fn resolve(session: &dyn Session, name: String) -> FacesInput {
        if table_in(session, &name).is_some_and(|(schema, table)| schema.table_exist(&table)) {
            FacesInput::Table(name)
        } else {
            FacesInput::Path(name.into())
        }
    }
}

/// The schema provider holding table `name` (`t`, `schema.t` or `catalog.schema.t`) and
/// the bare table name.
fn table_in(
    session: &dyn Session,
    name: &str,
) -> Option<(Arc<dyn datafusion::catalog::SchemaProvider>, String)> {
    let options = session.config_options();
    let reference = datafusion::common::TableReference::from(name).resolve(
        &options.catalog.default_catalog,
        &options.catalog.default_schema,
    );
    let schema = session
        .catalog_list()
        .catalog(&reference.catalog)?
        .schema(&reference.schema)?;
    Some((schema, reference.table.to_string()))
}

/// A job a table function runs, with its arguments.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum JobSpec {
    /// `ff_identify(gallery, queries, k [, candidates])`.
    Identify {
        gallery: PathBuf,
        queries: FacesInput,
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
        stream: FacesInput,
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

    /// The session table this job reads, if it reads one.
    pub fn input_table(&self) -> Option<&str> {
        match self {
            JobSpec::Identify {
                queries: FacesInput::Table(t),
                ..
            }
            | JobSpec::Watchlist {
                stream: FacesInput::Table(t),
                ..
            } => Some(t),
            _ => None,
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

    /// Runs the job, writing its table to `out`; `table_rows` is the Parquet file holding the
    /// rows of its input table (when it reads one).
    pub fn run(
        &self,
        out: &std::path::Path,
        table_rows: Option<&std::path::Path>,
    ) -> Result<(), anyhow::Error> {
        let faces = |input: &FacesInput| -> Result<Vec<PathBuf>, anyhow::Error> {
            match (input, table_rows) {
                (FacesInput::Path(p), _) => Ok(resolve_inputs(std::slice::from_ref(p))?),
                (FacesInput::Table(_), Some(rows)) => Ok(vec![rows.to_path_buf()]),
                (FacesInput::Table(t), None) => {
                    anyhow::bail!("{}: the rows of table `{t}` were not given", self.name())
                }
            }
        };
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
                let files = faces(queries)?;
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
                let files = faces(stream)?;
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

    fn spec(self, e: &[Expr], session: &dyn Session) -> Result<JobSpec> {
        Ok(match self {
            JobFunction::Identify => {
                let f = "ff_identify";
                arity(f, e, 3, 4, "(gallery, queries, k [, candidates])")?;
                JobSpec::Identify {
                    gallery: string_arg(f, e, 0, "the gallery directory")?.into(),
                    queries: FacesInput::resolve(
                        session,
                        string_arg(f, e, 1, "the queries table, or Parquet file or directory")?,
                    ),
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
                    stream: FacesInput::resolve(
                        session,
                        string_arg(f, e, 1, "the stream table, or Parquet file or directory")?,
                    ),
                    threshold: threshold_arg(f, e, 2)?,
                }
            }
        })
    }
}

impl TableFunctionImpl for JobFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        Ok(Arc::new(JobTable(self.spec(args.exprs(), args.session())?)))
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
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = match self.0.input_table() {
            Some(name) => {
                let Some((schema, table)) = table_in(state, name) else {
                    return plan_err!("{}: no table `{name}`", self.0.name());
                };
                let Some(provider) = schema.table(&table).await? else {
                    return plan_err!("{}: no table `{name}`", self.0.name());
                };
                Some(provider.scan(state, None, &[], None).await?)
            }
            None => None,
        };
        Ok(Arc::new(JobExec::new(
            self.0.clone(),
            projection.cloned(),
            input,
        )?))
    }
}

/// The plan node that runs a job and streams its table. A job reading a session table has
/// that table's plan as its one child: its rows are written to a temporary Parquet file the
/// job then reads like any faces table.
#[derive(Debug)]
pub struct JobExec {
    spec: JobSpec,
    input: Option<Arc<dyn ExecutionPlan>>,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl JobExec {
    /// A node running `spec`, keeping the columns of `projection` (all when `None`), reading
    /// `input` when the job reads a table.
    pub fn new(
        spec: JobSpec,
        projection: Option<Vec<usize>>,
        input: Option<Arc<dyn ExecutionPlan>>,
    ) -> Result<Self> {
        if spec.input_table().is_some() != input.is_some() {
            return datafusion::common::internal_err!(
                "{}: a job reading a table needs its plan as the one input",
                spec.name()
            );
        }
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
            input,
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
        self.input.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(JobExec::new(
            self.spec.clone(),
            self.projection.clone(),
            children.into_iter().next(),
        )?))
    }

    fn execute(
        &self,
        _partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let spec = self.spec.clone();
        let projection = self.projection.clone();
        let input = self.input.clone();
        let run = async move {
            let dir = tempfile::tempdir().map_err(|e| DataFusionError::External(Box::new(e)))?;
            let rows = match input {
                Some(plan) => {
                    Some(write_rows(plan, context, &dir.path().join("input.parquet")).await?)
                }
                None => None,
            };
            tokio::task::spawn_blocking(move || {
                let result = run_and_read(&spec, rows.as_deref(), projection.as_deref());
                drop(dir);
                result
            })
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

/// Streams every row of `plan` into the Parquet file `path`.
async fn write_rows(
    plan: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
    path: &std::path::Path,
) -> Result<PathBuf> {
    let mut stream = datafusion::physical_plan::execute_stream(plan, context)?;
    let file = std::fs::File::create(path)?;
    // Small row groups: the writer holds one in memory (64K rows of 512-d floats ≈ 128 MB).
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(65_536))
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, stream.schema(), Some(props))?;
    while let Some(batch) = stream.next().await {
        writer.write(&batch?)?;
    }
    writer.close()?;
    Ok(path.to_path_buf())
}

/// Runs the job into a temporary file and reads its (projected) batches back.
fn run_and_read(
    spec: &JobSpec,
    table_rows: Option<&std::path::Path>,
    projection: Option<&[usize]>,
) -> Result<Vec<arrow::array::RecordBatch>> {
    let external = |e: anyhow::Error| DataFusionError::External(e.into());
    let dir = tempfile::tempdir().map_err(|e| DataFusionError::External(Box::new(e)))?;
    let out = dir.path().join("result.parquet");
    spec.run(&out, table_rows).map_err(external)?;
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
