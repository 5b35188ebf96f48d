//! Agent consoles as the server sees them: one Server-Sent Events stream each
//! (`GET /api/hub/events` with the agent's API token), read as it arrives. Each console reports
//! the moment a `screen_pop` reaches it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

/// Open consoles; dropping them closes every stream.
pub struct Consoles {
    /// Console `k`'s screen pops, as the instant each arrived.
    pub pops: Vec<mpsc::UnboundedReceiver<Instant>>,
    count: usize,
    /// `lagged` events the consoles got: the server dropped events for a console that fell
    /// more than the hub's buffer behind.
    pub lagged: Arc<std::sync::atomic::AtomicUsize>,
    tasks: JoinSet<()>,
}

impl Consoles {
    /// Open `count` consoles, console `k` for `tokens[k % tokens.len()]`, at most 200 connecting
    /// at once, and wait until every stream has said hello (the server's first comment). Fails
    /// when they are not all open within `limit`.
    pub async fn open(base: &str, tokens: &[String], count: usize, limit: Duration) -> anyhow::Result<Consoles> {
        if tokens.is_empty() {
            bail!("consoles need agents' tokens");
        }
        // Enough idle slots that no stream's connection is ever shared or closed for reuse.
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
        let url = format!("{base}/api/hub/events");
        let gate = Arc::new(Semaphore::new(200));
        let (opened, mut opened_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        let mut tasks = JoinSet::new();
        let mut pops = Vec::with_capacity(count);
        let lagged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for k in 0..count {
            let (pop, pop_rx) = mpsc::unbounded_channel();
            pops.push(pop_rx);
            let (client, url, token, gate, opened) =
                (client.clone(), url.clone(), tokens[k % tokens.len()].clone(), gate.clone(), opened.clone());
            let lagged = lagged.clone();
            tasks.spawn(async move {
                let permit = gate.acquire_owned().await;
                let response = match client.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => r,
                    Ok(r) => {
                        let _ = opened.send(Err(format!("console {k}: {}", r.status())));
                        return;
                    }
                    Err(e) => {
                        let _ = opened.send(Err(format!("console {k}: {e}")));
                        return;
                    }
                };
                read_stream(response, permit.ok(), &opened, &pop, &lagged).await;
            });
        }
        drop(opened);
        let deadline = tokio::time::Instant::now() + limit;
        for _ in 0..count {
            match tokio::time::timeout_at(deadline, opened_rx.recv()).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(e))) => bail!("a console could not connect: {e}"),
                Ok(None) => bail!("consoles ended before all had connected"),
                Err(_) => bail!("not all {count} consoles connected within {} s", limit.as_secs()),
            }
        }
        Ok(Consoles { pops, count, lagged, tasks })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether any console's stream ended (the server closed it, or it failed).
    pub fn any_closed(&mut self) -> bool {
        self.tasks.try_join_next().is_some()
    }
}

/// Read one stream: report the hello once, then every `screen_pop` event's arrival.
async fn read_stream(
    mut response: reqwest::Response,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    opened: &mpsc::UnboundedSender<Result<(), String>>,
    pop: &mpsc::UnboundedSender<Instant>,
    lagged: &std::sync::atomic::AtomicUsize,
) {
    let mut permit = permit;
    let mut pending = String::new();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            _ => return,
        };
        let arrived = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&chunk));
        // Events end with a blank line; a chunk may hold several or part of one.
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            if permit.take().is_some() {
                let _ = opened.send(Ok(()));
            }
            if event.lines().any(|l| l == "event: screen_pop" || l == "event:screen_pop") {
                let _ = pop.send(arrived);
            }
            if event.lines().any(|l| l == "event: lagged" || l == "event:lagged") {
                lagged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// The screen-pop measurement: consoles connected, then for `pops` calls (call `k` answered by
/// console `k`'s agent, `concurrency` PBX clients at once) the time from sending `answer` to the
/// pop arriving at that console; and how many pops did not arrive within 10 s.
pub async fn measure_pops(
    base: &str,
    cti_token: &str,
    consoles: &mut Consoles,
    agent_names: &[String],
    pops: usize,
    concurrency: usize,
    run_id: &str,
) -> anyhow::Result<(crate::stats::Figures, usize)> {
    let pops = pops.min(consoles.pops.len()).min(agent_names.len());
    let url = format!("{base}/api/v1/cti/{cti_token}");
    let receivers: Vec<_> = consoles.pops.drain(..pops).map(tokio::sync::Mutex::new).collect();
    let receivers = Arc::new(receivers);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (url, receivers, next) = (url.clone(), receivers.clone(), next.clone());
        let names = agent_names[..pops].to_vec();
        let run_id = run_id.to_owned();
        workers.spawn(async move {
            let client = reqwest::Client::new();
            let mut samples = Vec::new();
            let mut missed = 0usize;
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= names.len() {
                    return Ok::<_, anyhow::Error>((samples, missed));
                }
                let mut rx = receivers[k].lock().await;
                while rx.try_recv().is_ok() {}
                let call_id = format!("pop-{run_id}-{k}");
                let from = crate::seed::caller_number(k * 997 % 1000, k as u64);
                let post = |event: &'static str, extra: Vec<(&'static str, String)>| {
                    let mut form = url::form_urlencoded::Serializer::new(String::new());
                    form.append_pair("event", event)
                        .append_pair("callId", &call_id)
                        .append_pair("direction", "in")
                        .append_pair("from", &from)
                        .append_pair("to", "+18005550100");
                    for (key, value) in &extra {
                        form.append_pair(key, value);
                    }
                    client
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.finish())
                        .send()
                };
                let ok = |r: reqwest::Response| -> anyhow::Result<()> {
                    if !r.status().is_success() {
                        bail!("the PBX event was answered {}", r.status());
                    }
                    Ok(())
                };
                let queue = crate::seed::queue_name(k / crate::seed::AGENTS_PER_QUEUE);
                ok(post("newCall", vec![("queue", queue)]).await?)?;
                let sent = Instant::now();
                ok(post("answer", vec![("user", names[k].clone())]).await?)?;
                // A pop that has not arrived after 10 s is counted as missed, not waited for.
                match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                    Ok(Some(arrived)) => samples.push(arrived.saturating_duration_since(sent)),
                    Ok(None) => bail!("console {k}'s stream closed"),
                    Err(_) => missed += 1,
                }
                ok(post("hangup", vec![("cause", "normalClearing".into())]).await?)?;
            }
        });
    }
    let mut samples = Vec::with_capacity(pops);
    let mut missed = 0;
    while let Some(done) = workers.join_next().await {
        let (s, m) = done.context("a pop client panicked")??;
        samples.extend(s);
        missed += m;
    }
    Ok((crate::stats::Latencies::new(samples).figures(), missed))
}
