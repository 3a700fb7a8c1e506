//! A gallery as a SQL table: every live face with its metadata columns (`face_id, identity,
//! path, …` as indexed) and its binary `code` (`FixedSizeBinary(bits / 8)`), through the
//! table function `ff_gallery('dir')` or `sql --gallery name=dir`.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeBinaryBuilder, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;

use crate::store::gallery::{read_meta_batches, read_meta_schema};
use crate::store::Gallery;

/// The table of the live faces of the gallery at `dir`.
pub fn gallery_table(dir: &Path) -> Result<MemTable> {
    let gallery = Gallery::open(dir).map_err(external)?;
    let code_bytes = gallery.bits() / 8;
    let words = gallery.bits() / 64;
    let mut schema: Option<SchemaRef> = None;
    let mut batches = Vec::new();
    for shard in gallery.shards() {
        let meta_schema = read_meta_schema(&shard.meta_path).map_err(external)?;
        let mut fields: Vec<Field> = meta_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(
            "code",
            DataType::FixedSizeBinary(code_bytes as i32),
            false,
        ));
        let with_code: SchemaRef = Arc::new(Schema::new(fields));
        let schema = schema.get_or_insert_with(|| with_code.clone()).clone();
        let mut row0 = 0;
        let mut code = vec![0u64; words];
        let mut bytes = vec![0u8; code_bytes];
        read_meta_batches(&shard.meta_path, None, |batch| {
            let n = batch.num_rows();
            let keep: Vec<bool> = (row0..row0 + n).map(|r| shard.is_live(r)).collect();
            let mut codes = FixedSizeBinaryBuilder::with_capacity(n, code_bytes as i32);
            for r in row0..row0 + n {
                shard.codes.code(r, &mut code);
                for (w, chunk) in code.iter().zip(bytes.chunks_exact_mut(8)) {
                    chunk.copy_from_slice(&w.to_le_bytes());
                }
                codes
                    .append_value(&bytes)
                    .expect("code of the gallery's width");
            }
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            columns.push(Arc::new(codes.finish()));
            let full = RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
                crate::store::GalleryError::corrupt(&shard.meta_path, e.to_string())
            })?;
            let live = crate::store::gallery::filter_meta_rows(&full, &keep, &shard.meta_path)?;
            batches.push(live);
            row0 += n;
            Ok(())
        })
        .map_err(external)?;
    }
    let schema = schema.unwrap_or_else(|| {
        Arc::new(Schema::new(vec![
            Field::new("face_id", DataType::Utf8, false),
            Field::new("identity", DataType::Utf8, true),
            Field::new("code", DataType::FixedSizeBinary(code_bytes as i32), false),
        ]))
    });
    MemTable::try_new(schema, vec![batches])
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The string literal argument `i` of a table function.
pub fn string_arg(func: &str, exprs: &[Expr], i: usize, what: &str) -> Result<String> {
    match exprs.get(i) {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::Utf8View(Some(s)), _)) => Ok(s.clone()),
        _ => plan_err!(
            "{func}: argument {} must be a string literal: {what}",
            i + 1
        ),
    }
}

/// `ff_gallery('dir')`.
#[derive(Debug, Default)]
pub struct FfGallery;

impl TableFunctionImpl for FfGallery {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 1 {
            return plan_err!("ff_gallery takes one argument, the gallery directory");
        }
        let dir = string_arg("ff_gallery", exprs, 0, "the gallery directory")?;
        Ok(Arc::new(gallery_table(Path::new(&dir))?))
    }
}
