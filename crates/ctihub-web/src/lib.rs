//! ctihub's HTTP server: the axum app, its middleware, and one module per API dialect.
//!
//! Dialects (Zammad, Zendesk, Freshdesk, …) live in their own modules with their own router and
//! error shape; `native` is ctihub's own API for the console and administration.

pub mod auth;
pub mod cluster;
mod console;
pub mod cti;
pub mod error;
mod extract;
pub mod freshdesk;
mod health;
mod html;
pub mod hub;
pub mod metrics;
mod native;
pub mod openapi;
mod placetel;
pub mod reports;
pub mod retention;
pub mod routing;
mod sipgate;
mod zammad;
mod zendesk;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use ctihub_store::Store;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use zendesk::{DEFAULT_API_RATE_LIMIT, RateLimiter};

/// Request bodies larger than this are refused with 413. Call events and API objects are a few
/// kilobytes; recordings are referenced by URL, never uploaded.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Shared by every handler. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub hub: hub::Hub,
    /// This node among the others on the same database (one on SQLite).
    pub node: cluster::Node,
    /// Requests per minute per credential on the Zendesk API (Zendesk's own default: 700).
    pub rate_limiter: std::sync::Arc<RateLimiter>,
}

impl AppState {
    /// Must be called inside a Tokio runtime: it starts the hub's delivery task and this node's
    /// heartbeat.
    pub fn new(store: Store) -> Self {
        let hub = hub::Hub::start(store.clone());
        let node = cluster::Node::new();
        tokio::spawn(node.clone().keep_beating(store.clone()));
        AppState { store, hub, node, rate_limiter: Default::default() }
    }

    /// Allow `per_minute` Zendesk API requests per credential and minute on this node.
    pub fn with_api_rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limiter = std::sync::Arc::new(RateLimiter::new(per_minute));
        self
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application with its middleware.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(console::router(state.clone()))
        .merge(zammad::router())
        .merge(sipgate::router())
        .merge(placetel::router())
        .merge(zendesk::router(state.clone()))
        .merge(freshdesk::router())
        .nest("/api/hub", native::router())
        .fallback(extract::no_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(CatchPanicLayer::custom(extract::panic_response))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            let path = redact_path(request.uri().path());
            tracing::info_span!("request", method = %request.method(), path = %path, request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Credentials never appear in logs.
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION, axum::http::header::COOKIE]))
}

/// The request path for logs, with the secret of token-in-URL endpoints replaced by `***`.
fn redact_path(path: &str) -> String {
    const SECRET_AFTER: &[&str] =
        &["/api/v1/cti/", "/api/v1/integration/cti/", "/api/v1/sipgate/", "/api/v1/placetel/"];
    // Paths under these prefixes that are routes, not tokens.
    const NOT_SECRET: &[&str] = &["log", "done"];
    for prefix in SECRET_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (token, tail) =
                rest.split_once('/').map(|(t, r)| (t, format!("/{r}"))).unwrap_or((rest, String::new()));
            if NOT_SECRET.contains(&token) {
                return path.to_owned();
            }
            return format!("{prefix}***{tail}");
        }
    }
    path.to_owned()
}

/// Serve until `shutdown` resolves, then finish in-flight requests and return.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.store.phones().warm_up();
    if let Ok(address) = listener.local_addr() {
        state.node.listening_on(address.to_string(), &state.store).await;
    }
    let retention = tokio::spawn(retention::run(state.clone()));
    let hub = state.hub.clone();
    let shutdown = async move {
        shutdown.await;
        hub.close();
    };
    let (store, node) = (state.store.clone(), state.node.clone());
    let result = axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await;
    retention.abort();
    if let Err(e) = node.leave(&store).await {
        tracing::warn!(error = %e, "cluster: cannot take this node out of the count; the others will in seconds");
    }
    result
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_tokens_never_reach_the_logs() {
        use super::redact_path;
        assert_eq!(redact_path("/api/v1/cti/s3cret"), "/api/v1/cti/***");
        assert_eq!(redact_path("/api/v1/integration/cti/s3cret"), "/api/v1/integration/cti/***");
        assert_eq!(redact_path("/api/v1/sipgate/s3cret/in"), "/api/v1/sipgate/***/in");
        assert_eq!(redact_path("/api/v1/placetel/s3cret"), "/api/v1/placetel/***");
        assert_eq!(redact_path("/api/v1/cti/log"), "/api/v1/cti/log");
        assert_eq!(redact_path("/api/v1/cti/done/12"), "/api/v1/cti/done/12");
        assert_eq!(redact_path("/healthz"), "/healthz");
    }
}
