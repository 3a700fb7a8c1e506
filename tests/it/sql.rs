//! SQL: the sqllogictest files under `tests/sql/` (DataFusion's own test convention) run on a
//! real DataFusion session with `register_all`, over a real gallery and faces table.

use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::Path;
use std::sync::Arc;

use crate::common::{arg, run_ok, vectors, write_faces_table};

/// A DataFusion session with the ff_* functions, as a sqllogictest database.
struct Session {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
}

impl Session {
    fn new() -> Self {
        let ctx = faceflash_batch::sql::new_session();
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

/// Runs `sql` with `query` into `out`.
fn sql_to(query: &str, out: &Path) {
    run_ok(&["sql", query, "-o", arg(out)]);
}

#[test]
fn job_functions_equal_the_cli_jobs() {
    use crate::common::{columns, read_table};
    let dir = tempfile::tempdir().unwrap();
    let (faces, gallery) = fixture(dir.path());
    let (g, f) = (arg(&gallery), arg(&faces));
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["identify", "--gallery", g, "--queries", f, "-k", "3"],
            format!("SELECT * FROM ff_identify('{g}', '{f}', 3)"),
        ),
        (
            vec!["dedup", "--gallery", g, "--threshold", "0.4"],
            format!("SELECT * FROM ff_dedup('{g}', 0.4)"),
        ),
        (
            vec![
                "watchlist",
                "--watchlist",
                g,
                "--stream",
                f,
                "--threshold",
                "0.6",
            ],
            format!("SELECT * FROM ff_watchlist('{g}', '{f}', 0.6)"),
        ),
    ];
    for (i, (cli, query)) in cases.into_iter().enumerate() {
        let a = dir.path().join(format!("cli-{i}.parquet"));
        let b = dir.path().join(format!("sql-{i}.parquet"));
        let mut args = cli.clone();
        args.extend(["-o", arg(&a)]);
        run_ok(&args);
        sql_to(&query, &b);
        let (x, y) = (read_table(&a).0, read_table(&b).0);
        assert!(x.num_rows() > 0, "{query}: empty");
        assert_eq!(columns(&x), columns(&y), "{query} vs {cli:?}");
    }
    // Clusters: the CLI writes them beside the pairs.
    let pairs = dir.path().join("p.parquet");
    let clusters = dir.path().join("c.parquet");
    run_ok(&[
        "dedup",
        "--gallery",
        g,
        "--threshold",
        "0.4",
        "-o",
        arg(&pairs),
        "--clusters",
        arg(&clusters),
        "--min-faces",
        "2",
    ]);
    let b = dir.path().join("sql-clusters.parquet");
    sql_to(&format!("SELECT * FROM ff_clusters('{g}', 0.4, 2)"), &b);
    assert_eq!(
        columns(&read_table(&clusters).0),
        columns(&read_table(&b).0)
    );
    // EXPLAIN shows the job node and runs nothing (a missing queries file is only found when
    // the job runs).
    let out = crate::common::bin()
        .args([
            "sql",
            &format!("EXPLAIN SELECT query_id FROM ff_identify('{g}', '/nonexistent.parquet', 3)"),
        ])
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FaceflashJobExec: Identify"), "{text}");
}

