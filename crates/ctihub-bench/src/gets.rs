//! Timed GET requests from one keep-alive client, one at a time: the shape of an IVR or a
//! browser asking, and of caller identification and the journal page measurements.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::stats::{Figures, Latencies};

pub enum Auth {
    Bearer(String),
    Cookie(String),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct GetResult {
    pub requests: usize,
    pub seconds: f64,
    pub per_second: f64,
    /// Request sent to whole body read.
    pub latency: Figures,
    /// The last answer's size.
    pub bytes: usize,
}

/// `warmup` unmeasured requests, then up to `count` measured ones (stopping after `limit`).
/// Request `n` goes to `url(n)`; every answer must be a 200 whose body `check` accepts.
pub async fn measure(
    url: impl Fn(usize) -> String,
    auth: &Auth,
    warmup: usize,
    count: usize,
    limit: Duration,
    check: impl Fn(&str) -> Result<(), String>,
) -> anyhow::Result<GetResult> {
    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(count);
    let mut bytes = 0;
    let mut started = Instant::now();
    let deadline = started + limit * 2;
    for n in 0..warmup + count {
        if n == warmup {
            started = Instant::now();
        }
        if Instant::now() >= deadline || (n >= warmup && started.elapsed() >= limit) {
            break;
        }
        let request = client.get(url(n));
        let request = match auth {
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Cookie(cookie) => request.header("cookie", cookie),
        };
        let sent = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        let took = sent.elapsed();
        if !status.is_success() {
            bail!("request {n} answered {status}: {}", body.chars().take(300).collect::<String>());
        }
        if let Err(e) = check(&body) {
            bail!("request {n}: {e}");
        }
        bytes = body.len();
        if n >= warmup {
            samples.push(took);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let latency = Latencies::new(samples);
    Ok(GetResult {
        requests: latency.len(),
        seconds,
        per_second: latency.len() as f64 / seconds,
        latency: latency.figures(),
        bytes,
    })
}
