//! A `PhysicalExtensionCodec` for the plan nodes of this crate ([`JobExec`],
//! [`SimilarityJoinExec`]), so a distributed DataFusion engine (Ballista) can ship plans that
//! contain them to executors: each node is written as a small JSON document; the functions
//! (`ff_*`) travel by name and are found in the executor's registry (`register_all`).

use std::sync::Arc;

use datafusion::common::{internal_err, Result};
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use super::job_tables::{JobExec, JobSpec};
use super::similarity_join::{Similarity, SimilarityJoinExec};

/// The serialized form of a node.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
enum Node {
    Job {
        spec: JobSpec,
        projection: Option<Vec<usize>>,
    },
    SimilarityJoin {
        left_column: usize,
        right_column: usize,
        similarity: Similarity,
        projection: Option<Vec<usize>>,
    },
}

/// Encodes and decodes this crate's plan nodes.
#[derive(Debug, Default)]
pub struct FaceflashCodec;

fn json_error(e: serde_json::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl PhysicalExtensionCodec for FaceflashCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match serde_json::from_slice::<Node>(buf).map_err(json_error)? {
            Node::Job { spec, projection } => Ok(Arc::new(JobExec::new(
                spec,
                projection,
                inputs.first().cloned(),
            )?)),
            Node::SimilarityJoin {
                left_column,
                right_column,
                similarity,
                projection,
            } => {
                let [left, right] = inputs else {
                    return internal_err!(
                        "a similarity join has two inputs, the plan gives {}",
                        inputs.len()
                    );
                };
                Ok(Arc::new(SimilarityJoinExec::new(
                    left.clone(),
                    right.clone(),
                    left_column,
                    right_column,
                    similarity,
                    projection,
                )?))
            }
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let any: &dyn std::any::Any = node.as_ref();
        let value = if let Some(job) = any.downcast_ref::<JobExec>() {
            Node::Job {
                spec: job.spec().clone(),
                projection: job.projection().cloned(),
            }
        } else if let Some(join) = any.downcast_ref::<SimilarityJoinExec>() {
            let (left_column, right_column, projection) = join.columns();
            Node::SimilarityJoin {
                left_column,
                right_column,
                similarity: join.similarity(),
                projection: projection.cloned(),
            }
        } else {
            return internal_err!("FaceflashCodec cannot encode {}", node.name());
        };
        serde_json::to_writer(buf, &value).map_err(json_error)
    }
}