#[test]
fn pipeline_sql_files_run_on_job_outputs() {
    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    let dir = tempfile::tempdir().unwrap();
    let (faces, gallery) = fixture(dir.path());
    let (g, f) = (arg(&gallery), arg(&faces));
    // The user's own tables: photo metadata and people.
    let photos = dir.path().join("photos.parquet");
    let day = 86_400_000_000i64;
    crate::common::write_parquet(
        &photos,
        vec![
            (
                "face_id",
                Arc::new(StringArray::from_iter_values(
                    (0..150).map(|i| format!("f{i:03}")),
                )) as ArrayRef,
            ),
            (
                "path",
                Arc::new(StringArray::from_iter_values(
                    (0..150).map(|i| format!("/photos/{i:03}.jpg")),
                )),
            ),
            (
                "taken_at",
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    (0..150).map(|i| 1_700_000_000_000_000 + (i % 4) * day),
                )),
            ),
        ],
        100,
    );
    let people = dir.path().join("people.parquet");
    crate::common::write_parquet(
        &people,
        vec![
            (
                "identity",
                Arc::new(StringArray::from_iter_values(
                    (0..50).map(|i| format!("p{i}")),
                )) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from_iter_values(
                    (0..50).map(|i| format!("Person {i}")),
                )),
            ),
            (
                "department",
                Arc::new(StringArray::from_iter_values((0..50).map(|i| {
                    if i % 2 == 0 {
                        "R&D"
                    } else {
                        "Sales"
                    }
                }))),
            ),
        ],
        100,
    );
    let out = |n: &str| dir.path().join(n);
    run_ok(&[
        "identify",
        "--gallery",
        g,
        "--queries",
        f,
        "-o",
        arg(&out("matches.parquet")),
    ]);
    run_ok(&[
        "dedup",
        "--gallery",
        g,
        "--threshold",
        "0.5",
        "-o",
        arg(&out("pairs.parquet")),
        "--clusters",
        arg(&out("clusters.parquet")),
    ]);
    run_ok(&[
        "watchlist",
        "--watchlist",
        g,
        "--stream",
        f,
        "--threshold",
        "0.5",
        "-o",
        arg(&out("hits.parquet")),
    ]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let tables = |names: &[(&str, &Path)]| -> Vec<String> {
        names
            .iter()
            .flat_map(|(n, p)| ["--table".to_string(), format!("{n}={}", p.display())])
            .collect()
    };
    let runs: Vec<(&str, Vec<String>, usize)> = vec![
        (
            "top-matches-with-people.sql",
            tables(&[("matches", &out("matches.parquet")), ("people", &people)]),
            450,
        ),
        (
            "clusters-with-samples.sql",
            [
                tables(&[("clusters", &out("clusters.parquet")), ("photos", &photos)]),
                vec!["--gallery".into(), format!("gallery={g}")],
            ]
            .concat(),
            1,
        ),
        (
            "watchlist-hits-per-day.sql",
            tables(&[("hits", &out("hits.parquet")), ("photos", &photos)]),
            1,
        ),
    ];
    for (file, args, min_rows) in runs {
        let csv = dir.path().join(format!("{file}.csv"));
        let o = crate::common::bin()
            .arg("sql")
            .arg("-f")
            .arg(root.join(file))
            .args(&args)
            .arg("-o")
            .arg(&csv)
            .output()
            .unwrap();
        crate::common::assert_ok(&o);
        let text = std::fs::read_to_string(&csv).unwrap();
        let rows = text.lines().count() - 1;
        assert!(rows >= min_rows, "{file}: {rows} rows\n{text}");
    }
}

