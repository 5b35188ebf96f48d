//! Request counts shared by every node of a cluster (PostgreSQL): one budget per key, however
//! many nodes the requests are spread over.
//!
//! Counting in the database on every request would put a write (and a hot row) in front of each
//! API call. Instead each node reads a key's shared count when it first sees the key in a
//! window, counts locally, and once a second adds what it counted to the shared row and reads
//! back the cluster's total. A node's answer is then its last view of the others plus its own
//! exact count, so a burst spread over N nodes can overshoot a limit by at most about one second
//! of the other nodes' traffic, and never by a node's own.
//!
//! Windows are aligned to the clock (every node must agree where one starts), one minute long
//! like [`super::MemoryCounter`]'s.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ctihub_domain::time::{Millis, now_millis};
use ctihub_store::Store;

use super::{RateCounter, Verdict, WINDOW};

/// How often a node adds its counts to the shared ones.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    window_start: Millis,
    /// Every node's hits as of the last sync, this node's included.
    shared: u32,
    /// This node's hits since the last sync.
    pending: u32,
}

#[derive(Debug)]
pub struct SharedCounter {
    window_ms: Millis,
    counts: Mutex<HashMap<String, Count>>,
    /// Where the counts are shared; `None` in unit tests.
    store: Option<Store>,
}

impl SharedCounter {
    /// A counter that syncs with the other nodes on `store` every [`SYNC_EVERY`] while it lives.
    /// Must be called inside a Tokio runtime.
    pub fn start(store: &Store) -> Arc<SharedCounter> {
        let counter = Arc::new(SharedCounter { store: Some(store.clone()), ..SharedCounter::new(WINDOW) });
        let (store, syncing) = (store.clone(), Arc::downgrade(&counter));
        tokio::spawn(async move {
            // Ends when the counter is dropped (the app state went away).
            while let Some(counter) = syncing.upgrade() {
                if let Err(e) = counter.sync(&store).await {
                    tracing::warn!(error = %e, "rate limits: cannot share counts; limiting on this node's alone");
                }
                drop(counter);
                tokio::time::sleep(SYNC_EVERY).await;
            }
        });
        counter
    }

    fn new(window: Duration) -> SharedCounter {
        SharedCounter { window_ms: window.as_millis() as Millis, counts: Default::default(), store: None }
    }

    /// The start of the window `now` falls in, and when the next one starts.
    pub fn window_of(&self, now: Millis) -> (Millis, Millis) {
        let start = now - now.rem_euclid(self.window_ms);
        (start, start + self.window_ms)
    }

    /// Whether this node has counted `key` in the window of `now` (and so knows the others'
    /// count as of its last sync).
    fn knows(&self, key: &str, now: Millis) -> bool {
        let (start, _) = self.window_of(now);
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.get(key).is_some_and(|c| c.window_start == start)
    }

    /// Take the cluster's count for `key` in the window starting at `start`, read now.
    fn learn(&self, key: &str, start: Millis, shared: u32) {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(key.to_owned()).or_default();
        if count.window_start != start {
            *count = Count { window_start: start, ..Count::default() };
        }
        count.shared = count.shared.max(shared);
    }

    /// Count one request on `key` at `now` against `limit`, unless the window's budget, as far
    /// as this node knows the others' counts, is spent.
    pub fn check_at(&self, key: &str, limit: u32, now: Millis) -> Verdict {
        let (start, end) = self.window_of(now);
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(key.to_owned()).or_default();
        if count.window_start != start {
            *count = Count { window_start: start, ..Count::default() };
        }
        let used = count.shared.saturating_add(count.pending);
        if used >= limit {
            let left_ms = (end - now).max(0) as u64;
            return Verdict::Limited { retry_after_secs: left_ms.div_ceil(1000).max(1) };
        }
        count.pending += 1;
        Verdict::Allowed { remaining: limit - used - 1 }
    }

    /// Add this node's pending hits to the shared counts and take the totals back; forget
    /// windows that are over.
    pub async fn sync(&self, store: &Store) -> ctihub_store::StoreResult<()> {
        let (current, _) = self.window_of(now_millis());
        let batch: Vec<(String, u32)> = {
            let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            counts.retain(|_, c| c.window_start == current);
            // Keys with nothing pending are synced too: their totals still grow on other nodes.
            counts.iter_mut().map(|(key, c)| (key.clone(), std::mem::take(&mut c.pending))).collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        let totals = match store.add_rate_limit_hits(current, &batch).await {
            Ok(totals) => totals,
            Err(e) => {
                // Put the hits back, so the next sync shares them.
                let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                for (key, pending) in batch {
                    if let Some(c) = counts.get_mut(&key).filter(|c| c.window_start == current) {
                        c.pending += pending;
                    }
                }
                return Err(e);
            }
        };
        {
            let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for ((key, _), total) in batch.iter().zip(totals) {
                if let Some(c) = counts.get_mut(key).filter(|c| c.window_start == current) {
                    c.shared = total;
                }
            }
        }
        store.purge_rate_limit_counts(current - self.window_ms).await?;
        Ok(())
    }
}

impl RateCounter for SharedCounter {
    fn check<'a>(&'a self, key: &'a str, limit: u32) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async move {
            let now = now_millis();
            if let Some(store) = &self.store
                && !self.knows(key, now)
            {
                // First sight of the key in this window: start from what the others counted.
                let (start, _) = self.window_of(now);
                match store.rate_limit_count(key, start).await {
                    Ok(shared) => self.learn(key, start, shared),
                    Err(e) => tracing::warn!(error = %e, "rate limits: cannot read the shared count"),
                }
            }
            self.check_at(key, limit, now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_aligned_window_allows_its_budget_then_says_when_to_retry() {
        let counter = SharedCounter::new(WINDOW);
        assert_eq!(counter.check_at("a", 2, 60_000), Verdict::Allowed { remaining: 1 });
        assert_eq!(counter.check_at("a", 2, 70_000), Verdict::Allowed { remaining: 0 });
        assert_eq!(counter.check_at("a", 2, 75_000), Verdict::Limited { retry_after_secs: 45 });
        assert_eq!(counter.check_at("a", 2, 119_999), Verdict::Limited { retry_after_secs: 1 });
        assert_eq!(counter.check_at("b", 2, 75_000), Verdict::Allowed { remaining: 1 }, "keys apart");
        assert_eq!(counter.check_at("a", 2, 120_000), Verdict::Allowed { remaining: 1 }, "a new window");
        assert_eq!(counter.window_of(125_000), (120_000, 180_000));
    }
}
