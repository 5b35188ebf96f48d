//! Prometheus metrics: request counts and latencies by route, rendered at `/metrics`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder, installed on first use (the `metrics` facade allows one).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .expect("bucket list is not empty")
            // Events per commit of the SQLite ledger writer, not seconds.
            .set_buckets_for_metric(
                Matcher::Full("ctihub_ledger_batch_events".into()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
            )
            .expect("bucket list is not empty");
        // A second recorder in the same process (tests) is refused; build one locally instead.
        match builder.install_recorder() {
            Ok(handle) => handle,
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Count and time every request, labelled by route template (not raw path, so ids and tokens
/// in URLs do not explode the label space or leak).
pub async fn track(request: Request, next: Next) -> Response {
    handle();
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let (requests, duration) =
        request_metrics(&method, route.as_ref().map_or("unmatched", MatchedPath::as_str), response.status());
    requests.increment(1);
    duration.record(started.elapsed().as_secs_f64());
    response
}

/// The request counter and duration histogram of one method, route and status. Registered once
/// and kept: looking them up in the recorder by their labels each time cost every request three
/// strings and two hashings of its labels.
fn request_metrics(method: &Method, route: &str, status: StatusCode) -> (Counter, Histogram) {
    type Handles = HashMap<Box<str>, Vec<(Method, StatusCode, Counter, Histogram)>>;
    static HANDLES: LazyLock<Mutex<Handles>> = LazyLock::new(Mutex::default);
    // Only ever added to: a panic elsewhere cannot leave it half-changed.
    let mut handles = HANDLES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, _, counter, histogram)) =
        handles.get(route).into_iter().flatten().find(|(m, s, _, _)| m == method && *s == status)
    {
        return (counter.clone(), histogram.clone());
    }
    let labels = [("method", method.to_string()), ("route", route.to_owned()), ("status", status.as_u16().to_string())];
    let counter = metrics::counter!("ctihub_http_requests_total", &labels);
    let histogram = metrics::histogram!("ctihub_http_request_duration_seconds", &labels);
    handles.entry(route.into()).or_default().push((method.clone(), status, counter.clone(), histogram.clone()));
    (counter, histogram)
}
