//! Purges what is kept only for a while: journal entries past the configured retention (Zammad
//! keeps 12 months), and hub events older than a day (consoles replay only recent misses).
//! In a cluster one node purges at a time; the others skip that hour's run.

use std::time::Duration;

use ctihub_domain::time::{Millis, now_millis};
use ctihub_store::WhenLocked;

use crate::AppState;
use crate::cti::load_config;

const EVERY: Duration = Duration::from_secs(3600);
const HUB_EVENTS_KEPT_MS: i64 = 24 * 3600 * 1000;

pub(crate) async fn run(state: AppState) {
    loop {
        match state.store.exclusively("retention", WhenLocked::Skip, purge_once(&state)).await {
            Ok(Some(())) => {}
            Ok(None) => tracing::debug!("retention: another node is purging; skipped"),
            Err(e) => tracing::warn!(error = %e, "retention: purge failed; retrying in an hour"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

pub async fn purge_once(state: &AppState) -> Result<(), ctihub_store::StoreError> {
    purge_once_at(state, now_millis()).await
}

/// One purge as if the time were `now` (tests move the clock instead of waiting a month).
pub async fn purge_once_at(state: &AppState, now: Millis) -> Result<(), ctihub_store::StoreError> {
    let config = load_config(&state.store).await?;
    let calls = state.store.purge_calls_before(now - config.retention_days * 24 * 3600 * 1000).await?;
    let events = state.store.purge_hub_events_before(now - HUB_EVENTS_KEPT_MS).await?;
    if calls + events > 0 {
        tracing::info!(calls, hub_events = events, "retention: purged old records");
    }
    Ok(())
}
