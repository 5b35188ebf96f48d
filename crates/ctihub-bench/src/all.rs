//! `ctihub-bench all`: every measurement, on SQLite and on PostgreSQL, in one bounded run.
//! For each backend: the idle server's resident size on an empty database; the seeded store
//! (directory, agents); caller identification and the data dip; PBX ingest and, in the same
//! run, the bare-handler ceiling; the 300-row journal page; screen pops with consoles
//! connected; and resident sizes along the way. The server under test is always the built
//! `ctihub serve` binary in its own process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::consoles::{self, Consoles};
use crate::database::{Backend, Databases, LocalPostgres};
use crate::dip::{self, Endpoint, Workload};
use crate::gets::{self, Auth, GetResult};
use crate::ingest::{self, IngestResult, Plan};
use crate::seed::{self, JOURNAL_ROWS};
use crate::server::{Memory, ServerProcess};
use crate::stats::Figures;
use crate::{report, run_id};

#[derive(clap::Args, Clone)]
pub struct AllArgs {
    /// Keep the seeded databases here (an SQLite file and a PostgreSQL cluster) and reuse them.
    #[arg(long, default_value = "target/bench/data")]
    data_dir: PathBuf,
    /// Where results.json and the servers' logs go.
    #[arg(long, default_value = "target/bench")]
    out_dir: PathBuf,
    /// A tiny configuration for CI: a few hundred users and requests, seconds in all.
    #[arg(long)]
    smoke: bool,
    /// Directory users (default 1,000,000; 2,000 with --smoke).
    #[arg(long)]
    users: Option<usize>,
    /// Agents, each with a console token (default 1,000; 20 with --smoke).
    #[arg(long)]
    agents: Option<usize>,
    /// Consoles connected during the pop measurement (default: one per agent).
    #[arg(long)]
    consoles: Option<usize>,
    /// Consoles connected for the memory reading (default 10,000; 50 with --smoke).
    #[arg(long)]
    memory_consoles: Option<usize>,
    /// PBX clients posting at once.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of each ingest phase, seconds (default 20; 1 with --smoke).
    #[arg(long)]
    ingest_seconds: Option<u64>,
    /// Identification and dip requests (default 20,000; 200 with --smoke).
    #[arg(long)]
    requests: Option<usize>,
    /// Run PostgreSQL on this server (databases `ctihub_bench` and `ctihub_bench_empty` are
    /// created there) instead of a private cluster in --data-dir.
    #[arg(long, env = "CTIHUB_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// SQLite only.
    #[arg(long)]
    no_postgres: bool,
    /// The ctihub binary to serve with (default: `ctihub` next to this binary).
    #[arg(long)]
    ctihub: Option<PathBuf>,
}

/// The sizes a run uses, after --smoke and the explicit flags.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sizes {
    pub users: usize,
    pub tickets: usize,
    pub agents: usize,
    pub consoles: usize,
    pub memory_consoles: usize,
    pub clients: usize,
    pub ingest_seconds: u64,
    pub requests: usize,
    pub warmup: usize,
    pub journal_requests: usize,
}

