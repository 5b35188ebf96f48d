//! Rate limits on every API surface and the console, counted per client address and per
//! credential, answered beyond the budget with `429` and `Retry-After` in whole seconds (zenpy
//! calls `int()` on it and sleeps) in the error shape of the surface the request went to.
//!
//! Two budgets per request, checked address first:
//! - per client address (after `trusted_proxies`, see [`crate::client`]): every request but
//!   health checks and static assets. Stops one host flooding, or guessing passwords or push
//!   tokens with a fresh guess each time.
//! - per credential: the `Authorization` header (Zendesk, Freshdesk, Zammad log, native API),
//!   or the token in a push URL (Zammad generic CTI, sipgate, placetel), which has its own,
//!   larger budget because one PBX sends every event of a site with it. The console is covered
//!   by the address budget only.
//!
//! Keys are SHA-256 digests: the counter never holds a credential. The counting itself sits
//! behind [`RateCounter`], so a cluster can count in a shared store instead of in memory.

mod counter;
mod shared;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use counter::{MemoryCounter, RateCounter, Verdict, WINDOW};
pub use shared::SharedCounter;

use crate::AppState;
use crate::client::ClientAddr;
use crate::error::ErrorBody;

/// Requests per minute per API credential: Zendesk's own default.
pub const DEFAULT_API_PER_MINUTE: u32 = 700;
/// Requests per minute per push-URL token: a PBX sends several events per call.
pub const DEFAULT_PUSH_PER_MINUTE: u32 = 6000;
/// Requests per minute per client address.
pub const DEFAULT_ADDRESS_PER_MINUTE: u32 = 6000;

/// The budgets, and where requests are counted.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub per_credential: u32,
    pub per_push_token: u32,
    pub per_address: u32,
    pub counter: Arc<dyn RateCounter>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_credential: DEFAULT_API_PER_MINUTE,
            per_push_token: DEFAULT_PUSH_PER_MINUTE,
            per_address: DEFAULT_ADDRESS_PER_MINUTE,
            counter: Arc::new(MemoryCounter::default()),
        }
    }
}

/// Which API a path belongs to: it decides the shape of a 429 and the credential counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    Zendesk,
    Freshdesk,
    /// Zammad's generic CTI push (`token` in the URL) and its caller log (Authorization).
    Zammad,
    /// sipgate and placetel, answered in XML.
    Xml,
    Native,
    Console,
    /// Health checks, metrics and static assets: never limited (monitoring must not be locked
    /// out by the traffic it is watching).
    Exempt,
}

pub(crate) fn surface(path: &str) -> Surface {
    if path == "/healthz" || path == "/metrics" || path.starts_with("/console/assets/") {
        Surface::Exempt
    } else if path.starts_with("/freshdesk/") || path.starts_with("/api/v2/integrations/cti/") {
        Surface::Freshdesk
    } else if path.starts_with("/api/v2/") {
        Surface::Zendesk
    } else if path.starts_with("/api/v1/cti/") || path.starts_with("/api/v1/integration/cti/") {
        Surface::Zammad
    } else if path.starts_with("/api/v1/sipgate/") || path.starts_with("/api/v1/placetel/") {
        Surface::Xml
    } else if path == "/console" || path.starts_with("/console/") {
        Surface::Console
    } else {
        Surface::Native
    }
}

/// The token of a push URL (`/api/v1/cti/<token>`, `/api/v1/sipgate/<token>/in`, …), if the
/// path is one.
pub(crate) fn push_token(path: &str) -> Option<&str> {
    const PREFIXES: &[&str] = &["/api/v1/cti/", "/api/v1/integration/cti/", "/api/v1/sipgate/", "/api/v1/placetel/"];
    // Routes under these prefixes that are not tokens.
    const NOT_TOKENS: &[&str] = &["log", "done"];
    PREFIXES.iter().find_map(|prefix| {
        let rest = path.strip_prefix(prefix)?;
        let token = rest.split('/').next().unwrap_or("");
        (!token.is_empty() && !NOT_TOKENS.contains(&token)).then_some(token)
    })
}

fn digest(kind: &str, secret: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update([0]);
    hasher.update(secret);
    format!("{kind}:{}", hex::encode(&hasher.finalize()[..16]))
}

/// The credential a request is counted against, with its budget.
fn credential(limits: &RateLimits, surface: Surface, path: &str, headers: &HeaderMap) -> Option<(String, u32)> {
    if matches!(surface, Surface::Console | Surface::Exempt) {
        return None;
    }
    if let Some(token) = push_token(path) {
        return Some((digest("push", token.as_bytes()), limits.per_push_token));
    }
    headers.get(header::AUTHORIZATION).map(|v| (digest("credential", v.as_bytes()), limits.per_credential))
}

