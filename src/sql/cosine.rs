//! `ff_cosine(a, b) → Float32`: the cosine between two embeddings, in f32 with the engine's
//! dot product (null for a null or zero vector).

use std::sync::Arc;

use arrow::array::Float32Builder;
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::vectors::{coerce_embedding, fixed_dim, result, Vectors};
use crate::scan::dot;

/// `ff_cosine(a, b)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FfCosine {
    signature: Signature,
}

impl Default for FfCosine {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Cosine of two vectors of one length (`None` when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    let (na, nb) = (dot(a, a), dot(b, b));
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    Some(dot(a, b) / (na * nb).sqrt())
}

impl ScalarUDFImpl for FfCosine {
    fn name(&self) -> &str {
        "ff_cosine"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float32)
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = args else {
            return plan_err!(
                "ff_cosine takes two embeddings, got {} arguments",
                args.len()
            );
        };
        if let (Some(x), Some(y)) = (fixed_dim(a), fixed_dim(b)) {
            if x != y {
                return plan_err!(
                    "ff_cosine: embeddings of different dimensions ({x} and {y}) cannot be compared"
                );
            }
        }
        Ok(vec![
            coerce_embedding("ff_cosine", a)?,
            coerce_embedding("ff_cosine", b)?,
        ])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = Vectors::from(&args.args[0])?;
        let b = Vectors::from(&args.args[1])?;
        let n = if a.is_scalar() && b.is_scalar() {
            1
        } else {
            args.number_rows
        };
        let mut out = Float32Builder::with_capacity(n);
        for i in 0..n {
            match (a.row(i)?, b.row(i)?) {
                (Some(x), Some(y)) => {
                    if x.len() != y.len() {
                        return exec_err!(
                            "ff_cosine: row {i} compares embeddings of dimension {} and {}",
                            x.len(),
                            y.len()
                        );
                    }
                    out.append_option(cosine(&x, &y));
                }
                _ => out.append_null(),
            }
        }
        result(&args.args, Arc::new(out.finish()))
    }
}
