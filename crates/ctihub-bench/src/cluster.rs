//! `ctihub-bench cluster`: PBX ingest through one, two and three `ctihub serve` nodes on one
//! PostgreSQL database, next to one node on SQLite, with the same client in the same run. The
//! calls go round-robin over the nodes, as a load balancer would spread them.
//!
//! On one machine the nodes, PostgreSQL and the client share the same cores, so this shows what
//! the cluster costs and whether it holds up, not how it scales on separate machines.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::database::{Databases, LocalPostgres, open};
use crate::ingest::{self, IngestResult, Plan};
use crate::server::ServerProcess;

#[derive(Args)]
pub struct ClusterArgs {
    /// Where the SQLite file, the private PostgreSQL cluster and the logs go.
    #[arg(long, default_value = "target/bench/cluster")]
    data_dir: PathBuf,
    /// Use this PostgreSQL server instead of a private one (`postgres://…`; loopback only).
    #[arg(long)]
    postgres_url: Option<String>,
    /// The most nodes to try (1 up to this).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Directory users the callers are drawn from.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// PBX clients at once.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of each measured phase.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// The ctihub binary to serve with (default: `ctihub` next to this binary).
    #[arg(long)]
    ctihub: Option<PathBuf>,
    /// Also write the figures as JSON here.
    #[arg(long, default_value = "target/bench/cluster.json")]
    json: PathBuf,
}

#[derive(serde::Serialize)]
struct Row {
    setup: String,
    backend: &'static str,
    nodes: usize,
    #[serde(flatten)]
    ingest: IngestResult,
}

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let binary = crate::server::ctihub_binary(args.ctihub.clone())?;
    std::fs::create_dir_all(&args.data_dir)?;
    let nodes = args.nodes.clamp(1, 8);
    let mut rows = Vec::new();

    let sqlite = Databases::sqlite(&args.data_dir, &format!("cluster-u{}", args.users))?;
    rows.push(measure(&args, &binary, &sqlite.seeded, "sqlite", 1).await?);

    let (local, server_url) = match &args.postgres_url {
        Some(url) => {
            crate::loopback_only(&url.replacen("postgres://", "http://", 1))?;
            (None, url.clone())
        }
        None => {
            let cluster = LocalPostgres::start(&args.data_dir)?;
            let url = cluster.url.clone();
            (Some(cluster), url)
        }
    };
    crate::database::wait_for_postgres(&server_url).await?;
    let postgres = Databases::postgres(&server_url, &format!("ctihub_cluster_u{}", args.users)).await?;
    for n in 1..=nodes {
        rows.push(measure(&args, &binary, &postgres.seeded, "postgres", n).await?);
    }
    drop(local);

    println!("\n{}", table(&rows));
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&rows)?)?;
    println!("wrote {}", args.json.display());
    let failed: u64 = rows.iter().map(|r| r.ingest.errors).sum();
    anyhow::ensure!(failed == 0, "{failed} events were not acknowledged with 200");
    Ok(())
}

/// Seed `database` (once), start `nodes` nodes on it, and drive ingest over all of them.
async fn measure(
    args: &ClusterArgs,
    binary: &std::path::Path,
    database: &str,
    backend: &'static str,
    nodes: usize,
) -> anyhow::Result<Row> {
    let setup = format!("{backend}, {nodes} node{}", if nodes == 1 { "" } else { "s" });
    println!("== {setup}");
    let world = {
        let store = open(database, 4).await.with_context(|| format!("cannot open {setup}'s database"))?;
        let world = crate::seed::ensure(&store, args.users, 0, crate::seed::AGENTS_PER_QUEUE, &setup).await?;
        store.close().await;
        world
    };
    let mut servers = Vec::with_capacity(nodes);
    for n in 1..=nodes {
        let log = args.data_dir.join(format!("{backend}-{nodes}-node{n}.log"));
        servers.push(ServerProcess::ctihub(binary, database, &log)?);
    }
    let client = reqwest::Client::new();
    for server in &servers {
        server.ready(&client).await?;
    }
    let plan = Plan {
        targets: servers.iter().map(|s| s.base.clone()).collect(),
        cti_token: world.agents.cti_token.clone(),
        clients: args.clients.clamp(1, 4096),
        duration: Duration::from_secs(args.seconds.clamp(1, 600)),
        max_calls: 1_000_000,
        warmup_calls: 500,
        users: args.users,
        agents: world.agents.agents.len(),
        run_id: format!("cluster-{}-{nodes}-{}", backend, std::process::id()),
    };
    let ingest = ingest::run(&plan).await?;
    println!("{}", ingest.line());
    drop(servers);
    Ok(Row { setup, backend, nodes, ingest })
}

fn table(rows: &[Row]) -> String {
    let baseline = rows.first().map_or(1.0, |r| r.ingest.calls_per_second.max(f64::EPSILON));
    let mut out = String::from(
        "| setup | calls/s | events/s | vs. one SQLite node | p50 ms | p99 ms | max ms | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let l = &r.ingest.latency;
        out.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |\n",
            r.setup,
            r.ingest.calls_per_second,
            r.ingest.events_per_second,
            r.ingest.calls_per_second / baseline,
            l.p50_ms,
            l.p99_ms,
            l.max_ms,
            r.ingest.errors
        ));
    }
    out
}
