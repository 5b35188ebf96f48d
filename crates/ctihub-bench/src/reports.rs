//! The reports benchmark: a year of calls in a fresh SQLite store, then the report figures for
//! the whole year and the CSV export of it, timed over HTTP, with the process's peak memory
//! before and after, to show neither holds the year in memory.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use ctihub_domain::call::{CallData, CallState, CompletionStatus, Direction};
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_domain::user::{NewUser, Role};
use ctihub_store::{ConnectOptions, DatabaseLocation, Store};
use ctihub_web::AppState;
use ctihub_web::auth::secrets;
use serde_json::json;

const DAY_MS: i64 = 86_400_000;
/// 2025-01-01T00:00:00Z: the seeded year is 2025.
const YEAR_START: i64 = 1_735_689_600_000;
const BENCH_SETTING: &str = "ctihub_bench_reports";

#[derive(clap::Args)]
pub struct ReportsArgs {
    /// Calls to seed, spread over 2025.
    #[arg(long, default_value_t = 100_000)]
    calls: usize,
    /// Times each request is made.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Keep the database here and reuse it when it holds the same number of calls.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// The process's peak resident memory so far, in KiB (Linux), 0 elsewhere.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

pub async fn run(args: ReportsArgs) -> anyhow::Result<()> {
    if args.calls == 0 {
        bail!("--calls must be at least 1");
    }
    let temp = tempfile::tempdir()?;
    let dir = args.data_dir.clone().unwrap_or_else(|| temp.path().to_owned());
    let location = DatabaseLocation::in_data_dir(&dir);
    let store = Store::connect(&location, &ConnectOptions::default(), PhoneNormalizer::default()).await?;
    store.migrate().await?;
    let token = match store.get_setting::<(usize, String)>(BENCH_SETTING).await? {
        Some((calls, token)) if calls == args.calls => {
            println!("reusing {} with {calls} calls", location.describe());
            token
        }
        Some(_) => bail!("{} was seeded with another number of calls; use another --data-dir", location.describe()),
        None => seed(&store, args.calls).await?,
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/api/hub", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ctihub_web::serve(listener, AppState::new(store.clone()), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let year = [("from", "2025-01-01"), ("to", "2025-12-31")];
    println!("peak memory after seeding: {} MiB", peak_kib() / 1024);

    for _ in 0..args.repeat {
        let started = Instant::now();
        let response = client.get(format!("{base}/reports/calls")).query(&year).bearer_auth(&token).send().await?;
        let figures: serde_json::Value = response.json().await?;
        if figures["total"] != json!(args.calls) {
            bail!("the report counted {} calls, not {}", figures["total"], args.calls);
        }
        println!(
            "reports/calls for a year of {} calls: {:.0} ms, peak memory {} MiB",
            args.calls,
            started.elapsed().as_secs_f64() * 1000.0,
            peak_kib() / 1024
        );
    }
    for _ in 0..args.repeat {
        let started = Instant::now();
        let mut response = client.get(format!("{base}/calls.csv")).query(&year).bearer_auth(&token).send().await?;
        let (mut bytes, mut lines) = (0usize, 0usize);
        // Read chunk by chunk, as a client saving to disk would: the benchmark holds no copy.
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        println!(
            "calls.csv for a year: {} MiB, {lines} lines, {:.0} ms, peak memory {} MiB",
            bytes / (1024 * 1024),
            started.elapsed().as_secs_f64() * 1000.0,
            peak_kib() / 1024
        );
    }
    let _ = stop.send(());
    server.await??;
    store.close().await;
    Ok(())
}

async fn seed(store: &Store, calls: usize) -> anyhow::Result<String> {
    let started = Instant::now();
    let mut agents = Vec::new();
    for i in 0..20 {
        agents.push(store.create_user(NewUser::new(Role::Agent, format!("Agent {i}"))).await?.id);
    }
    let statuses = [
        Some(CompletionStatus::Completed),
        Some(CompletionStatus::Completed),
        Some(CompletionStatus::Completed),
        Some(CompletionStatus::Missed),
        Some(CompletionStatus::AbandonedInQueue),
        Some(CompletionStatus::PendingVoicemail),
    ];
    let step = 365 * DAY_MS / calls as i64;
    for i in 0..calls {
        let started_at = YEAR_START + i as i64 * step;
        let mut call = CallData::new(
            Direction::Inbound,
            format!("+1 513 {:03} {:04}", 200 + (i / 10_000) % 100, i % 10_000),
            ["+18005550100", "+18005550101", "+18005550102"][i % 3],
            started_at,
        );
        call.state = CallState::Ended;
        call.completion_status = statuses[i % statuses.len()];
        call.queue_name = Some(["support", "sales", "billing"][i % 3].into());
        call.ended_at = Some(started_at + 240_000);
        call.wait_time = Some((i % 90) as i64);
        if call.completion_status == Some(CompletionStatus::Completed) {
            call.agent_id = Some(agents[i % agents.len()]);
            call.answered_at = Some(started_at + (i % 40) as i64 * 1000);
            call.time_to_answer = Some((i % 40) as i64);
            call.talk_time = Some(60 + (i % 600) as i64);
            call.hold_time = Some((i % 7) as i64 * 10);
            call.transcript = Some("Caller asked about an invoice, agent explained the charges.".into());
        }
        store.create_call(&call, &[], None).await?;
        if (i + 1) % 25_000 == 0 {
            println!("seeded {} calls ({:.0} s)", i + 1, started.elapsed().as_secs_f64());
        }
    }
    let token = secrets::generate_token();
    store.create_api_token(agents[0], Some("ctihub-bench"), &secrets::hash_token(&token)).await?;
    store.put_setting(BENCH_SETTING, &(calls, token.clone())).await?;
    println!("seeded {calls} calls in {:.1} s", started.elapsed().as_secs_f64());
    Ok(token)
}
