//! `ctihub-bench`: seed a fresh store, run the real app in-process on 127.0.0.1, and measure
//! requests over HTTP keep-alive as an integration would make them. Not run in CI; the figures
//! go into `docs/benchmarks.md`. Build in release:
//!
//! ```sh
//! cargo run --release -p ctihub-bench -- dip                 # 1,000,000 users
//! cargo run --release -p ctihub-bench -- dip --users 100000 --requests 5000
//! cargo run --release -p ctihub-bench -- reports             # a year of 100,000 calls
//! ```

mod dip;
mod reports;
mod soak;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ctihub-bench", about = "ctihub load and latency harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The IVR data dip (`GET /api/hub/dip`) against a store of many users.
    Dip(dip::DipArgs),
    /// The report figures and the CSV export over a year of calls, with peak memory.
    Reports(reports::ReportsArgs),
    /// The `ctihub` binary under mixed traffic for a long time: no errors, flat memory.
    Soak(soak::SoakArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Dip(args) => runtime.block_on(dip::run(args)),
        Command::Reports(args) => runtime.block_on(reports::run(args)),
        Command::Soak(args) => runtime.block_on(soak::run(args)),
    }
}