impl Sizes {
    fn of(args: &AllArgs) -> Sizes {
        let smoke = args.smoke;
        let users = args.users.unwrap_or(if smoke { 2_000 } else { 1_000_000 });
        let agents = args.agents.unwrap_or(if smoke { 20 } else { 1_000 });
        Sizes {
            users,
            tickets: (users / 100).max(1),
            agents,
            consoles: args.consoles.unwrap_or(agents),
            memory_consoles: args.memory_consoles.unwrap_or(if smoke { 50 } else { 10_000 }),
            clients: args.clients.clamp(1, 1024),
            ingest_seconds: args.ingest_seconds.unwrap_or(if smoke { 1 } else { 20 }).clamp(1, 600),
            requests: args.requests.unwrap_or(if smoke { 200 } else { 20_000 }),
            warmup: if smoke { 20 } else { 1_000 },
            journal_requests: if smoke { 10 } else { 200 },
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BackendResult {
    pub backend: Backend,
    pub identify: GetResult,
    pub dip: GetResult,
    pub ingest: IngestResult,
    /// Call events the database holds for the measured ingest's calls: equal to the events
    /// acknowledged, or the run fails.
    pub ingest_events_stored: u64,
    pub ceiling: IngestResult,
    /// ctihub's calls per second over the bare handler's, same client, same run.
    pub ingest_fraction_of_ceiling: f64,
    pub pop: PopResult,
    pub journal: GetResult,
    pub memory: MemoryResult,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PopResult {
    pub consoles: usize,
    /// Pops that had not reached their console 10 s after the answer was sent.
    pub missed: usize,
    /// `lagged` notices the consoles got (events the server dropped for a slow console).
    pub lagged: usize,
    pub latency: Figures,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MemoryResult {
    /// Started on an empty database, nothing asked.
    pub idle: Memory,
    /// On the seeded database after identification and dips over every user.
    pub with_users: Memory,
    /// After the ingest and journal runs.
    pub after_ingest: Memory,
    pub consoles: usize,
    /// With `consoles` event streams open.
    pub with_consoles: Memory,
}

pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    let sizes = Sizes::of(&args);
    let limit = crate::server::raise_open_files_limit();
    let needed = sizes.memory_consoles.max(sizes.consoles) as u64 + 1_000;
    if limit < needed {
        bail!("{} consoles need an open-files limit of {needed}; it is {limit} (ulimit -Hn)", sizes.memory_consoles);
    }
    let binary = crate::server::ctihub_binary(args.ctihub.clone())?;
    std::fs::create_dir_all(&args.data_dir)?;
    std::fs::create_dir_all(&args.out_dir)?;
    let name = if args.smoke { "smoke" } else { "bench" };

    let mut results = Vec::new();
    let sqlite = Databases::sqlite(&args.data_dir, &format!("{name}-u{}", sizes.users))?;
    results.push(run_backend(&sqlite, &sizes, &binary, &args).await?);
    if !args.no_postgres {
        let (local, server_url) = match &args.postgres_url {
            Some(url) => (None, url.clone()),
            None => {
                let cluster = LocalPostgres::start(&args.data_dir)?;
                let url = cluster.url.clone();
                (Some(cluster), url)
            }
        };
        crate::database::wait_for_postgres(&server_url).await?;
        let postgres = Databases::postgres(&server_url, &format!("ctihub_{name}_u{}", sizes.users)).await?;
        let result = run_backend(&postgres, &sizes, &binary, &args).await;
        drop(local);
        results.push(result?);
    }

    let report = report::Report::new(sizes, results);
    println!("\n{}", report.table());
    let path = args.out_dir.join(if args.smoke { "smoke-results.json" } else { "results.json" });
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("wrote {}", path.display());
    Ok(())
}

async fn run_backend(
    dbs: &Databases,
    sizes: &Sizes,
    binary: &std::path::Path,
    args: &AllArgs,
) -> anyhow::Result<BackendResult> {
    let backend = dbs.backend.name();
    let log = |what: &str| args.out_dir.join(format!("{backend}-{what}.log"));
    let client = reqwest::Client::new();
    println!("== {backend}");

    // Idle: a fresh server on an empty database, given a moment to settle.
    let idle = {
        let server = ServerProcess::ctihub(binary, &dbs.empty, &log("idle"))?;
        server.ready(&client).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.memory()?
    };
    println!("idle server: {:.1} MiB resident", idle.rss_mib());

    dbs.restore_seeded()?;
    let store = crate::database::open(&dbs.seeded, 4).await?;
    let world = seed::ensure(&store, sizes.users, sizes.tickets, sizes.agents, backend).await?;
    dbs.keep_seeded().await?;
    let cookie = seed::agent_cookie(&store, &world.agents).await?;
    let server = ServerProcess::ctihub(binary, &dbs.seeded, &log("serve"))?;
    server.ready(&client).await?;
    let base = server.base.clone();
    let users = world.directory.users;
    let ivr_token = world.directory.token.clone();

    // Caller identification alone, over every user in mixed formats.
    let identify = gets::measure(
        |n| {
            let random = dip::mix(n as u64 ^ 0x1d);
            let number = seed::caller_number(random as usize % users, random >> 40);
            format!(
                "{base}/api/hub/callers?number={}",
                url::form_urlencoded::byte_serialize(number.as_bytes()).collect::<String>()
            )
        },
        &Auth::Bearer(ivr_token.clone()),
        sizes.warmup,
        sizes.requests,
        Duration::from_secs(60),
        |body| if body.contains("\"matches\":[{") { Ok(()) } else { Err(format!("no match: {body}")) },
    )
    .await
    .context("caller identification")?;
    println!("identify: {:.0}/s, {}", identify.per_second, identify.latency.summary());

    let work = Arc::new(Workload {
        base: format!("{base}{}", Endpoint::Native.path()),
        seeded: world.directory,
        endpoint: Endpoint::Native,
    });
    let (dips, took) = dip::measure(&client, &work, sizes.warmup, sizes.requests, 1, Duration::from_secs(60)).await?;
    let dip = GetResult {
        requests: dips.len(),
        seconds: took.as_secs_f64(),
        per_second: dips.len() as f64 / took.as_secs_f64(),
        latency: dips.figures(),
        bytes: 0,
    };
    println!("dip: {:.0}/s, {}", dip.per_second, dip.latency.summary());
    let with_users = server.memory()?;
    println!("with {users} users: {:.1} MiB resident", with_users.rss_mib());

    // Ingest, then the ceiling with the same client and requests.
    let plan = Plan {
        targets: vec![base.clone()],
        cti_token: world.agents.cti_token.clone(),
        clients: sizes.clients,
        duration: Duration::from_secs(sizes.ingest_seconds),
        max_calls: 2_000_000,
        warmup_calls: sizes.clients * 4,
        users,
        agents: sizes.agents,
        run_id: run_id(),
    };
    let ingest = ingest::run(&plan).await?;
    println!("ingest: {}", ingest.line());
    if ingest.errors > 0 {
        bail!("{backend}: {} PBX events were not acknowledged", ingest.errors);
    }
    let stored = stored_events(&dbs.seeded, &plan.run_id).await?;
    if stored != ingest.events {
        bail!("{backend}: {} events acknowledged but {stored} stored", ingest.events);
    }
    let ceiling = {
        let bare = ServerProcess::bare(&log("bare"))?;
        ingest::run(&Plan { targets: vec![bare.base.clone()], run_id: run_id(), ..plan.clone() }).await?
    };
    println!("ceiling: {}", ceiling.line());

    let journal = gets::measure(
        |_| format!("{base}/console/journal"),
        &Auth::Cookie(cookie),
        20,
        sizes.journal_requests,
        Duration::from_secs(60),
        |body| match body.matches("<tr id=\"call-").count() as i64 {
            JOURNAL_ROWS => Ok(()),
            rows => Err(format!("the journal shows {rows} rows, not {JOURNAL_ROWS}")),
        },
    )
    .await
    .context("journal page")?;
    println!("journal ({JOURNAL_ROWS} rows, {} KiB): {}", journal.bytes / 1024, journal.latency.summary());
    let after_ingest = server.memory()?;

    // Screen pops with the consoles connected.
    let tokens: Vec<String> = world.agents.agents.iter().map(|a| a.token.clone()).collect();
    let names: Vec<String> = world.agents.agents.iter().map(|a| a.name.clone()).collect();
    let pop = {
        let mut open = Consoles::open(&base, &tokens, sizes.consoles, Duration::from_secs(120)).await?;
        let (latency, missed) =
            consoles::measure_pops(&base, &plan.cti_token, &mut open, &names, sizes.consoles, 4, &run_id()).await?;
        if open.any_closed() {
            bail!("{backend}: a console's stream ended during the pop measurement");
        }
        let lagged = open.lagged.load(std::sync::atomic::Ordering::Relaxed);
        PopResult { consoles: open.len(), missed, lagged, latency }
    };
    println!(
        "pop with {} consoles: {}; {} missed, {} lagged notices",
        pop.consoles,
        pop.latency.summary(),
        pop.missed,
        pop.lagged
    );

    let with_consoles = {
        let open = Consoles::open(&base, &tokens, sizes.memory_consoles, Duration::from_secs(180)).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let memory = server.memory()?;
        drop(open);
        memory
    };
    println!("with {} consoles: {:.1} MiB resident", sizes.memory_consoles, with_consoles.rss_mib());
    drop(server);
    store.close().await;

    Ok(BackendResult {
        backend: dbs.backend,
        identify,
        dip,
        ingest_fraction_of_ceiling: ingest.calls_per_second / ceiling.calls_per_second,
        ingest,
        ingest_events_stored: stored,
        ceiling,
        pop,
        journal,
        memory: MemoryResult { idle, with_users, after_ingest, consoles: sizes.memory_consoles, with_consoles },
    })
}

/// The call events stored for a run's calls (their ids start `bench-RUN-`), read back from the
/// database after the server acknowledged them.
async fn stored_events(url: &str, run_id: &str) -> anyhow::Result<u64> {
    const SQL: &str = "SELECT count(*) FROM call_events e JOIN call_refs r ON r.call_id = e.call_id \
                       WHERE r.source = 'zammad' AND r.external_id >= $1 AND r.external_id < $2";
    let (from, to) = (format!("bench-{run_id}-"), format!("bench-{run_id}."));
    let count: i64 = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await?;
        let n = sqlx::query_scalar(SQL).bind(&from).bind(&to).fetch_one(&pool).await?;
        pool.close().await;
        n
    } else {
        let pool = sqlx::SqlitePool::connect(url).await?;
        let n = sqlx::query_scalar(SQL).bind(&from).bind(&to).fetch_one(&pool).await?;
        pool.close().await;
        n
    };
    Ok(count as u64)
}
