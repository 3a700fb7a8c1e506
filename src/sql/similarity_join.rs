//! The similarity join in plain SQL. DataFusion plans `a JOIN b ON ff_cosine(a.e, b.e) >= x`
//! (or `ff_hamming(a.code, b.code) <= r`) as a `NestedLoopJoinExec` that evaluates the
//! function on every pair, copying both embeddings into a cartesian batch first. The
//! physical optimizer rule [`SimilarityJoinRule`] replaces such an inner join by
//! [`SimilarityJoinExec`], which computes the same pairs blockwise: cosines by tiled matrix
//! products (each pair within 1e-4 of the threshold then confirmed with `ff_cosine`'s own
//! arithmetic, so the result is exactly the nested loop's), Hamming distances by the scan
//! kernel over row-major codes.

use std::fmt;

use rayon::prelude::*;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{JoinSide, JoinType, Result, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, Literal};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::NestedLoopJoinExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    collect, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
};
use ndarray::{s, Array2};

use super::cosine::cosine;
use super::vectors::Vectors;

/// What pairs the join keeps.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Similarity {
    /// `ff_cosine(l, r) >= t` (or `> t` when `strict`), compared as the plan compares (the
    /// threshold is the literal in the comparison's type, widened to f64).
    Cosine { threshold: f64, strict: bool },
    /// `ff_hamming(l, r) <= r` (or `< r` when `strict`).
    Hamming { radius: u32, strict: bool },
}

/// The rewritten join: inner join of `left` and `right` on a similarity of one column each.
#[derive(Debug)]
pub struct SimilarityJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    left_column: usize,
    right_column: usize,
    similarity: Similarity,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl SimilarityJoinExec {
    /// The node replacing `join`: its inputs and output projection.
    fn replacing(
        join: &NestedLoopJoinExec,
        left_column: usize,
        right_column: usize,
        similarity: Similarity,
    ) -> Result<Self> {
        Self::new(
            join.left().clone(),
            join.right().clone(),
            left_column,
            right_column,
            similarity,
            join.projection().as_ref().map(|p| p.to_vec()),
        )
    }

    /// A node joining `left` and `right` (inner join: left columns, then right columns, then
    /// `projection`).
    pub fn new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        left_column: usize,
        right_column: usize,
        similarity: Similarity,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        let fields: Vec<arrow::datatypes::FieldRef> = left
            .schema()
            .fields()
            .iter()
            .chain(right.schema().fields().iter())
            .cloned()
            .collect();
        let joined = arrow::datatypes::Schema::new(fields);
        let schema = Arc::new(match &projection {
            Some(p) => joined.project(p)?,
            None => joined,
        });
        let properties = Arc::new(PlanProperties::new(
            datafusion::physical_expr::EquivalenceProperties::new(schema.clone()),
            datafusion::physical_plan::Partitioning::UnknownPartitioning(
                right.properties().partitioning.partition_count(),
            ),
            datafusion::physical_plan::execution_plan::EmissionType::Final,
            datafusion::physical_plan::execution_plan::Boundedness::Bounded,
        ));
        Ok(Self {
            left,
            right,
            left_column,
            right_column,
            similarity,
            projection,
            schema,
            properties,
        })
    }

    /// The similarity it joins on.
    pub fn similarity(&self) -> Similarity {
        self.similarity
    }

    /// (left column, right column, output projection): what a serialized plan must keep.
    pub fn columns(&self) -> (usize, usize, Option<&Vec<usize>>) {
        (
            self.left_column,
            self.right_column,
            self.projection.as_ref(),
        )
    }
}

impl DisplayAs for SimilarityJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match self.similarity {
            Similarity::Cosine { threshold, strict } => write!(
                f,
                "FaceflashSimilarityJoinExec: ff_cosine(left[{}], right[{}]) {} {threshold}",
                self.left_column,
                self.right_column,
                if strict { ">" } else { ">=" }
            ),
            Similarity::Hamming { radius, strict } => write!(
                f,
                "FaceflashSimilarityJoinExec: ff_hamming(left[{}], right[{}]) {} {radius}",
                self.left_column,
                self.right_column,
                if strict { "<" } else { "<=" }
            ),
        }
    }
}

