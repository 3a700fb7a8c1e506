//! One module per subcommand: glue between the CLI and the library, no algorithms.

mod bench;
mod bench_ann;
mod dedup;
mod demo;
mod dry_run;
#[cfg(feature = "vision")]
mod embed;
mod fit;
mod gallery;
mod identify;
mod index;
mod inspect;
#[cfg(feature = "sql")]
mod sql;
mod synth;
mod unavailable;
mod watchlist;

use faceflash_batch::bench::stats::TableSummary;

use crate::cli::Command;

/// How a command reports to the user.
pub struct Output {
    /// No summaries on stdout.
    pub quiet: bool,
    /// Logs are JSON lines.
    pub json: bool,
}

impl Output {
    /// Prints a summary line on stdout unless quiet.
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", line.as_ref());
        }
    }
}

/// A usage error found after parsing (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Checks a `--threshold` cosine (a finite number in -1..1).
pub fn check_threshold(t: f32) -> Result<(), UsageError> {
    faceflash_batch::jobs::check_threshold(t).map_err(|e| UsageError(e.to_string()))
}

/// Runs one subcommand.
pub fn run(command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Synth(args) => synth::run(&args, out),
        Command::Demo(args) => demo::run(&args, out),
        Command::Inspect(args) => inspect::run(&args, out),
        #[cfg(feature = "vision")]
        Command::Embed(args) => embed::run(&args, out),
        #[cfg(not(feature = "vision"))]
        Command::Embed(_) => unavailable::run("embed"),
        Command::Fit(args) => fit::run(&args, out),
        Command::Index(args) => index::run(&args, out),
        Command::Identify(args) => identify::run(&args, out),
        Command::Dedup(args) => dedup::run(&args, out),
        Command::Watchlist(args) => watchlist::run(&args, out),
        #[cfg(feature = "sql")]
        Command::Sql(args) => sql::run(&args, out),
        #[cfg(not(feature = "sql"))]
        Command::Sql(_) => unavailable::run("sql"),
        Command::Gallery(args) => gallery::run(&args, out),
        Command::Bench(args) => bench::run(&args, out),
    }
}

/// Exit code for an error: 3 for bad input data, 2 for usage errors, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(faceflash_batch::error::is_bad_input) {
        3
    } else if err.chain().any(|e| {
        e.downcast_ref::<UsageError>().is_some()
            || e.downcast_ref::<unavailable::NotAvailable>().is_some()
            || matches!(
                e.downcast_ref::<faceflash_batch::jobs::JobError>(),
                Some(faceflash_batch::jobs::JobError::Params(_))
            )
    }) {
        2
    } else {
        1
    }
}

/// Human-readable lines describing a faces table.
pub fn describe_summary(s: &TableSummary) -> String {
    let g = &s.similarity.genuine;
    let i = &s.similarity.impostor;
    format!(
        "{} rows in {} file(s), {}-d, {} with identity\n\
         same-identity cosine  mean {:.3}  sd {:.3}  5%..95% {:.3}..{:.3}  ({} pairs)\n\
         impostor cosine       mean {:.3}  sd {:.3}  5%..95% {:.3}..{:.3}  ({} pairs)",
        s.rows,
        s.files,
        s.dim,
        s.labelled_rows,
        g.mean,
        g.sd,
        g.p05,
        g.p95,
        g.pairs,
        i.mean,
        i.sd,
        i.p05,
        i.p95,
        i.pairs
    )
}
