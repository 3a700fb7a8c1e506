//! Embedding arguments of the SQL functions: `FixedSizeList` or `List` of floats (Float16 and
//! Float64 are coerced to Float32), a constant or a column.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Float32Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;

/// The Float32 form of an embedding type, or a planning error naming `func`.
pub fn coerce_embedding(func: &str, t: &DataType) -> Result<DataType> {
    let item = |f: &Field| -> Result<Arc<Field>> {
        match f.data_type() {
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                Ok(Arc::new(Field::new_list_field(DataType::Float32, true)))
            }
            other => plan_err!("{func} expects embeddings of floats, got elements of type {other}"),
        }
    };
    match t {
        DataType::FixedSizeList(f, d) => Ok(DataType::FixedSizeList(item(f)?, *d)),
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            Ok(DataType::List(item(f)?))
        }
        DataType::Null => Ok(DataType::Null),
        other => {
            plan_err!("{func} expects an embedding (FixedSizeList or List of Float32), got {other}")
        }
    }
}

/// The fixed dimension of an embedding type, if it has one.
pub fn fixed_dim(t: &DataType) -> Option<i32> {
    match t {
        DataType::FixedSizeList(_, d) => Some(*d),
        _ => None,
    }
}

/// One embedding argument, after coercion.
pub enum Vectors {
    Scalar(Option<Vec<f32>>),
    Array(ArrayRef),
}

impl Vectors {
    /// Reads an argument.
    pub fn from(value: &ColumnarValue) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Array(a) => Vectors::Array(a.clone()),
            ColumnarValue::Scalar(s) => {
                if s.is_null() {
                    Vectors::Scalar(None)
                } else {
                    let a = s.to_array_of_size(1)?;
                    Vectors::Scalar(row_of(&a, 0)?.map(|v| v.into_owned()))
                }
            }
        })
    }

    /// True for a constant.
    pub fn is_scalar(&self) -> bool {
        matches!(self, Vectors::Scalar(_))
    }

    /// Row `i` (`None` when the row or any element is null).
    pub fn row(&self, i: usize) -> Result<Option<Cow<'_, [f32]>>> {
        match self {
            Vectors::Scalar(v) => Ok(v.as_deref().map(Cow::Borrowed)),
            Vectors::Array(a) => row_of(a, i),
        }
    }
}

fn row_of(a: &ArrayRef, i: usize) -> Result<Option<Cow<'_, [f32]>>> {
    if a.is_null(i) {
        return Ok(None);
    }
    let (child, lo, hi) = match a.data_type() {
        DataType::FixedSizeList(_, _) => {
            let l = a.as_fixed_size_list();
            let d = l.value_length() as usize;
            let lo = l.value_offset(i) as usize;
            (l.values(), lo, lo + d)
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            (l.values(), o[i] as usize, o[i + 1] as usize)
        }
        DataType::Null => return Ok(None),
        other => return exec_err!("not an embedding column: {other}"),
    };
    let Some(floats) = child.as_primitive_opt::<Float32Type>() else {
        return exec_err!("embedding elements are {}, not Float32", child.data_type());
    };
    if floats.null_count() > 0 && (lo..hi).any(|j| floats.is_null(j)) {
        return Ok(None);
    }
    // A zero-copy view of the row's values in the child array.
    Ok(Some(Cow::Borrowed(&floats.values()[lo..hi])))
}

/// A constant result when every argument is constant, else the array.
pub fn result(args: &[ColumnarValue], array: ArrayRef) -> Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}