pub(crate) async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let surface = surface(path);
    if surface == Surface::Exempt {
        return next.run(request).await;
    }
    let limits = &state.limits;
    let address = request.extensions().get::<ClientAddr>().map(|a| a.0.to_string()).unwrap_or_default();
    let address_key = format!("address:{address}");
    let by_address = limits.counter.check(&address_key, limits.per_address).await;
    if let Verdict::Limited { retry_after_secs } = by_address {
        tracing::warn!(client = %address, ?surface, "rate limited by client address");
        return too_many(surface, retry_after_secs, limits.per_address);
    }
    let (verdict, limit) = match credential(limits, surface, path, request.headers()) {
        Some((key, limit)) => (limits.counter.check(&key, limit).await, limit),
        None => (by_address, limits.per_address),
    };
    match verdict {
        Verdict::Limited { retry_after_secs } => {
            tracing::warn!(client = %address, ?surface, "rate limited by credential");
            too_many(surface, retry_after_secs, limit)
        }
        Verdict::Allowed { remaining } => {
            let mut response = next.run(request).await;
            budget_headers(surface, response.headers_mut(), limit, remaining);
            response
        }
    }
}

/// The budget on normal answers, where the vendor sends it. Never `Retry-After`: node-zendesk
/// reads any answer carrying it as rate-limited.
fn budget_headers(surface: Surface, headers: &mut HeaderMap, limit: u32, remaining: u32) {
    match surface {
        Surface::Zendesk => {
            headers.insert("x-rate-limit", HeaderValue::from(limit));
            headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
        }
        Surface::Freshdesk => {
            headers.insert("x-ratelimit-total", HeaderValue::from(limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        }
        _ => {}
    }
}

const MESSAGE: &str = "Too many requests; wait for the number of seconds in Retry-After";

/// A 429 in the surface's own shape.
fn too_many(surface: Surface, retry_after_secs: u64, limit: u32) -> Response {
    let mut response = match surface {
        // Zendesk's own answer: plain text, and zenpy and node-zendesk expect exactly that.
        Surface::Zendesk => {
            (StatusCode::TOO_MANY_REQUESTS, "Number of allowed API requests per minute exceeded").into_response()
        }
        Surface::Freshdesk => crate::freshdesk::json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"code": "too_many_requests", "message": "You have exceeded the limit of requests per minute"}),
        ),
        Surface::Zammad => crate::zammad::ZammadError::new(StatusCode::TOO_MANY_REQUESTS, MESSAGE).into_response(),
        Surface::Xml => crate::sipgate::xml::XmlError::new(StatusCode::TOO_MANY_REQUESTS, MESSAGE).into_response(),
        Surface::Native => {
            let body = ErrorBody { error: "rate_limited", message: MESSAGE.into(), details: Vec::new() };
            (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
        }
        Surface::Console | Surface::Exempt => {
            (StatusCode::TOO_MANY_REQUESTS, format!("Too many requests; try again in {retry_after_secs} seconds."))
                .into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    budget_headers(surface, headers, limit, 0);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_surface() {
        assert_eq!(surface("/api/v2/users/me.json"), Surface::Zendesk);
        assert_eq!(surface("/api/v2/integrations/cti/pop"), Surface::Freshdesk);
        assert_eq!(surface("/freshdesk/api/v2/contacts"), Surface::Freshdesk);
        assert_eq!(surface("/api/v1/cti/abc"), Surface::Zammad);
        assert_eq!(surface("/api/v1/sipgate/abc/in"), Surface::Xml);
        assert_eq!(surface("/api/hub/me"), Surface::Native);
        assert_eq!(surface("/console/login"), Surface::Console);
        assert_eq!(surface("/console/assets/console.js"), Surface::Exempt);
        assert_eq!(surface("/healthz"), Surface::Exempt);
    }

    #[test]
    fn push_tokens_are_found_in_their_urls_only() {
        assert_eq!(push_token("/api/v1/cti/s3cret"), Some("s3cret"));
        assert_eq!(push_token("/api/v1/sipgate/s3cret/in/"), Some("s3cret"));
        assert_eq!(push_token("/api/v1/placetel/s3cret"), Some("s3cret"));
        assert_eq!(push_token("/api/v1/cti/log"), None);
        assert_eq!(push_token("/api/v1/cti/done/12"), None);
        assert_eq!(push_token("/api/hub/me"), None);
    }

    #[test]
    fn keys_never_hold_the_secret() {
        let key = digest("push", b"s3cret");
        assert!(!key.contains("s3cret"));
        assert_ne!(key, digest("credential", b"s3cret"));
    }
}