#[test]
fn similarity_joins_are_rewritten_and_equal_the_nested_loop() {
    let dir = tempfile::tempdir().unwrap();
    let (faces, gallery) = fixture(dir.path());
    let f = format!("f={}", faces.display());
    let g = format!("g={}", gallery.display());
    let queries = [
        "SELECT a.face_id AS x, b.face_id AS y, ff_cosine(a.embedding, b.embedding) AS c \
         FROM f a JOIN f b ON ff_cosine(a.embedding, b.embedding) >= 0.4 ORDER BY x, y",
        "SELECT a.face_id AS x, b.face_id AS y FROM f a JOIN f b \
         ON 0.7 < ff_cosine(b.embedding, a.embedding) ORDER BY x, y",
        "SELECT a.face_id AS x, b.identity AS y, ff_hamming(a.code, b.code) AS h \
         FROM g a JOIN g b ON ff_hamming(a.code, b.code) <= 40 ORDER BY x, y, h",
        "SELECT count(*) FROM g a JOIN g b ON ff_hamming(a.code, b.code) < 30",
    ];
    for (i, q) in queries.iter().enumerate() {
        let mut outputs = Vec::new();
        for rewrite in [true, false] {
            let out = dir.path().join(format!("q{i}-{rewrite}.csv"));
            let mut args = vec!["sql", "--table", &f, "--gallery", &g, q, "-o", arg(&out)];
            if !rewrite {
                args.push("--no-join-rewrite");
            }
            run_ok(&args);
            outputs.push(std::fs::read_to_string(&out).unwrap());
        }
        assert!(outputs[0].lines().count() >= 2, "{q}: {}", outputs[0]);
        assert_eq!(outputs[0], outputs[1], "{q}: rewrite vs nested loop");
        // EXPLAIN shows which plan ran.
        let explain = |extra: &[&str]| {
            let o = crate::common::bin()
                .args(["sql", "--table", &f, "--gallery", &g])
                .args(extra)
                .arg(format!("EXPLAIN {q}"))
                .output()
                .unwrap();
            crate::common::assert_ok(&o);
            String::from_utf8_lossy(&o.stdout).to_string()
        };
        let fast = explain(&[]);
        assert!(fast.contains("FaceflashSimilarityJoinExec"), "{fast}");
        assert!(!fast.contains("NestedLoopJoinExec"), "{fast}");
        let slow = explain(&["--no-join-rewrite"]);
        assert!(slow.contains("NestedLoopJoinExec"), "{slow}");
    }
}

#[test]
fn plans_with_our_nodes_round_trip_through_the_codec() {
    use datafusion::physical_plan::{collect, displayable};
    use datafusion_proto::bytes::{
        physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
    };
    use faceflash_batch::sql::FaceflashCodec;
    let dir = tempfile::tempdir().unwrap();
    let (faces, gallery) = fixture(dir.path());
    let session = Session::new();
    let ctx = session.ctx.clone();
    let f = faces.display().to_string();
    let g = gallery.display().to_string();
    let queries = [
        (
            "SELECT a.face_id AS x, b.face_id AS y FROM f a JOIN f b \
             ON ff_cosine(a.embedding, b.embedding) >= 0.4 ORDER BY x, y"
                .to_string(),
            "FaceflashSimilarityJoinExec",
        ),
        (
            format!(
                "SELECT face_id_a, cosine FROM ff_dedup('{g}', 0.4) ORDER BY face_id_a, cosine"
            ),
            "FaceflashJobExec",
        ),
        (
            // A job reading a session table carries the table's scan as its child.
            format!(
                "SELECT query_id, rank, face_id FROM ff_identify('{g}', 'f', 2) ORDER BY query_id, rank"
            ),
            "DataSourceExec",
        ),
    ];
    session.runtime.block_on(async move {
        ctx.register_parquet("f", &f, Default::default())
            .await
            .unwrap();
        for (q, node) in queries {
            let plan = ctx
                .sql(&q)
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap();
            let bytes = physical_plan_to_bytes_with_extension_codec(plan.clone(), &FaceflashCodec)
                .expect("encodes");
            let back = physical_plan_from_bytes_with_extension_codec(
                &bytes,
                &ctx.task_ctx(),
                &FaceflashCodec,
            )
            .expect("decodes");
            let text = displayable(back.as_ref()).indent(false).to_string();
            assert!(text.contains(node), "{q}: {text}");
            let a = collect(plan, ctx.task_ctx()).await.unwrap();
            let b = collect(back, ctx.task_ctx()).await.unwrap();
            let show = |x: &[arrow::array::RecordBatch]| {
                arrow::util::pretty::pretty_format_batches(x)
                    .unwrap()
                    .to_string()
            };
            assert!(
                a.iter().map(|b| b.num_rows()).sum::<usize>() > 0,
                "{q}: no rows"
            );
            assert_eq!(show(&a), show(&b), "{q}: decoded plan gives other rows");
        }
    });
}
