//! Scalar UDFs over binary codes: `ff_hamming(code, code) → UInt32`, `ff_popcount(code) →
//! UInt32`, `ff_hex(code) → Utf8`. Codes are `FixedSizeBinary(n)` columns (the gallery's
//! `code` column); `Binary` values (literals such as `X'00ff…'`) are accepted and coerced to
//! the other side's width. A constant code against a column runs the scan engine's kernel
//! over the whole column; two columns compare row by row.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryArray, StringBuilder, UInt32Array, UInt32Builder,
};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// Width in bytes of a code type, `None` for variable-width binary.
fn code_width(name: &str, t: &DataType) -> Result<Option<i32>> {
    match t {
        DataType::FixedSizeBinary(n) => Ok(Some(*n)),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::Null => {
            Ok(None)
        }
        other => plan_err!(
            "{name} expects binary codes (FixedSizeBinary, as in a gallery's `code` column), got {other}"
        ),
    }
}

/// One code argument: a constant or a column, as bytes per row.
enum Codes {
    Scalar(Option<Vec<u8>>),
    Array(ArrayRef),
}

impl Codes {
    fn from(value: &ColumnarValue) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Scalar(s) => Codes::Scalar(match s {
                ScalarValue::FixedSizeBinary(_, v)
                | ScalarValue::Binary(v)
                | ScalarValue::LargeBinary(v)
                | ScalarValue::BinaryView(v) => v.clone(),
                ScalarValue::Null => None,
                other => return exec_err!("not a binary code: {other}"),
            }),
            ColumnarValue::Array(a) => Codes::Array(a.clone()),
        })
    }

    /// The bytes of row `i` (`None` when null).
    fn row(&self, i: usize) -> Option<&[u8]> {
        match self {
            Codes::Scalar(v) => v.as_deref(),
            Codes::Array(a) => {
                if a.is_null(i) {
                    return None;
                }
                match a.data_type() {
                    DataType::FixedSizeBinary(_) => Some(a.as_fixed_size_binary().value(i)),
                    DataType::Binary => Some(a.as_binary::<i32>().value(i)),
                    DataType::LargeBinary => Some(a.as_binary::<i64>().value(i)),
                    DataType::BinaryView => Some(a.as_binary_view().value(i)),
                    _ => None,
                }
            }
        }
    }
}

/// Little-endian u64 words of a code whose length is a multiple of 8 bytes.
fn words(bytes: &[u8], out: &mut Vec<u64>) {
    out.clear();
    out.extend(
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))),
    );
}

/// Hamming distance of two codes of any equal length.
fn hamming_bytes(a: &[u8], b: &[u8]) -> u32 {
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: u32 = wa
        .remainder()
        .iter()
        .zip(wb.remainder())
        .map(|(x, y)| (x ^ y).count_ones())
        .sum();
    wa.zip(wb)
        .map(|(x, y)| {
            (u64::from_le_bytes(x.try_into().expect("8 bytes"))
                ^ u64::from_le_bytes(y.try_into().expect("8 bytes")))
            .count_ones()
        })
        .sum::<u32>()
        + tail
}

/// `ff_hamming(a, b)`: the Hamming distance between two codes.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FfHamming {
    signature: Signature,
}

impl Default for FfHamming {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FfHamming {
    fn name(&self) -> &str {
        "ff_hamming"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt32)
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = args else {
            return plan_err!("ff_hamming takes two codes, got {} arguments", args.len());
        };
        match (code_width("ff_hamming", a)?, code_width("ff_hamming", b)?) {
            (Some(x), Some(y)) if x != y => plan_err!(
                "ff_hamming: codes of different widths ({x} and {y} bytes) cannot be compared"
            ),
            (Some(n), None) | (None, Some(n)) => Ok(vec![DataType::FixedSizeBinary(n); 2]),
            _ => Ok(vec![a.clone(), b.clone()]),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let a = Codes::from(&args.args[0])?;
        let b = Codes::from(&args.args[1])?;
        let out = match (&a, &b) {
            (Codes::Scalar(q), Codes::Array(col)) | (Codes::Array(col), Codes::Scalar(q)) => {
                constant_against_column(q.as_deref(), col, n)?
            }
            _ => row_by_row(&a, &b, n)?,
        };
        Ok(match (&args.args[0], &args.args[1]) {
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            }
            _ => ColumnarValue::Array(Arc::new(out)),
        })
    }
}

