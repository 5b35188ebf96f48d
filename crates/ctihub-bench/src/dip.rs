//! The data dip benchmark: N end-users (one phone each, a third in one of 1,000 organizations,
//! one in twenty tagged `vip`), tickets for every `users / tickets`-th user, routing rules with
//! business hours; then dips as an IVR makes them, over one keep-alive connection per worker.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ctihub_domain::Id;
use ctihub_domain::organization::{NewGroup, NewOrganization};
use ctihub_domain::phone::{PhoneKind, PhoneNormalizer};
use ctihub_domain::routing::{RoutingConfig, SETTING};
use ctihub_domain::ticket::{NewTicket, TicketStatus};
use ctihub_domain::user::{Email, NewUser, Role};
use ctihub_store::{ConnectOptions, DatabaseLocation, Store};
use ctihub_web::AppState;
use ctihub_web::auth::secrets;
use serde_json::json;

use crate::stats::Latencies;

/// The line the IVR answers; the rules route on it.
const LINE: &str = "+18005550100";
const ORGANIZATIONS: usize = 1_000;
/// Where a seeded database remembers what the requests need, so `--data-dir` can reuse it.
const BENCH_SETTING: &str = "ctihub_bench";

#[derive(clap::Args)]
pub struct DipArgs {
    /// End-users to seed.
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    /// Tickets to seed, spread evenly over the users.
    #[arg(long, default_value_t = 10_000)]
    tickets: usize,
    /// Measured requests (after the warm-up).
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Stop measuring after this many seconds even if fewer requests were made.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Requests not measured, to warm caches and connections.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    /// Clients issuing requests at once, each on its own keep-alive connection.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Keep the database in this directory and reuse it on the next run with the same sizes,
    /// instead of seeding a temporary one.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Which endpoint the IVR asks: ctihub's dip, or Zendesk's caller lookup
    /// (`search.json?query=role:end-user phone:*NNN`) as integrations written for Zendesk dip.
    #[arg(long, value_enum, default_value_t = Endpoint::Native)]
    endpoint: Endpoint,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub(crate) enum Endpoint {
    Native,
    Zendesk,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Native => "/api/hub/dip",
            Endpoint::Zendesk => "/api/v2/search.json",
        }
    }
}

/// The directory a previous run seeded into `store`, or a fresh seed of `users` and `tickets`.
pub(crate) async fn seeded(store: &Store, users: usize, tickets: usize, describe: &str) -> anyhow::Result<Seeded> {
    Ok(match store.get_setting::<Seeded>(BENCH_SETTING).await? {
        Some(s) if s.users == users && s.tickets.len() == tickets => {
            println!("reusing {describe} with {} users and {} tickets", s.users, s.tickets.len());
            s
        }
        Some(_) => bail!("{describe} was seeded with other sizes; use another --data-dir"),
        None => seed(store, users, tickets).await?,
    })
}

/// What the requests need to know about a seeded database.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Seeded {
    pub users: usize,
    ticket_step: usize,
    /// Ticket `k` belongs to user `k * ticket_step`.
    tickets: Vec<Id>,
    /// An agent's API token (the IVR's).
    pub token: String,
}

/// User `i`'s phone: valid US numbers, `+1 513 2XX XXXX`, ten thousand per exchange.
pub(crate) fn phone(i: usize) -> String {
    format!("+1 513 {:03} {:04}", 200 + i / 10_000, i % 10_000)
}

