//! PBX ingest: many PBX clients at once, each posting complete Zammad-push call lifecycles
//! (`newCall`, `answer`, `hangup`, form-encoded as Zammad's generic CTI clients send them) for
//! callers drawn from the seeded directory in mixed number formats. Each client waits for one
//! event's answer before sending the next, as a PBX's dial plan does. Calls go round-robin over
//! one or more targets, so the same driver measures a cluster of already-running servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::dip::mix;
use crate::pbx_http::PbxConnection;
use crate::seed::caller_number;
use crate::stats::{Figures, Latencies};

/// The line customers call (the routing rules' line).
const LINE: &str = "+18005550100";

/// What to send and for how long.
#[derive(Clone)]
pub struct Plan {
    /// Base URLs, `http://127.0.0.1:PORT`.
    pub targets: Vec<String>,
    pub cti_token: String,
    /// PBX clients at once, each on its own keep-alive connection per target.
    pub clients: usize,
    /// Measured phase: stop after this long, or after `max_calls` calls, whichever is first.
    pub duration: Duration,
    pub max_calls: usize,
    /// Unmeasured calls first (connections, caches).
    pub warmup_calls: usize,
    /// Callers are directory users `0..users`.
    pub users: usize,
    /// `answer` names agent `Bench Agent NNNNN` for `NNNNN < agents` (none when 0).
    pub agents: usize,
    /// Unique per run, so call ids never repeat across runs on a reused database.
    pub run_id: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestResult {
    pub targets: usize,
    pub clients: usize,
    pub calls: u64,
    pub events: u64,
    pub seconds: f64,
    pub calls_per_second: f64,
    pub events_per_second: f64,
    /// Per event: request sent to answer read.
    pub latency: Figures,
    /// Answers other than 200 (the run fails on any, after reporting them).
    pub errors: u64,
}

impl IngestResult {
    pub fn line(&self) -> String {
        format!(
            "{} calls ({} events) in {:.1} s: {:.0} calls/s, {:.0} events/s, {} clients, {} target(s); per event {}{}",
            self.calls,
            self.events,
            self.seconds,
            self.calls_per_second,
            self.events_per_second,
            self.clients,
            self.targets,
            self.latency.summary(),
            if self.errors > 0 { format!("; {} ERRORS", self.errors) } else { String::new() }
        )
    }
}

/// Run the warm-up, then the measured phase.
pub async fn run(plan: &Plan) -> anyhow::Result<IngestResult> {
    if plan.targets.is_empty() || plan.users == 0 {
        bail!("ingest needs at least one target and one user");
    }
    let warm = Plan {
        duration: plan.duration.min(Duration::from_secs(30)),
        max_calls: plan.warmup_calls,
        run_id: format!("{}w", plan.run_id),
        ..plan.clone()
    };
    // One PBX per client, with a connection to each target, kept across the phases so the
    // measured phase starts on warm keep-alive connections.
    let mut pbxs = (0..plan.clients.max(1))
        .map(|_| plan.targets.iter().map(|target| PbxConnection::new(target)).collect())
        .collect::<anyhow::Result<Vec<Vec<_>>>>()?;
    if warm.max_calls > 0 {
        let warmed;
        (warmed, pbxs) = phase(&warm, pbxs).await?;
        if warmed.errors > 0 {
            bail!("{} events failed during the warm-up", warmed.errors);
        }
    }
    Ok(phase(plan, pbxs).await?.0)
}

/// One phase; hands the PBXs' connections back for the next.
async fn phase(plan: &Plan, pbxs: Vec<Vec<PbxConnection>>) -> anyhow::Result<(IngestResult, Vec<Vec<PbxConnection>>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let plan = Arc::new(plan.clone());
    let started = Instant::now();
    let deadline = started + plan.duration;
    let path = format!("/api/v1/cti/{}", plan.cti_token);
    let mut workers = Vec::with_capacity(plan.clients);
    for mut connections in pbxs {
        let (plan, next, errors, first_error) = (plan.clone(), next.clone(), errors.clone(), first_error.clone());
        let path = path.clone();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut calls = 0u64;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= plan.max_calls || Instant::now() >= deadline {
                    return Ok::<_, anyhow::Error>((samples, calls, connections));
                }
                let connection = &mut connections[n % plan.targets.len()];
                let mut complete = true;
                for body in lifecycle(&plan, n) {
                    let sent = Instant::now();
                    let failure = match connection.post_form(&path, &body).await {
                        Ok(answer) => {
                            samples.push(sent.elapsed());
                            (!answer.is_success())
                                .then(|| format!("{}: {}", answer.status, String::from_utf8_lossy(&answer.body)))
                        }
                        Err(e) => Some(format!("{e:#}")),
                    };
                    if let Some(failure) = failure {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().expect("not poisoned").get_or_insert(failure);
                        complete = false;
                        break;
                    }
                }
                calls += u64::from(complete);
            }
        }));
    }
    let mut samples = Vec::new();
    let mut calls = 0;
    let mut pbxs = Vec::with_capacity(workers.len());
    for worker in workers {
        let (s, c, connections) = worker.await.context("a PBX client panicked")??;
        samples.extend(s);
        calls += c;
        pbxs.push(connections);
    }
    let seconds = started.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    if let Some(first) = first_error.lock().expect("not poisoned").take() {
        eprintln!("ingest: {errors} failed events; the first: {first}");
    }
    let latency = Latencies::new(samples);
    let events = latency.len() as u64;
    let result = IngestResult {
        targets: plan.targets.len(),
        clients: plan.clients,
        calls,
        events,
        seconds,
        calls_per_second: calls as f64 / seconds,
        events_per_second: events as f64 / seconds,
        latency: latency.figures(),
        errors,
    };
    Ok((result, pbxs))
}

