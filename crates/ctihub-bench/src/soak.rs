//! The soak run: the real `ctihub serve` binary as a child process on a fresh SQLite data
//! directory, under steady mixed traffic for a long time (Zammad push lifecycles, IVR dips,
//! Zendesk caller searches, journal reads, and agent consoles holding the live event stream and
//! reconnecting now and then), while the server's resident memory is sampled.
//!
//! It fails (exit status 1) on any error answer or transport error, if the server dies, if a
//! console never receives an event, or if memory grows between the first and the last third of
//! the run by more than the tolerance. A JSON summary is printed and written to `--summary`.
//!
//! The traffic is paced (`--rate` requests per second in all) rather than flat out: a soak looks
//! for leaks and slow failures at a realistic load, not for the throughput ceiling.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::sync::Mutex;

use crate::stats::Latencies;

#[derive(clap::Args)]
pub struct SoakArgs {
    /// How long to run: `90s`, `30m`, `1h`.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    duration: Duration,
    /// The `ctihub` binary to soak [default: `ctihub` beside this program]
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,
    /// Clients sending requests at once, each on its own keep-alive connection.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Agent consoles holding `GET /api/hub/events` open.
    #[arg(long, default_value_t = 3)]
    consoles: usize,
    /// Requests per second, all clients together.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
    /// Samples taken before this share of the run are shown but not judged: caches, pools and
    /// the allocator's arenas fill up first.
    #[arg(long, default_value_t = 0.1)]
    warmup_share: f64,
    /// Seconds between two memory samples.
    #[arg(long, default_value_t = 2)]
    sample_every: u64,
    /// Allowed growth of the mean resident memory from the first to the last third, in percent
    /// of the first third's mean…
    #[arg(long, default_value_t = 20.0)]
    max_growth_percent: f64,
    /// …plus this many MiB (allocator and page-cache noise in a short run).
    #[arg(long, default_value_t = 8.0)]
    growth_slack_mib: f64,
    /// Where to write the JSON summary.
    #[arg(long, default_value = "soak-summary.json")]
    summary: PathBuf,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 90s, 30m or 1h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}`: the unit must be s, m or h")),
    };
    (seconds > 0).then(|| Duration::from_secs(seconds)).ok_or_else(|| "the duration must be positive".to_owned())
}

/// Seeded end-users: every push, dip and search is about one of them.
const CUSTOMERS: usize = 2_000;
const LINE: &str = "+14155550100";

fn customer_phone(i: usize) -> String {
    format!("+1415{:07}", 2_000_000 + i)
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let server_bin = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("ctihub"),
    };
    if !server_bin.exists() {
        bail!("{} not found: build it (cargo build -p ctihub-cli) or pass --server", server_bin.display());
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let seeded = seed(&server_bin, dir.path(), &data, args.consoles)?;
    let mut server = Server::start(&server_bin, &data)?;
    let base = server.url.clone();
    println!(
        "soaking {} (pid {}) for {:?}: {} clients at {} req/s in all, {} consoles",
        server_bin.display(),
        server.child.id(),
        args.duration,
        args.clients,
        args.rate,
        args.consoles
    );

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();

    let mut consoles = Vec::new();
    for token in &seeded.agent_tokens {
        consoles.push(tokio::spawn(console(base.clone(), token.clone(), stop.clone(), tally.clone())));
    }
    let per_client = Duration::from_secs_f64(args.clients as f64 / args.rate.max(0.1));
    let mut clients = Vec::new();
    for n in 0..args.clients {
        let context = ClientContext {
            base: base.clone(),
            push_path: seeded.push_path.clone(),
            admin_token: seeded.admin_token.clone(),
            admin_email: seeded.admin_email.clone(),
        };
        clients.push(tokio::spawn(client(n, context, per_client, stop.clone(), tally.clone())));
    }

    let pid = server.child.id();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let deadline = started + args.duration;
    let mut server_died = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(args.sample_every).min(deadline - Instant::now())).await;
        if let Some(status) = server.child.try_wait()? {
            server_died = Some(format!("the server exited during the soak: {status}"));
            break;
        }
        let rss = rss_kib(pid).context("read the server's memory")?;
        samples.push((started.elapsed().as_secs_f64(), rss));
        let errors = tally.errors.load(Ordering::Relaxed);
        if samples.len() % 15 == 1 {
            println!(
                "{:>6.0} s  rss {:>7.1} MiB  requests {:>8}  events {:>7}  errors {errors}",
                started.elapsed().as_secs_f64(),
                rss as f64 / 1024.0,
                tally.requests.load(Ordering::Relaxed),
                tally.console_events.load(Ordering::Relaxed)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in clients.into_iter().chain(consoles) {
        let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    }
    let elapsed = started.elapsed();
    let stopped_cleanly = server.stop();

    let warmup = args.duration.as_secs_f64() * args.warmup_share.clamp(0.0, 0.5);
    let judged: Vec<(f64, u64)> = samples.iter().copied().filter(|(t, _)| *t >= warmup).collect();
    let memory = Memory::from_samples(&judged);
    let allowed_kib = memory.first_third_kib * args.max_growth_percent / 100.0 + args.growth_slack_mib * 1024.0;
    let mut failures: Vec<String> = tally.error_messages.lock().await.iter().take(20).cloned().collect();
    failures.extend(server_died);
    if !stopped_cleanly {
        failures.push("the server did not stop cleanly on SIGTERM".into());
    }
    let console_events = tally.console_events.load(Ordering::Relaxed);
    if args.consoles > 0 && tally.consoles_without_events.load(Ordering::Relaxed) > 0 {
        failures.push("a console received no event during the soak".into());
    }
    if memory.growth_kib() > allowed_kib {
        failures.push(format!(
            "memory grew by {:.1} MiB from the first to the last third (allowed {:.1} MiB)",
            memory.growth_kib() / 1024.0,
            allowed_kib / 1024.0
        ));
    }
    if judged.len() < 3 {
        failures.push("too few memory samples for a verdict: run longer".into());
    }
    let latencies = Latencies::new(std::mem::take(&mut *tally.latencies.lock().await));
    let errors = tally.errors.load(Ordering::Relaxed);
    let summary = json!({
        "duration_seconds": elapsed.as_secs_f64().round(),
        "clients": args.clients,
        "consoles": args.consoles,
        "target_rate_per_second": args.rate,
        "requests": tally.requests.load(Ordering::Relaxed),
        "call_lifecycles": tally.lifecycles.load(Ordering::Relaxed),
        "console_events": console_events,
        "console_reconnects": tally.reconnects.load(Ordering::Relaxed),
        "errors": errors,
        "latency_ms": {
            "p50": latencies.percentile(50.0).as_secs_f64() * 1000.0,
            "p99": latencies.percentile(99.0).as_secs_f64() * 1000.0,
            "max": latencies.max().as_secs_f64() * 1000.0,
        },
        "rss_mib": {
            "first_third_mean": memory.first_third_kib / 1024.0,
            "last_third_mean": memory.last_third_kib / 1024.0,
            "growth": memory.growth_kib() / 1024.0,
            "allowed_growth": allowed_kib / 1024.0,
            "judged_after_seconds": warmup.round(),
            "min": memory.min_kib as f64 / 1024.0,
            "max": memory.max_kib as f64 / 1024.0,
            "samples": samples.iter().map(|(t, kib)| json!([t.round(), *kib as f64 / 1024.0])).collect::<Vec<_>>(),
        },
        "failures": failures,
        "passed": failures.is_empty(),
    });
    let text = serde_json::to_string_pretty(&summary)?;
    std::fs::write(&args.summary, &text).with_context(|| format!("write {}", args.summary.display()))?;
    let mut brief = summary.clone();
    brief["rss_mib"]["samples"] = json!(format!("{} samples in {}", samples.len(), args.summary.display()));
    println!("{}", serde_json::to_string_pretty(&brief)?);
    println!("latency {}", latencies.summary());
    if !failures.is_empty() {
        bail!("the soak failed: {}", failures.join("; "));
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    lifecycles: AtomicU64,
    errors: AtomicU64,
    console_events: AtomicU64,
    reconnects: AtomicU64,
    consoles_without_events: AtomicU64,
    error_messages: Mutex<Vec<String>>,
    latencies: Mutex<Vec<Duration>>,
}

impl Tally {
    async fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut messages = self.error_messages.lock().await;
        if messages.len() < 100 {
            eprintln!("error: {what}");
            messages.push(what);
        }
    }
}

/// Mean memory of the first and the last third of the samples.
struct Memory {
    first_third_kib: f64,
    last_third_kib: f64,
    min_kib: u64,
    max_kib: u64,
}

impl Memory {
    fn from_samples(samples: &[(f64, u64)]) -> Memory {
        let third = (samples.len() / 3).max(1);
        let mean = |s: &[(f64, u64)]| {
            if s.is_empty() { 0.0 } else { s.iter().map(|(_, kib)| *kib as f64).sum::<f64>() / s.len() as f64 }
        };
        Memory {
            first_third_kib: mean(&samples[..third.min(samples.len())]),
            last_third_kib: mean(&samples[samples.len().saturating_sub(third)..]),
            min_kib: samples.iter().map(|(_, k)| *k).min().unwrap_or(0),
            max_kib: samples.iter().map(|(_, k)| *k).max().unwrap_or(0),
        }
    }

    fn growth_kib(&self) -> f64 {
        self.last_third_kib - self.first_third_kib
    }
}

/// A process's resident memory in KiB, from `/proc/PID/status` (Linux).
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS line (not Linux?)")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS without a value")?.parse()?)
}

struct Seeded {
    push_path: String,
    admin_email: String,
    admin_token: String,
    agent_tokens: Vec<String>,
}

/// Prepare the data directory with the `ctihub` command itself, as an operator would.
fn seed(bin: &Path, dir: &Path, data: &Path, consoles: usize) -> anyhow::Result<Seeded> {
    let ctihub = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(bin)
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .current_dir(dir)
            .env_remove("CTIHUB_DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("run {}", bin.display()))?;
        if !out.status.success() {
            bail!("ctihub {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    let mut csv = String::from("name,email,phone,mobile,organization,external_id,role,tags\n");
    for i in 0..CUSTOMERS {
        csv.push_str(&format!(
            "Customer {i},customer{i}@example.com,{},,Org {},,end-user,\n",
            customer_phone(i),
            i % 50
        ));
    }
    let file = dir.join("customers.csv");
    std::fs::write(&file, csv)?;
    ctihub(&["import", "users", file.to_str().context("a UTF-8 temp path")?])?;
    let admin_email = "soak-admin@example.com".to_owned();
    ctihub(&["user", "create", "--role", "admin", "--name", "Soak Admin", "--email", &admin_email])?;
    let admin_token = ctihub(&["token", "create", "--email", &admin_email, "--label", "soak"])?;
    let mut agent_tokens = Vec::new();
    for i in 0..consoles {
        let email = format!("agent{i}@example.com");
        ctihub(&["user", "create", "--role", "agent", "--name", &format!("Agent {i}"), "--email", &email])?;
        agent_tokens.push(ctihub(&["token", "create", "--email", &email, "--label", "console"])?);
    }
    let push_path = ctihub(&["cti", "enable"])?;
    Ok(Seeded { push_path, admin_email, admin_token, agent_tokens })
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(bin: &Path, data: &Path) -> anyhow::Result<Server> {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env_remove("CTIHUB_DATABASE_URL")
            // The soak's clients share one credential each; Zendesk's per-minute limit is not
            // what is being soaked.
            .env("CTIHUB_API_RATE_LIMIT", "1000000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("ctihub listening on ") {
                        let url = rest.split_whitespace().next().unwrap_or_default().to_owned();
                        return Ok(Server { child, url });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("the server printed no banner within 30 s");
                }
            }
        }
    }

    /// SIGTERM, as a service manager stops it; true when it exited with status 0 in time.
    fn stop(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Clone)]
struct ClientContext {
    base: String,
    push_path: String,
    admin_token: String,
    admin_email: String,
}

/// One client's loop: a call's lifecycle in three pushes, with a dip, a Zendesk caller search
/// and a journal read between them, paced to `pause` per request.
async fn client(n: usize, ctx: ClientContext, pause: Duration, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client");
    let push = format!("{}{}", ctx.base, ctx.push_path);
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let customer = (n * 7919 + i * 31) % CUSTOMERS;
        let phone = customer_phone(customer);
        let call_id = format!("soak-{n}-{i}");
        let from = urlencode(&phone);
        let answered = !i.is_multiple_of(3);
        let mut steps: Vec<(&str, reqwest::RequestBuilder)> = vec![(
            "newCall",
            form(
                &http,
                &push,
                &[
                    ("event", "newCall"),
                    ("direction", "in"),
                    ("from", &phone),
                    ("to", LINE),
                    ("callId", &call_id),
                    ("user[]", "Agent 0"),
                ],
            ),
        )];
        steps.push((
            "dip",
            http.get(format!("{}/api/hub/dip?from={from}&to=%2B14155550100", ctx.base)).bearer_auth(&ctx.admin_token),
        ));
        steps.push((
            "zendesk search",
            http.get(format!("{}/api/v2/search.json", ctx.base))
                .query(&[("query", format!("type:user phone:*{}", &phone[phone.len() - 7..]))])
                .basic_auth(format!("{}/token", ctx.admin_email), Some(&ctx.admin_token)),
        ));
        if answered {
            steps.push((
                "answer",
                form(
                    &http,
                    &push,
                    &[
                        ("event", "answer"),
                        ("direction", "in"),
                        ("from", &phone),
                        ("to", LINE),
                        ("callId", &call_id),
                        ("user", "Agent 0"),
                    ],
                ),
            ));
        }
        steps.push((
            "hangup",
            form(
                &http,
                &push,
                &[
                    ("event", "hangup"),
                    ("direction", "in"),
                    ("from", phone.as_str()),
                    ("to", LINE),
                    ("callId", &call_id),
                    ("cause", if answered { "normalClearing" } else { "cancel" }),
                ],
            ),
        ));
        let journal = if i.is_multiple_of(2) { "/api/hub/journal?limit=20" } else { "/api/v1/cti/log" };
        steps.push(("journal", http.get(format!("{}{journal}", ctx.base)).bearer_auth(&ctx.admin_token)));

        for (what, request) in steps {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let began = Instant::now();
            let outcome = request.send().await;
            tally.requests.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(response) if response.status().is_success() => {
                    // Read the whole body: a truncated answer is an error too.
                    match response.bytes().await {
                        Ok(_) => tally.latencies.lock().await.push(began.elapsed()),
                        Err(e) => tally.error(format!("{what} {call_id}: reading the body: {e}")).await,
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    tally
                        .error(format!("{what} {call_id}: {status} {}", body.chars().take(200).collect::<String>()))
                        .await;
                }
                Err(e) => tally.error(format!("{what} {call_id}: {e}")).await,
            }
            tokio::time::sleep(pause.saturating_sub(began.elapsed())).await;
        }
        tally.lifecycles.fetch_add(1, Ordering::Relaxed);
        i += 1;
    }
}

/// An agent console: holds the event stream, counts events, and reconnects every 20 s with
/// `Last-Event-ID` as a browser does after a network blip.
async fn console(base: String, token: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let http = reqwest::Client::new();
    let mut last_id: Option<String> = None;
    let mut received = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut request = http.get(format!("{base}/api/hub/events")).bearer_auth(&token);
        if let Some(id) = &last_id {
            request = request.header("last-event-id", id);
        }
        let mut response = match request.send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tally.error(format!("console stream: {}", r.status())).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                tally.error(format!("console stream: {e}")).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let session_end = Instant::now() + Duration::from_secs(20);
        let mut pending = String::new();
        while !stop.load(Ordering::Relaxed) && Instant::now() < session_end {
            match tokio::time::timeout(Duration::from_millis(500), response.chunk()).await {
                Err(_) => continue,
                Ok(Ok(Some(bytes))) => {
                    pending.push_str(&String::from_utf8_lossy(&bytes));
                    while let Some(end) = pending.find("\n\n") {
                        let event: String = pending.drain(..end + 2).collect();
                        if let Some(id) = event.lines().find_map(|l| l.strip_prefix("id:")) {
                            last_id = Some(id.trim().to_owned());
                            received += 1;
                            tally.console_events.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Ok(Ok(None)) => {
                    if !stop.load(Ordering::Relaxed) {
                        tally.error("console stream ended by the server".into()).await;
                    }
                    break;
                }
                Ok(Err(e)) => {
                    tally.error(format!("console stream broke: {e}")).await;
                    break;
                }
            }
        }
        tally.reconnects.fetch_add(1, Ordering::Relaxed);
    }
    if received == 0 {
        tally.consoles_without_events.fetch_add(1, Ordering::Relaxed);
    }
}

/// A PBX's form POST (reqwest is built without its `form` feature).
fn form(http: &reqwest::Client, url: &str, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
    http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body.join("&"))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn memory_thirds() {
        let samples: Vec<(f64, u64)> = [10, 10, 10, 20, 20, 20, 30, 30, 30].iter().map(|k| (0.0, *k)).collect();
        let m = Memory::from_samples(&samples);
        assert_eq!((m.first_third_kib, m.last_third_kib, m.growth_kib()), (10.0, 30.0, 20.0));
        assert_eq!((m.min_kib, m.max_kib), (10, 30));
    }
}
