//! `faceflash-batch sql`: DataFusion SQL over Parquet tables and galleries, with the `ff_*`
//! functions registered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::prelude::ParquetReadOptions;
use datafusion::sql::parser::DFParser;
use faceflash_batch::store::AtomicOutput;

use super::{Output, UsageError};
use crate::cli::{SqlArgs, SqlFormat};

pub fn run(args: &SqlArgs, out: &Output) -> Result<()> {
    let text = match (&args.query, &args.file) {
        (Some(q), None) => q.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        _ => return Err(UsageError("give a query or -f FILE".into()).into()),
    };
    let tables = named_paths("--table", &args.table)?;
    let galleries = named_paths("--gallery", &args.gallery)?;
    if let Some(o) = &args.output {
        output_kind(o)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(rayon::current_num_threads())
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ctx = if args.no_join_rewrite {
            let ctx = datafusion::prelude::SessionContext::new();
            faceflash_batch::sql::register_all(&ctx);
            ctx
        } else {
            faceflash_batch::sql::new_session()
        };
        for (name, path) in &tables {
            ctx.register_parquet(
                name,
                path.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await
            .map_err(|e| UsageError(format!("--table {name}={}: {e}", path.display())))?;
        }
        for (name, dir) in &galleries {
            let table = faceflash_batch::sql::gallery_table(dir)?;
            ctx.register_table(name.as_str(), Arc::new(table))?;
        }
        let statements = DFParser::parse_sql(&text).map_err(|e| UsageError(e.to_string()))?;
        if statements.is_empty() {
            return Err(UsageError("no SQL statement given".into()).into());
        }
        let last = statements.len() - 1;
        for (i, statement) in statements.into_iter().enumerate() {
            let plan = ctx
                .state()
                .statement_to_plan(statement)
                .await
                .map_err(|e| UsageError(e.to_string()))?;
            let df = ctx.execute_logical_plan(plan).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            if i == last {
                if let Some(path) = &args.output {
                    let rows = write_file(path, &schema, &batches)?;
                    out.say(format!("wrote {}: {rows} rows", path.display()));
                    continue;
                }
            }
            if !out.quiet {
                print(&batches, &schema, args.format)?;
            }
        }
        Ok(())
    })
}

/// `name=path` pairs of a repeatable option.
fn named_paths(option: &str, values: &[String]) -> Result<Vec<(String, PathBuf)>> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n.to_string(), PathBuf::from(p))),
            _ => Err(UsageError(format!("{option} {v}: expected NAME=PATH")).into()),
        })
        .collect()
}

#[derive(Clone, Copy)]
enum FileKind {
    Parquet,
    Csv,
    Json,
}

fn output_kind(path: &Path) -> Result<FileKind> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("parquet") => Ok(FileKind::Parquet),
        Some("csv") => Ok(FileKind::Csv),
        Some("json") | Some("jsonl") | Some("ndjson") => Ok(FileKind::Json),
        _ => Err(UsageError(format!(
            "-o {}: the file name must end in .parquet, .csv or .json",
            path.display()
        ))
        .into()),
    }
}

/// Writes `batches` to `path` atomically in the format its extension names.
fn write_file(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<usize> {
    let out = AtomicOutput::create(path)?;
    let file = out.file()?;
    match output_kind(path)? {
        FileKind::Parquet => {
            let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
        }
        FileKind::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(file);
            for b in batches {
                w.write(b)?;
            }
        }
        FileKind::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(file);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    out.commit()?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

fn print(batches: &[RecordBatch], schema: &SchemaRef, format: SqlFormat) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match format {
        SqlFormat::Table => {
            let table =
                arrow::util::pretty::pretty_format_batches_with_schema(schema.clone(), batches)?;
            writeln!(lock, "{table}")?;
        }
        SqlFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut lock);
            for b in batches {
                w.write(b)?;
            }
        }
        SqlFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut lock);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    Ok(())
}
