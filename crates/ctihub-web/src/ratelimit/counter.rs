//! Counting requests against a budget, apart from HTTP: the middleware asks `check(key, limit)`
//! and gets "allowed, this many left" or "wait this long". This node's memory is one place to
//! count; a store shared by every node (cluster mode) is another, behind the same trait.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window every budget is counted in: limits are "per minute".
pub const WINDOW: Duration = Duration::from_secs(60);

/// What one request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed {
        remaining: u32,
    },
    /// Whole seconds until the key's window ends, at least 1 (clients sleep on it).
    Limited {
        retry_after_secs: u64,
    },
}

/// Counts requests per key in fixed one-minute windows.
pub trait RateCounter: Send + Sync + std::fmt::Debug {
    /// Count one request for `key` against `limit` per window. A refused request is not counted.
    fn check<'a>(&'a self, key: &'a str, limit: u32) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;
}

/// This node's memory. Limits hold per node: N nodes allow up to N times the budget.
#[derive(Debug, Default)]
pub struct MemoryCounter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl MemoryCounter {
    pub(crate) fn check_at(&self, key: &str, limit: u32, now: Instant) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget finished windows now and then so the map stays as small as the active clients.
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = match windows.get_mut(key) {
            Some(entry) => entry,
            None => windows.entry(key.to_owned()).or_insert((now, 0)),
        };
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Verdict::Limited { retry_after_secs: (left.as_secs_f64().ceil() as u64).max(1) };
        }
        entry.1 += 1;
        Verdict::Allowed { remaining: limit - entry.1 }
    }
}

impl RateCounter for MemoryCounter {
    fn check<'a>(&'a self, key: &'a str, limit: u32) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        let verdict = self.check_at(key, limit, Instant::now());
        Box::pin(std::future::ready(verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_budget_then_says_when_to_retry() {
        let counter = MemoryCounter::default();
        let start = Instant::now();
        assert_eq!(counter.check_at("a", 2, start), Verdict::Allowed { remaining: 1 });
        assert_eq!(counter.check_at("a", 2, start), Verdict::Allowed { remaining: 0 });
        assert_eq!(
            counter.check_at("a", 2, start + Duration::from_secs(15)),
            Verdict::Limited { retry_after_secs: 45 }
        );
        assert_eq!(
            counter.check_at("a", 2, start + Duration::from_millis(59_900)),
            Verdict::Limited { retry_after_secs: 1 },
            "never 0: a client told to wait 0 seconds hammers"
        );
        // Another key has its own budget.
        assert_eq!(counter.check_at("b", 2, start), Verdict::Allowed { remaining: 1 });
        // The next window starts afresh.
        assert_eq!(counter.check_at("a", 2, start + Duration::from_secs(61)), Verdict::Allowed { remaining: 1 });
    }
}
