//! Subcommands that this build does not provide yet.

/// The subcommand exists in the CLI contract but is not implemented in this build.
#[derive(Debug, thiserror::Error)]
#[error("the `{0}` subcommand is not yet available in faceflash-batch {version}", version = faceflash_batch::TOOL_VERSION)]
pub struct NotAvailable(pub &'static str);

/// Fails with [`NotAvailable`] (unused when every feature is built in).
#[cfg_attr(all(feature = "sql", feature = "vision"), allow(dead_code))]
pub fn run(name: &'static str) -> anyhow::Result<()> {
    Err(NotAvailable(name).into())
}