/// Distances from one code to every row of a column: the scan kernel over the column's
/// words when the width allows, row by row otherwise.
fn constant_against_column(q: Option<&[u8]>, col: &ArrayRef, n: usize) -> Result<UInt32Array> {
    let Some(q) = q else {
        return Ok(UInt32Array::new_null(n));
    };
    if let Some(fixed) = col.as_fixed_size_binary_opt() {
        let width = fixed.value_length() as usize;
        if width != q.len() {
            return exec_err!(
                "ff_hamming: codes of different widths ({} and {width} bytes) cannot be compared",
                q.len()
            );
        }
        if width.is_multiple_of(8) && width > 0 {
            return Ok(kernel_distances(q, fixed));
        }
    }
    row_by_row(
        &Codes::Scalar(Some(q.to_vec())),
        &Codes::Array(col.clone()),
        n,
    )
}

fn kernel_distances(q: &[u8], col: &FixedSizeBinaryArray) -> UInt32Array {
    let mut query = Vec::new();
    words(q, &mut query);
    let width = q.len();
    let start = col.offset() * width;
    let bytes = &col.value_data()[start..start + col.len() * width];
    let mut codes = Vec::new();
    words(bytes, &mut codes);
    let mut out = vec![0u32; col.len()];
    crate::scan::distances(&query, &codes, &mut out);
    UInt32Array::new(out.into(), col.nulls().cloned())
}

fn row_by_row(a: &Codes, b: &Codes, n: usize) -> Result<UInt32Array> {
    let mut out = UInt32Builder::with_capacity(n);
    for i in 0..n {
        match (a.row(i), b.row(i)) {
            (Some(x), Some(y)) => {
                if x.len() != y.len() {
                    return exec_err!(
                        "ff_hamming: row {i} compares codes of {} and {} bytes",
                        x.len(),
                        y.len()
                    );
                }
                out.append_value(hamming_bytes(x, y));
            }
            _ => out.append_null(),
        }
    }
    Ok(out.finish())
}

/// `ff_popcount(code)`: the number of set bits.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FfPopcount {
    signature: Signature,
}

impl Default for FfPopcount {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FfPopcount {
    fn name(&self) -> &str {
        "ff_popcount"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt32)
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [a] = args else {
            return plan_err!("ff_popcount takes one code, got {} arguments", args.len());
        };
        code_width("ff_popcount", a)?;
        Ok(vec![a.clone()])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_codes(&args, |code, out: &mut UInt32Builder| {
            out.append_option(code.map(|c| c.iter().map(|b| b.count_ones()).sum()))
        })
    }
}

/// `ff_hex(code)`: the code as lower-case hexadecimal (byte order as stored).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FfHex {
    signature: Signature,
}

impl Default for FfHex {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FfHex {
    fn name(&self) -> &str {
        "ff_hex"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [a] = args else {
            return plan_err!("ff_hex takes one code, got {} arguments", args.len());
        };
        code_width("ff_hex", a)?;
        Ok(vec![a.clone()])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_codes(&args, |code, out: &mut StringBuilder| {
            out.append_option(code.map(|c| {
                let mut s = String::with_capacity(c.len() * 2);
                for b in c {
                    s.push_str(&format!("{b:02x}"));
                }
                s
            }))
        })
    }
}

/// Applies `each` to every code (`None` when null) of the single argument.
fn map_codes<B>(
    args: &ScalarFunctionArgs,
    each: impl Fn(Option<&[u8]>, &mut B),
) -> Result<ColumnarValue>
where
    B: arrow::array::ArrayBuilder + Default,
{
    let codes = Codes::from(&args.args[0])?;
    let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
    let n = if scalar { 1 } else { args.number_rows };
    let mut out = B::default();
    for i in 0..n {
        each(codes.row(i), &mut out);
    }
    let array = out.finish();
    Ok(if scalar {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
    } else {
        ColumnarValue::Array(array)
    })
}