pub async fn run(args: DipArgs) -> anyhow::Result<()> {
    if args.users == 0 || args.tickets > args.users || args.users > 1_000_000 * 8 {
        bail!("--users must be 1 to 8,000,000 and --tickets at most --users");
    }
    let temp = tempfile::tempdir()?;
    let dir = args.data_dir.clone().unwrap_or_else(|| temp.path().to_owned());
    let location = DatabaseLocation::in_data_dir(&dir);
    let store = Store::connect(&location, &ConnectOptions::default(), PhoneNormalizer::default()).await?;
    store.migrate().await?;

    let seeded = seeded(&store, args.users, args.tickets, &location.describe()).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}{}", listener.local_addr()?, args.endpoint.path());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The benchmark is one client far beyond Zendesk's per-minute budget.
    let state = AppState::new(store.clone()).with_api_rate_limit(u32::MAX).with_address_rate_limit(u32::MAX);
    let endpoint = args.endpoint;
    let server = tokio::spawn(ctihub_web::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // Warm-up: also checks the answers are what the seed implies before anything is measured.
    let client = reqwest::Client::new();
    let check = client.get(&base).query(&request(&seeded, endpoint, 0)).bearer_auth(&seeded.token).send().await?;
    let status = check.status();
    let answer: serde_json::Value = check.json().await?;
    match endpoint {
        Endpoint::Native => {
            if !status.is_success() || answer["users"].as_array().is_none_or(Vec::is_empty) {
                bail!("the first dip did not identify a seeded user ({status}): {answer}");
            }
            if answer["input"]["result"] != "belongs_to_caller" || answer["routing"]["rule_index"].is_null() {
                bail!("the first dip did not find the caller's ticket and a rule: {answer}");
            }
        }
        Endpoint::Zendesk => {
            if !status.is_success() || answer["count"] != 1 {
                bail!("the first search did not find the seeded caller ({status}): {answer}");
            }
        }
    }
    let work = Arc::new(Workload { base, seeded, endpoint });
    let (latencies, elapsed) =
        measure(&client, &work, args.warmup, args.requests, args.concurrency, Duration::from_secs(args.max_seconds))
            .await?;
    println!(
        "dip via {}: {} requests in {:.1} s ({:.0}/s), concurrency {}, {} users, {} tickets",
        args.endpoint.path(),
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        args.concurrency,
        work.seeded.users,
        work.seeded.tickets.len()
    );
    println!("dip: {}", latencies.summary());

    let _ = stop.send(());
    server.await??;
    store.close().await;
    Ok(())
}

/// `warmup` unmeasured dips from one client, then `requests` measured ones from `concurrency`
/// clients, each phase stopping after `limit` at the latest.
pub(crate) async fn measure(
    client: &reqwest::Client,
    work: &Arc<Workload>,
    warmup: usize,
    requests: usize,
    concurrency: usize,
    limit: Duration,
) -> anyhow::Result<(Latencies, Duration)> {
    run_requests(client, work, 0, warmup, 1, limit).await?;
    let started = Instant::now();
    let samples = run_requests(client, work, warmup, requests, concurrency, limit).await?;
    Ok((Latencies::new(samples), started.elapsed()))
}

/// Request `n`'s query. Of every ten: three from a customer with a ticket who types its number,
/// one who types another customer's ticket number, four from a random customer without input,
/// one from an unknown number, one withheld. Zendesk's search gets the same callers' numbers as
/// `role:end-user phone:*DIGITS` (a withheld number is not searched for: a second unknown one).
fn request(seeded: &Seeded, endpoint: Endpoint, n: usize) -> Vec<(&'static str, String)> {
    if endpoint == Endpoint::Zendesk {
        let from = match n % 10 {
            9 => "+1 212 555 0001".to_owned(),
            _ => request(seeded, Endpoint::Native, n)
                .into_iter()
                .find(|(k, _)| *k == "from")
                .map(|(_, v)| v)
                .unwrap_or_default(),
        };
        let digits: String = from.chars().filter(char::is_ascii_digit).skip(1).collect();
        return vec![("query", format!("role:end-user phone:*{digits}"))];
    }
    let random = mix(n as u64) as usize;
    let ticketed = random % seeded.tickets.len().max(1);
    let mut query = vec![("to", LINE.to_owned()), ("at", "2026-11-23T10:00:00Z".to_owned())];
    match n % 10 {
        0..=2 if !seeded.tickets.is_empty() => {
            query.push(("from", phone(ticketed * seeded.ticket_step)));
            query.push(("input", format!("{}#", seeded.tickets[ticketed])));
        }
        3 if !seeded.tickets.is_empty() => {
            query.push(("from", phone(ticketed * seeded.ticket_step)));
            query.push(("input", seeded.tickets[(ticketed + 1) % seeded.tickets.len()].to_string()));
        }
        8 => query.push(("from", "+1 212 555 0000".to_owned())),
        9 => query.push(("from", "anonymous".to_owned())),
        _ => query.push(("from", phone(random % seeded.users))),
    }
    query
}

/// A well-spread pseudo-random number from a counter (splitmix64), so runs are repeatable.
pub(crate) fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where the requests go and what they ask.
pub(crate) struct Workload {
    /// The endpoint's full URL.
    pub base: String,
    pub seeded: Seeded,
    pub endpoint: Endpoint,
}

