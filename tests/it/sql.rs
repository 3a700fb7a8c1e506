//! SQL: the sqllogictest files under `tests/sql/` (DataFusion's own test convention) run on a
//! real DataFusion session with `register_all`, over a real gallery and faces table.

use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::Path;

use crate::common::{arg, run_ok, vectors, write_faces_table};

/// A DataFusion session with the ff_* functions, as a sqllogictest database.
struct Session {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
}

impl Session {
    fn new() -> Self {
        let ctx = SessionContext::new();
        faceflash_batch::sql::register_all(&ctx);
        Self {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime"),
            ctx,
        }
    }
}

impl sqllogictest::DB for Session {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let ctx = self.ctx.clone();
        let batches = self
            .runtime
            .block_on(async move { ctx.sql(sql).await?.collect().await })?;
        let Some(first) = batches.first() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        let columns = first.num_columns();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for b in &batches {
            let formatters: Vec<ArrayFormatter> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<_, _>>()?;
            for i in 0..b.num_rows() {
                rows.push(formatters.iter().map(|f| f.value(i).to_string()).collect());
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows,
        })
    }

    fn engine_name(&self) -> &str {
        "datafusion+faceflash"
    }
}

/// A faces table of 150 faces (50 people × 3, 16-d) and a 128-bit gallery of it with one face
/// removed.
fn fixture(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let dim = 16;
    let centres = vectors(50, dim, 3);
    let noise = vectors(150, dim, 4);
    let flat: Vec<f32> = (0..150)
        .flat_map(|i| (0..dim).map(move |d| (i, d)))
        .map(|(i, d)| centres[i / 3][d] + 0.2 * noise[i][d])
        .collect();
    let faces = dir.join("faces.parquet");
    write_faces_table(
        &faces,
        (0..150).map(|i| format!("f{i:03}")),
        (0..150).map(|i| Some(format!("p{}", i / 3))),
        flat,
        dim,
        100,
    );
    let gallery = dir.join("gallery");
    run_ok(&["index", arg(&faces), "-o", arg(&gallery), "--bits", "128"]);
    run_ok(&["gallery", "remove", arg(&gallery), "--face-id", "f149"]);
    (faces, gallery)
}

#[test]
fn sqllogictest_files_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (faces, gallery) = fixture(dir.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", root.display());
    for file in files {
        let mut runner = sqllogictest::Runner::new(|| async { Ok(Session::new()) });
        runner.with_column_validator(sqllogictest::default_column_validator);
        runner.set_var("FACES".into(), faces.display().to_string());
        runner.set_var("GALLERY".into(), gallery.display().to_string());
        runner.set_var(
            "QUANTIZER".into(),
            gallery.join("quantizer.ffq").display().to_string(),
        );
        if let Err(e) = runner.run_file(&file) {
            panic!("{}: {e}", file.display());
        }
    }
}
