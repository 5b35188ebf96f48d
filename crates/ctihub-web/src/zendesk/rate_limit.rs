//! Zendesk's rate limit: so many requests per minute per credential, answered beyond that with
//! `429`, `Retry-After` in whole seconds (zenpy calls `int()` on it and sleeps) and Zendesk's
//! plain-text body. Normal answers carry `X-Rate-Limit` and `X-Rate-Limit-Remaining`, and never
//! `Retry-After`: node-zendesk reads any answer with that header as rate-limited.
//!
//! Counted per node in fixed one-minute windows, keyed by a hash of the `Authorization` header
//! (requests without one share a key), so one integration's burst does not slow another.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Zendesk's own default for its API (requests per minute).
pub const DEFAULT_PER_MINUTE: u32 = 700;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<u64, (Instant, u32)>>,
}

/// What one request may do.
#[derive(Debug, PartialEq)]
enum Verdict {
    Allowed { remaining: u32 },
    Limited { retry_after_secs: u64 },
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute: per_minute.max(1), windows: Mutex::new(HashMap::new()) }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    fn check(&self, key: u64, now: Instant) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget finished windows now and then so the map stays as small as the active clients.
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_minute {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Verdict::Limited { retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64 };
        }
        entry.1 += 1;
        Verdict::Allowed { remaining: self.per_minute - entry.1 }
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(DEFAULT_PER_MINUTE)
    }
}

fn credential_key(request: &Request) -> u64 {
    let mut hasher = DefaultHasher::new();
    request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes).hash(&mut hasher);
    hasher.finish()
}

pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiter = &state.rate_limiter;
    let limit = HeaderValue::from(limiter.per_minute());
    match limiter.check(credential_key(&request), Instant::now()) {
        Verdict::Limited { retry_after_secs } => {
            let mut response =
                (StatusCode::TOO_MANY_REQUESTS, "Number of allowed API requests per minute exceeded").into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            headers.insert("x-rate-limit", limit);
            headers.insert("x-rate-limit-remaining", HeaderValue::from(0));
            response
        }
        Verdict::Allowed { remaining } => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.insert("x-rate-limit", limit);
            headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_budget_then_says_when_to_retry() {
        let limiter = RateLimiter::new(2);
        let start = Instant::now();
        assert_eq!(limiter.check(1, start), Verdict::Allowed { remaining: 1 });
        assert_eq!(limiter.check(1, start), Verdict::Allowed { remaining: 0 });
        assert_eq!(limiter.check(1, start + Duration::from_secs(15)), Verdict::Limited { retry_after_secs: 45 });
        // Another credential has its own budget.
        assert_eq!(limiter.check(2, start), Verdict::Allowed { remaining: 1 });
        // The next window starts afresh.
        assert_eq!(limiter.check(1, start + Duration::from_secs(61)), Verdict::Allowed { remaining: 1 });
    }
}
