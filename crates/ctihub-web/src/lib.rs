//! ctihub's HTTP server: the axum app, its middleware, and one module per API dialect.
//!
//! Dialects (Zammad, Zendesk, Freshdesk, …) live in their own modules with their own router and
//! error shape; `native` is ctihub's own API for the console and administration.

pub mod audit;
pub mod auth;
pub mod client;
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
pub mod ratelimit;
pub mod reports;
mod request_context;
pub mod retention;
pub mod routing;
mod sipgate;
mod zammad;
mod zendesk;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use ctihub_store::Store;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

/// Request bodies larger than this are refused with 413. Call events and API objects are a few
/// kilobytes; recordings are referenced by URL, never uploaded.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Shared by every handler. One reference count to clone: every middleware layer and
/// extractor of every request clones it, and cloning each field was a few percent of serving
/// a PBX event.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares; its fields read through it (`state.store`).
#[derive(Clone, Debug)]
pub struct Shared {
    pub store: Store,
    pub hub: hub::Hub,
    /// This node among the others on the same database (one on SQLite).
    pub node: cluster::Node,
    /// Request budgets per credential and per client address, and where they are counted.
    pub limits: ratelimit::RateLimits,
    /// Trusted proxies and whether the public URL is https.
    pub network: client::Network,
    /// See [`HEADER_READ_TIMEOUT`]; shorter in tests.
    pub header_read_timeout: Duration,
    /// See [`REQUEST_TIMEOUT`]; shorter in tests.
    pub request_timeout: Duration,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Must be called inside a Tokio runtime: it starts the hub's delivery task and this node's
    /// heartbeat.
    pub fn new(store: Store) -> Self {
        let hub = hub::Hub::start(store.clone());
        let node = cluster::Node::new();
        tokio::spawn(node.clone().keep_beating(store.clone()));
        let mut limits = ratelimit::RateLimits::default();
        if store.kind() == ctihub_store::BackendKind::Postgres {
            // Other nodes may serve the same clients: their budgets are counted together.
            limits.counter = ratelimit::SharedCounter::start(&store);
        }
        AppState(Arc::new(Shared {
            store,
            hub,
            node,
            limits,
            network: Default::default(),
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
        }))
    }

    /// The builders below run before serving, while this is the only reference.
    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    /// Allow `per_minute` API requests per credential (Authorization header) and minute.
    pub fn with_api_rate_limit(mut self, per_minute: u32) -> Self {
        self.shared_mut().limits.per_credential = per_minute.max(1);
        self
    }

    /// Allow `per_minute` pushes per push-URL token and minute.
    pub fn with_push_rate_limit(mut self, per_minute: u32) -> Self {
        self.shared_mut().limits.per_push_token = per_minute.max(1);
        self
    }

    /// Allow `per_minute` requests per client address and minute.
    pub fn with_address_rate_limit(mut self, per_minute: u32) -> Self {
        self.shared_mut().limits.per_address = per_minute.max(1);
        self
    }

    /// Count requests somewhere else than this node's memory (a store shared by a cluster).
    pub fn with_rate_counter(mut self, counter: Arc<dyn ratelimit::RateCounter>) -> Self {
        self.shared_mut().limits.counter = counter;
        self
    }

    /// Close connections that take longer than this to send a request's headers.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.shared_mut().header_read_timeout = timeout;
        self
    }

    /// Answer `408` to a request not answered within this time (a body that never arrives).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.shared_mut().request_timeout = timeout;
        self
    }

    /// Believe `X-Forwarded-For` from these peers; cookies always `Secure` when `public_https`.
    pub fn with_network(mut self, network: client::Network) -> Self {
        self.shared_mut().network = network;
        self
    }
}

/// The whole application with its middleware.
pub fn app(state: AppState) -> Router {
    let request_timeout = state.request_timeout;
    Router::new()
        .merge(health::router())
        .merge(console::router(state.clone()))
        .merge(zammad::router())
        .merge(sipgate::router())
        .merge(placetel::router())
        .merge(zendesk::router())
        .merge(freshdesk::router())
        .nest("/api/hub", native::router())
        .fallback(extract::no_route)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::enforce))
        .layer(axum::middleware::from_fn_with_state(state, client::resolve))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(CatchPanicLayer::custom(extract::panic_response))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(request_context::RequestContextLayer)
}

/// Request headers (request line included) larger than this are refused with 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// A client must send a request's headers within this time, and an idle keep-alive connection
/// is closed after it: a slow sender cannot hold connections open for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A request must be answered within this time (the live streams excepted, which are streams).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Serve until `shutdown` resolves, then finish in-flight requests and return.
///
/// Our own accept loop rather than `axum::serve`, which offers no way to bound header size or
/// header read time: each connection gets hyper's HTTP/1 server with those limits, and the peer
/// address for [`client::ClientAddr`].
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    state.store.phones().warm_up();
    if let Ok(address) = listener.local_addr() {
        state.node.listening_on(address.to_string(), &state.store).await;
    }
    let retention = tokio::spawn(retention::run(state.clone()));
    let hub = state.hub.clone();
    let header_read_timeout = state.header_read_timeout;
    let (store, node) = (state.store.clone(), state.node.clone());
    let router = app(state);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).max_header_size(MAX_HEADER_BYTES);
    // Connections hold a receiver; closing the sender tells them to finish, and `closed()`
    // resolves when the last one has.
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let mut close = close_rx.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = close.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(close);
        });
    }
    drop(listener);
    // Live streams end when the hub closes; then every connection can finish.
    hub.close();
    drop(close_rx);
    let _ = close_tx.send(());
    close_tx.closed().await;
    retention.abort();
    if let Err(e) = node.leave(&store).await {
        tracing::warn!(error = %e, "cluster: cannot take this node out of the count; the others will in seconds");
    }
    Ok(())
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
