use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

/// Long enough for a loaded server, short enough for a container health probe.
const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(base_url: &str) -> anyhow::Result<ExitCode> {
    let url = format!("{}/healthz", base_url.trim_end_matches('/'));
    // No proxy: the probe is about this server, and an HTTP_PROXY meant for the outside world
    // would otherwise answer for it.
    let client =
        reqwest::Client::builder().timeout(TIMEOUT).no_proxy().build().context("cannot build an HTTP client")?;
    let response = match client.get(&url).send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => bail!("{url} did not answer within {} s", TIMEOUT.as_secs()),
        // reqwest's own layers ("error sending request", "client error (Connect)") say nothing
        // an operator can act on; the innermost cause ("Connection refused") does.
        Err(e) => bail!("{url} did not answer: {}", root_cause(&e)),
    };
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        let body = response.text().await.unwrap_or_default();
        bail!("{url} answered {status}: {}", body.trim());
    }
    println!("ok: {url} answered {status}");
    Ok(ExitCode::SUCCESS)
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
