//! The `faceflash-batch` binary: parse the command line, set up logging and threads, run one
//! command, map its error to an exit code (0 ok, 1 runtime, 2 usage, 3 bad input data).

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.log_format == LogFormat::Json;
    init_logging(json, cli.quiet);
    faceflash_batch::progress::configure(cli.quiet, json);
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("error: --threads must be at least 1");
            return ExitCode::from(2);
        }
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("error: cannot start {n} worker threads: {e}");
            return ExitCode::from(1);
        }
    }
    let out = commands::Output {
        quiet: cli.quiet,
        json,
    };
    match commands::run(cli.command, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = commands::exit_code(&err);
            let mut message = error_message(&err);
            if disk_full(&err, &message) {
                message.push_str(
                    " — the disk is full: this run committed nothing and removed its partial \
                     files (earlier outputs are untouched); free space and rerun",
                );
            }
            if json {
                tracing::error!(event = "error", exit_code = code, "{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(code)
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text the message
/// already holds (many errors print their source themselves).
fn error_message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Whether the error is a full disk or quota (ENOSPC/EDQUOT), also when a writer kept only
/// its text (Parquet wraps I/O errors as strings).
fn disk_full(err: &anyhow::Error, message: &str) -> bool {
    use std::io::ErrorKind;
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(io.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
        })
    }) || message.contains("No space left on device")
        || message.contains("Disk quota exceeded")
}

fn init_logging(json: bool, quiet: bool) {
    use tracing_subscriber::filter::LevelFilter;
    let level = if quiet {
        LevelFilter::ERROR
    } else if std::env::var_os("FACEFLASH_DEBUG").is_some() {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.without_time().compact().init();
    }
}