/// Call `n`'s three events, form-encoded: an inbound call from a directory customer (a random
/// one, in one of six number formats), answered by an agent, hung up.
fn lifecycle(plan: &Plan, n: usize) -> [String; 3] {
    let random = mix(n as u64 ^ 0x5eed);
    let from = caller_number(random as usize % plan.users, random >> 32);
    let call_id = format!("bench-{}-{n}", plan.run_id);
    let agent = (plan.agents > 0).then(|| format!("Bench Agent {:05}", n % plan.agents));
    let form = |pairs: &[(&str, &str)]| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let common = [("callId", call_id.as_str()), ("direction", "in"), ("from", from.as_str()), ("to", LINE)];
    let with = |extra: &[(&str, &str)]| {
        let mut pairs: Vec<(&str, &str)> = common.to_vec();
        pairs.extend_from_slice(extra);
        form(&pairs)
    };
    let user = agent.as_deref().unwrap_or("");
    // The queue whose agents the seeded notify map shows the ringing call to.
    let queue = match plan.agents {
        0 => "support".to_owned(),
        agents => crate::seed::queue_name(n % agents / crate::seed::AGENTS_PER_QUEUE),
    };
    [
        with(&[("event", "newCall"), ("queue", queue.as_str())]),
        if user.is_empty() { with(&[("event", "answer")]) } else { with(&[("event", "answer"), ("user", user)]) },
        with(&[("event", "hangup"), ("cause", "normalClearing")]),
    ]
}

/// `ctihub-bench ingest`: drive servers that are already running (a cluster's nodes, say).
#[derive(clap::Args)]
pub struct IngestArgs {
    /// A server's base URL, `http://127.0.0.1:PORT`; repeat for several (calls go round-robin).
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// The Zammad push token configured on the servers (`ctihub cti` shows it).
    #[arg(long)]
    cti_token: String,
    /// PBX clients at once.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of the measured phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Stop the measured phase after this many calls even if time is left.
    #[arg(long, default_value_t = 1_000_000)]
    max_calls: usize,
    /// Unmeasured calls before the measured phase.
    #[arg(long, default_value_t = 500)]
    warmup_calls: usize,
    /// Callers are `+1 513 2XX XXXX` numbers of the first N directory users (as `dip` seeds them;
    /// on an unseeded server they are simply unknown callers).
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    /// `answer` names `Bench Agent NNNNN` for the first N agents; 0 names nobody.
    #[arg(long, default_value_t = 0)]
    agents: usize,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub async fn run_against_targets(args: IngestArgs) -> anyhow::Result<()> {
    for target in &args.targets {
        crate::loopback_only(target)?;
    }
    let plan = Plan {
        targets: args.targets.iter().map(|t| t.trim_end_matches('/').to_owned()).collect(),
        cti_token: args.cti_token,
        clients: args.clients.clamp(1, 4096),
        duration: Duration::from_secs(args.seconds.clamp(1, 3600)),
        max_calls: args.max_calls,
        warmup_calls: args.warmup_calls,
        users: args.users.max(1),
        agents: args.agents,
        run_id: crate::run_id(),
    };
    let result = run(&plan).await?;
    println!("ingest: {}", result.line());
    if let Some(path) = args.json {
        let json = serde_json::json!({ "targets": plan.targets, "ingest": result });
        std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
        println!("wrote {}", path.display());
    }
    if result.errors > 0 {
        bail!("{} events were not acknowledged", result.errors);
    }
    Ok(())
}
