//! `ctihub-bench`: ctihub's load and latency harness. It seeds a store, starts the real
//! `ctihub serve` binary (or an app in-process, for `dip` and `reports`) on 127.0.0.1 only, and
//! measures over HTTP as PBXs, IVRs and agent consoles use it. Every run is bounded in requests,
//! connections and time. Not part of timed CI (a `--smoke` run is); the figures go into
//! `docs/benchmarks.md`. Build in release:
//!
//! ```sh
//! cargo build --release -p ctihub-bench -p ctihub-cli
//! target/release/ctihub-bench all                  # everything, SQLite and PostgreSQL
//! target/release/ctihub-bench ingest --target http://127.0.0.1:8080 --cti-token TOKEN
//! target/release/ctihub-bench cluster              # 1–3 nodes on PostgreSQL vs one on SQLite
//! target/release/ctihub-bench soak --duration 30m  # mixed traffic: no errors, flat memory
//! target/release/ctihub-bench dip                  # 1,000,000 users, in-process
//! target/release/ctihub-bench reports              # a year of 100,000 calls
//! ```
//!
//! This file only dispatches; each measurement lives in its own module.

mod all;
mod ceiling;
mod cluster;
mod consoles;
mod database;
mod dip;
mod gets;
mod ingest;
mod pbx_http;
mod report;
mod reports;
mod seed;
mod server;
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
    /// Every measurement on SQLite and PostgreSQL: a table, and JSON in --out-dir.
    All(all::AllArgs),
    /// PBX ingest against servers that are already running (round-robin over --target).
    Ingest(ingest::IngestArgs),
    /// The IVR data dip (`GET /api/hub/dip`) against a store of many users.
    Dip(dip::DipArgs),
    /// The report figures and the CSV export over a year of calls, with peak memory.
    Reports(reports::ReportsArgs),
    /// PBX ingest through 1, 2 and 3 nodes on one PostgreSQL, next to one SQLite node.
    Cluster(cluster::ClusterArgs),
    /// The `ctihub` binary under mixed traffic for a long time: no errors, flat memory.
    Soak(soak::SoakArgs),
    /// The ceiling's bare handler (`{}` to everything); `all` starts it as its own process.
    #[command(hide = true)]
    BareServer,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::All(args) => runtime.block_on(all::run(args)),
        Command::Ingest(args) => runtime.block_on(ingest::run_against_targets(args)),
        Command::Dip(args) => runtime.block_on(dip::run(args)),
        Command::Reports(args) => runtime.block_on(reports::run(args)),
        Command::Cluster(args) => runtime.block_on(cluster::run(args)),
        Command::Soak(args) => runtime.block_on(soak::run(args)),
        Command::BareServer => runtime.block_on(ceiling::serve()),
    }
}

/// Traffic stays on this machine: refuse any target that is not a loopback address.
fn loopback_only(url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if !loopback || parsed.scheme() != "http" {
        anyhow::bail!("{url}: only http:// targets on 127.0.0.0/8, [::1] or localhost are allowed");
    }
    Ok(())
}

/// A short id unique to this moment, so call ids of different runs never collide.
fn run_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:x}x{}", nanos % (1 << 48), SEQ.fetch_add(1, Ordering::Relaxed))
}