impl ExecutionPlan for SimilarityJoinExec {
    fn name(&self) -> &str {
        "FaceflashSimilarityJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let right = children.pop().expect("two children");
        let left = children.pop().expect("two children");
        Ok(Arc::new(Self {
            left,
            right,
            left_column: self.left_column,
            right_column: self.right_column,
            similarity: self.similarity,
            projection: self.projection.clone(),
            schema: self.schema.clone(),
            properties: self.properties.clone(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (left, right) = (self.left.clone(), self.right.clone());
        let (lc, rc, sim) = (self.left_column, self.right_column, self.similarity);
        let projection = self.projection.clone();
        let schema = self.schema.clone();
        let out_schema = schema.clone();
        // Every partition but the first is empty: the join reads both sides whole.
        let first = partition == 0;
        let run = async move {
            if !first {
                return Ok(RecordBatch::new_empty(out_schema));
            }
            let l = collect(left.clone(), context.clone()).await?;
            let r = collect(right.clone(), context).await?;
            let l = concat_batches(&left.schema(), &l)?;
            let r = concat_batches(&right.schema(), &r)?;
            tokio::task::spawn_blocking(move || {
                join(&l, &r, lc, rc, sim, projection.as_deref(), out_schema)
            })
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::once(run),
        )))
    }
}

/// The joined batch: every (left row, right row) pair passing `sim`, left columns then right
/// columns (then `projection`).
fn join(
    l: &RecordBatch,
    r: &RecordBatch,
    lc: usize,
    rc: usize,
    sim: Similarity,
    projection: Option<&[usize]>,
    schema: SchemaRef,
) -> Result<RecordBatch> {
    let pairs = match sim {
        Similarity::Cosine { threshold, strict } => {
            cosine_pairs(l.column(lc), r.column(rc), threshold, strict)?
        }
        Similarity::Hamming { radius, strict } => {
            hamming_pairs(l.column(lc), r.column(rc), radius, strict)?
        }
    };
    let li = UInt32Array::from_iter_values(pairs.iter().map(|p| p.0));
    let ri = UInt32Array::from_iter_values(pairs.iter().map(|p| p.1));
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(l.num_columns() + r.num_columns());
    for c in l.columns() {
        columns.push(take(c.as_ref(), &li, None)?);
    }
    for c in r.columns() {
        columns.push(take(c.as_ref(), &ri, None)?);
    }
    if let Some(p) = projection {
        columns = p.iter().map(|&i| columns[i].clone()).collect();
    }
    // A projection may keep no column at all (`SELECT count(*)`): give the row count.
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(pairs.len()));
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

/// Unit rows of an embedding column (zero rows for nulls, flagged invalid).
fn unit_rows(v: &Vectors, n: usize) -> Result<(Array2<f32>, Vec<bool>, usize)> {
    let mut dim = 0;
    for i in 0..n {
        if let Some(row) = v.row(i)? {
            dim = row.len();
            break;
        }
    }
    let mut m = Array2::<f32>::zeros((n, dim));
    let mut valid = vec![false; n];
    for (i, (mut out, ok)) in m.rows_mut().into_iter().zip(valid.iter_mut()).enumerate() {
        if let Some(row) = v.row(i)? {
            if row.len() == dim {
                let mut x = row.to_vec();
                if crate::store::l2_normalize(&mut x) > 0.0 {
                    out.as_slice_mut().expect("row").copy_from_slice(&x);
                    *ok = true;
                }
            }
        }
    }
    Ok((m, valid, dim))
}

const TILE: usize = 1024;

fn cosine_pairs(
    lcol: &ArrayRef,
    rcol: &ArrayRef,
    threshold: f64,
    strict: bool,
) -> Result<Vec<(u32, u32)>> {
    let column = |c: &ArrayRef| Vectors::from(&ColumnarValue::Array(c.clone()));
    let (lvec, rvec) = (column(lcol)?, column(rcol)?);
    let (lm, lv, ld) = unit_rows(&lvec, lcol.len())?;
    let (rm, rv, rd) = unit_rows(&rvec, rcol.len())?;
    if ld != rd {
        return Ok(Vec::new());
    }
    // Left tiles in parallel (each against every right tile), concatenated in tile order:
    // the pairs come out sorted by (left, right) whatever the thread count.
    let starts: Vec<usize> = (0..lm.nrows()).step_by(TILE).collect();
    let tiles: Vec<Vec<(u32, u32)>> = starts
        .par_iter()
        .map(|&l0| -> Result<Vec<(u32, u32)>> {
            let l1 = (l0 + TILE).min(lm.nrows());
            let mut found = Vec::new();
            for r0 in (0..rm.nrows()).step_by(TILE) {
                let r1 = (r0 + TILE).min(rm.nrows());
                let sims = lm.slice(s![l0..l1, ..]).dot(&rm.slice(s![r0..r1, ..]).t());
                for (i, row) in (l0..l1).zip(sims.rows()) {
                    if !lv[i] {
                        continue;
                    }
                    for (j, &approx) in (r0..r1).zip(row.iter()) {
                        if rv[j] && f64::from(approx) >= threshold - 1e-4 {
                            // The exact test: ff_cosine's own arithmetic on the raw values.
                            if let (Some(a), Some(b)) = (lvec.row(i)?, rvec.row(j)?) {
                                if let Some(c) = cosine(&a, &b) {
                                    let c = f64::from(c);
                                    if c > threshold || (!strict && c == threshold) {
                                        found.push((i as u32, j as u32));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Ok(found)
        })
        .collect::<Result<_>>()?;
    Ok(tiles.concat())
}

fn hamming_pairs(
    lcol: &ArrayRef,
    rcol: &ArrayRef,
    radius: u32,
    strict: bool,
) -> Result<Vec<(u32, u32)>> {
    let (Some(lf), Some(rf)) = (
        lcol.as_fixed_size_binary_opt(),
        rcol.as_fixed_size_binary_opt(),
    ) else {
        return Err(DataFusionError::Internal(
            "similarity join on codes that are not FixedSizeBinary".into(),
        ));
    };
    let width = lf.value_length() as usize;
    if width != rf.value_length() as usize || !width.is_multiple_of(8) {
        return Err(DataFusionError::Internal(
            "codes of different widths".into(),
        ));
    }
    let words = |a: &arrow::array::FixedSizeBinaryArray| -> Vec<u64> {
        (0..a.len())
            .flat_map(|i| {
                a.value(i)
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (lw, rw) = (words(lf), words(rf));
    let w = width / 8;
    // Right rows in parallel blocks, each scanning every left code; sorted at the end.
    let blocks: Vec<Vec<(u32, u32)>> = (0..rf.len())
        .collect::<Vec<_>>()
        .par_chunks(TILE)
        .map(|js| {
            let mut dist = vec![0u32; lf.len()];
            let mut found = Vec::new();
            for &j in js {
                if rf.is_null(j) {
                    continue;
                }
                crate::scan::distances(&rw[j * w..(j + 1) * w], &lw, &mut dist);
                for (i, &d) in dist.iter().enumerate() {
                    if lf.is_valid(i) && (d < radius || (!strict && d == radius)) {
                        found.push((i as u32, j as u32));
                    }
                }
            }
            found
        })
        .collect();
    let mut out = blocks.concat();
    out.sort_unstable();
    Ok(out)
}

/// Rewrites inner nested-loop joins on `ff_cosine(l, r) >= x` or `ff_hamming(l, r) <= r`
/// into [`SimilarityJoinExec`].
#[derive(Debug, Default)]
pub struct SimilarityJoinRule;

impl PhysicalOptimizerRule for SimilarityJoinRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let any: &dyn std::any::Any = node.as_ref();
            let Some(join) = any.downcast_ref::<NestedLoopJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            match matched(join) {
                Some((lc, rc, sim)) => Ok(Transformed::yes(
                    Arc::new(SimilarityJoinExec::replacing(join, lc, rc, sim)?)
                        as Arc<dyn ExecutionPlan>,
                )),
                None => Ok(Transformed::no(node)),
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "faceflash_similarity_join"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// (left column, right column, similarity) when `join` is an inner join on exactly one
/// similarity predicate of a left and a right column.
fn matched(join: &NestedLoopJoinExec) -> Option<(usize, usize, Similarity)> {
    if *join.join_type() != JoinType::Inner {
        return None;
    }
    let filter = join.filter()?;
    let bin = (filter.expression().as_ref() as &dyn std::any::Any).downcast_ref::<BinaryExpr>()?;
    // Put the function on the left: `x <= f(..)` is `f(..) >= x`.
    let (func, lit, op) = match (as_function(bin.left()), as_literal(bin.right())) {
        (Some(f), Some(v)) => (f, v, *bin.op()),
        _ => (
            as_function(bin.right())?,
            as_literal(bin.left())?,
            bin.op().swap()?,
        ),
    };
    let args = func.args();
    if args.len() != 2 {
        return None;
    }
    let (a, b) = (column_of(&args[0])?, column_of(&args[1])?);
    let indices = filter.column_indices();
    let (ca, cb) = (indices.get(a)?, indices.get(b)?);
    let (lc, rc) = match (ca.side, cb.side) {
        (JoinSide::Left, JoinSide::Right) => (ca.index, cb.index),
        (JoinSide::Right, JoinSide::Left) => (cb.index, ca.index),
        _ => return None,
    };
    let number = match lit.cast_to(&DataType::Float64).ok()? {
        ScalarValue::Float64(Some(x)) => x,
        _ => return None,
    };
    let sim = match (func.name(), op) {
        ("ff_cosine", Operator::GtEq) => Similarity::Cosine {
            threshold: number,
            strict: false,
        },
        ("ff_cosine", Operator::Gt) => Similarity::Cosine {
            threshold: number,
            strict: true,
        },
        ("ff_hamming", Operator::LtEq) if number >= 0.0 => Similarity::Hamming {
            radius: number.floor() as u32,
            strict: false,
        },
        ("ff_hamming", Operator::Lt) if number > 0.0 => Similarity::Hamming {
            radius: number.ceil() as u32,
            strict: true,
        },
        _ => return None,
    };
    Some((lc, rc, sim))
}

/// The function call, also under a cast for the comparison (a Float32 cosine compared with a
/// Float64 literal: widening keeps every value, so the comparison is the same).
fn as_function(e: &Arc<dyn PhysicalExpr>) -> Option<&ScalarFunctionExpr> {
    let any = e.as_ref() as &dyn std::any::Any;
    if let Some(f) = any.downcast_ref::<ScalarFunctionExpr>() {
        return Some(f);
    }
    let cast = any.downcast_ref::<CastExpr>()?;
    if !matches!(
        cast.cast_type(),
        DataType::Float64 | DataType::Int64 | DataType::UInt64
    ) {
        return None;
    }
    (cast.expr().as_ref() as &dyn std::any::Any).downcast_ref::<ScalarFunctionExpr>()
}

fn as_literal(e: &Arc<dyn PhysicalExpr>) -> Option<ScalarValue> {
    let any = e.as_ref() as &dyn std::any::Any;
    if let Some(l) = any.downcast_ref::<Literal>() {
        return Some(l.value().clone());
    }
    // A literal cast for the comparison (e.g. Float64 0.5 compared with Float32).
    let cast = any.downcast_ref::<CastExpr>()?;
    let inner = (cast.expr().as_ref() as &dyn std::any::Any).downcast_ref::<Literal>()?;
    inner.value().cast_to(cast.cast_type()).ok()
}

fn column_of(e: &Arc<dyn PhysicalExpr>) -> Option<usize> {
    let any = e.as_ref() as &dyn std::any::Any;
    if let Some(c) = any.downcast_ref::<Column>() {
        return Some(c.index());
    }
    // Embeddings coerced to Float32 lists: the same values, joined on the source column.
    let cast = any.downcast_ref::<CastExpr>()?;
    let inner = (cast.expr().as_ref() as &dyn std::any::Any).downcast_ref::<Column>()?;
    Some(inner.index())
}
