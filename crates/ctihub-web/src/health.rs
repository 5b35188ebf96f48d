//! `/healthz` for load balancers and `ctihub healthcheck`; `/metrics` for Prometheus.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics))
}

/// 200 only when the database answers and PBX events can be stored: a node that cannot should
/// leave the pool, and its operator should see why.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(e) = state.store.ping().await {
        tracing::error!(error = %e, "health check: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "database": "unreachable"})));
    }
    if let Some(e) = state.store.ledger_failure() {
        tracing::error!(error = %e, "health check: call events cannot be stored");
        let body = json!({"status": "unavailable", "database": "ok", "events": e.to_string()});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    (StatusCode::OK, Json(json!({"status": "ok"})))
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::handle().render())
}
