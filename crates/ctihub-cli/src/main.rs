//! `ctihub`: run the server and administer its data. See `ctihub --help` and
//! docs/configuration.md.

mod cli;
mod commands;
mod config;
mod logging;
mod runtime;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// mimalloc rather than the C library's allocator: a PBX event allocates and frees a few
/// hundred small blocks across threads (request parsing on one, recording on the writer, the
/// answer back on another), and glibc's malloc and free were a sixth of the server's time under
/// ingest (docs/benchmarks.md). Without transparent huge pages (`no_thp`): with them, memory
/// with 10,000 consoles grew from 265 to 402 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    // A health probe with an explicit URL needs no settings, so a broken config (or a noisy
    // environment) cannot make it fail or spam a container log every few seconds.
    if let Command::Healthcheck(args) = &command
        && let Some(url) = &args.url
    {
        return runtime::one_shot()?.block_on(commands::healthcheck::run(url));
    }

    let (file, overrides) = command.config_args();
    let loaded = config::load_from_process(file, overrides)?;
    logging::init(loaded.settings.log_format);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    // The server's runtime is sized by its settings, so it is built after loading them.
    let runtime = match command {
        Command::Serve(_) => runtime::server(&loaded.settings)?,
        _ => runtime::one_shot()?,
    };
    runtime.block_on(commands::run(command, loaded.settings))
}