/// Requests `first .. first + count` from `concurrency` workers until done or `limit` passes;
/// the latency of each, request sent to body read. Any answer but 200 fails the run.
async fn run_requests(
    client: &reqwest::Client,
    work: &Arc<Workload>,
    first: usize,
    count: usize,
    concurrency: usize,
    limit: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + limit;
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        // Each worker its own client: one keep-alive connection each.
        let client = if concurrency > 1 { reqwest::Client::new() } else { client.clone() };
        let (next, work) = (next.clone(), work.clone());
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(count / concurrency.max(1) + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() >= deadline {
                    return Ok::<_, anyhow::Error>(samples);
                }
                let query = request(&work.seeded, work.endpoint, first + i);
                let sent = Instant::now();
                let response = client.get(&work.base).query(&query).bearer_auth(&work.seeded.token).send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                samples.push(sent.elapsed());
                if !status.is_success() {
                    bail!("request {} answered {status}: {}", first + i, String::from_utf8_lossy(&body));
                }
            }
        }));
    }
    let mut samples = Vec::with_capacity(count);
    for worker in workers {
        samples.extend(worker.await??);
    }
    Ok(samples)
}

async fn seed(store: &Store, users: usize, tickets: usize) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let mut organizations = Vec::with_capacity(ORGANIZATIONS);
    for o in 0..ORGANIZATIONS {
        let mut tags = Vec::new();
        if o % 10 == 0 {
            tags.push("widgets".to_owned());
        }
        if o % 50 == 0 {
            tags.push("vip".to_owned());
        }
        let new = NewOrganization { name: format!("Organization {o}"), tags, ..Default::default() };
        organizations.push(store.create_organization(new).await?.id);
    }

    const BATCH: usize = 50_000;
    let mut user_ids: Vec<Id> = Vec::with_capacity(users);
    for start in (0..users).step_by(BATCH) {
        let rows: Vec<NewUser> = (start..(start + BATCH).min(users))
            .map(|i| {
                let mut user = NewUser::new(Role::EndUser, format!("User {i}"));
                user.email = Email::parse(&format!("user{i}@example.com")).ok();
                user.phones = vec![(PhoneKind::Phone, phone(i))];
                user.organization_id = (i % 3 == 0).then(|| organizations[i % ORGANIZATIONS]);
                if i % 20 == 0 {
                    user.tags = vec!["vip".to_owned()];
                }
                user
            })
            .collect();
        for outcome in store.import_users(rows).await? {
            user_ids.push(outcome.context("a seeded user was refused")?);
        }
        println!("seeded {} users ({:.0} s)", user_ids.len(), started.elapsed().as_secs_f64());
    }

    let ticket_step = (users / tickets.max(1)).max(1);
    let mut ticket_ids = Vec::with_capacity(tickets);
    let statuses = [TicketStatus::Open, TicketStatus::Solved, TicketStatus::Pending];
    for k in 0..tickets {
        let new = NewTicket {
            subject: format!("Ticket {k}"),
            description: "Seeded by ctihub-bench".into(),
            requester_id: user_ids[k * ticket_step],
            status: Some(statuses[k % statuses.len()]),
            ..Default::default()
        };
        ticket_ids.push(store.create_ticket(new).await?.id);
    }
    println!("seeded {} tickets ({:.0} s)", ticket_ids.len(), started.elapsed().as_secs_f64());

    let group = |name: &str| NewGroup { name: name.into(), description: None };
    let (night, tech, support) = (
        store.create_group(group("Night")).await?.id,
        store.create_group(group("Tech")).await?.id,
        store.create_group(group("Support")).await?.id,
    );
    let rules: RoutingConfig = serde_json::from_value(json!({
        "lines": [{"number": LINE, "time_zone": "America/New_York",
                   "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:00", "close": "18:00"}]}],
        "rules": [
            {"name": "night", "when": {"hours": "outside"}, "then": {"group_id": night}},
            {"name": "widgets", "when": {"dialed": LINE, "organization_tag": "widgets"}, "then": {"group_id": tech}},
            {"name": "vip", "when": {"user_tag": "vip"}, "then": {"priority": "high"}},
            {"name": "800 numbers", "when": {"dialed": "1800*"}, "then": {"group_id": support}},
        ],
    }))?;
    rules.validate()?;
    store.put_setting(SETTING, &rules).await?;

    let agent = store.create_user(NewUser::new(Role::Agent, "Bench IVR")).await?;
    let token = secrets::generate_token();
    store.create_api_token(agent.id, Some("ctihub-bench"), &secrets::hash_token(&token)).await?;
    let seeded = Seeded { users, ticket_step, tickets: ticket_ids, token };
    store.put_setting(BENCH_SETTING, &seeded).await?;
    println!("seeding done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(seeded)
}
