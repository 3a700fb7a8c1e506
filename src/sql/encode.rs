//! `ff_encode(embedding, 'quantizer.ffq' | 'gallery/') → FixedSizeBinary(bits / 8)`: the
//! binary code of each embedding (normalised first) under a quantizer file or a gallery's own
//! quantizer. The second argument must be a constant; quantizers are loaded once per process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::FixedSizeBinaryBuilder;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::vectors::{coerce_embedding, result, Vectors};
use crate::quant::Quantizer;

/// The quantizer at `path`: a `.ffq` file, or a gallery directory (its `quantizer.ffq`),
/// loaded once per process.
pub fn quantizer_at(path: &str) -> Result<Arc<Quantizer>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Quantizer>>>> = OnceLock::new();
    let mut p = PathBuf::from(path);
    if p.is_dir() {
        p = p.join(crate::store::gallery::QUANTIZER);
    }
    let cache = CACHE.get_or_init(Default::default);
    if let Some(q) = cache.lock().expect("quantizer cache").get(&p) {
        return Ok(q.clone());
    }
    let q = Arc::new(load(&p)?);
    cache.lock().expect("quantizer cache").insert(p, q.clone());
    Ok(q)
}

fn load(p: &Path) -> Result<Quantizer> {
    crate::quant::file::load(p).map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))
}

fn path_argument(v: Option<&ScalarValue>) -> Result<String> {
    match v {
        Some(ScalarValue::Utf8(Some(s)))
        | Some(ScalarValue::LargeUtf8(Some(s)))
        | Some(ScalarValue::Utf8View(Some(s))) => Ok(s.clone()),
        _ => plan_err!(
            "ff_encode's second argument must be a constant string: a quantizer file (.ffq) or a gallery directory"
        ),
    }
}

/// `ff_encode(embedding, quantizer)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FfEncode {
    signature: Signature,
}

impl Default for FfEncode {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FfEncode {
    fn name(&self) -> &str {
        "ff_encode"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        plan_err!("ff_encode's type comes from its quantizer argument")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let path = path_argument(args.scalar_arguments.get(1).copied().flatten())?;
        let q = quantizer_at(&path)?;
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::FixedSizeBinary(q.code_bytes() as i32),
            true,
        )))
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [e, p] = args else {
            return plan_err!(
                "ff_encode takes an embedding and a quantizer path, got {} arguments",
                args.len()
            );
        };
        if !matches!(p, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            return plan_err!("ff_encode's second argument must be a string path, got {p}");
        }
        Ok(vec![coerce_embedding("ff_encode", e)?, p.clone()])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let path = match &args.args[1] {
            ColumnarValue::Scalar(s) => path_argument(Some(s))?,
            ColumnarValue::Array(_) => {
                return exec_err!("ff_encode's quantizer path must be a constant")
            }
        };
        let q = quantizer_at(&path)?;
        let v = Vectors::from(&args.args[0])?;
        let n = if v.is_scalar() { 1 } else { args.number_rows };
        // Normalise the valid rows into one batch, encode it at once.
        let mut batch = Vec::with_capacity(n * q.dim());
        let mut valid = Vec::with_capacity(n);
        for i in 0..n {
            let row = v.row(i)?;
            let ok = match row {
                Some(r) if r.len() == q.dim() => {
                    let start = batch.len();
                    batch.extend_from_slice(&r);
                    if crate::store::l2_normalize(&mut batch[start..]) == 0.0 {
                        batch.truncate(start);
                        false
                    } else {
                        true
                    }
                }
                Some(r) => {
                    return exec_err!(
                        "ff_encode: row {i} has dimension {}, the quantizer {} expects {}",
                        r.len(),
                        path,
                        q.dim()
                    )
                }
                None => false,
            };
            valid.push(ok);
        }
        let codes = q
            .encode(&batch)
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
        let bytes = q.code_bytes();
        let words = bytes / 8;
        let mut out = FixedSizeBinaryBuilder::with_capacity(n, bytes as i32);
        let mut next = 0;
        let mut buf = vec![0u8; bytes];
        for ok in valid {
            if ok {
                for (w, chunk) in codes[next * words..(next + 1) * words]
                    .iter()
                    .zip(buf.chunks_exact_mut(8))
                {
                    chunk.copy_from_slice(&w.to_le_bytes());
                }
                out.append_value(&buf)?;
                next += 1;
            } else {
                out.append_null();
            }
        }
        result(&args.args, Arc::new(out.finish()))
    }
}
