//! Events for calls ctihub does not know yet. A PBX may send an event for a call id before the
//! event that announces the call (or after the call was purged); the event was acknowledged, so
//! it is kept here, keyed by the source's id, and moved to the call when a call takes that id.

use ctihub_domain::call::{ExternalRef, NewCallEvent};
use ctihub_domain::time::now_millis;

use crate::ids::next_id;
use crate::json::to_text;
use crate::{Store, StoreResult, on_pool};

/// Give the events parked under a source's id (`$2`, `$3`) to call `$1`.
pub(crate) const ADOPT_SQL: &str = "INSERT INTO call_events (id, call_id, source, kind, payload, occurred_at, received_at) \
     SELECT id, $1, source, kind, payload, occurred_at, received_at FROM parked_call_events \
     WHERE source = $2 AND external_id = $3";
/// Whether any event is parked at all.
pub(crate) const ANY_PARKED_SQL: &str = "SELECT EXISTS (SELECT 1 FROM parked_call_events)";
pub(crate) const UNPARK_SQL: &str = "DELETE FROM parked_call_events WHERE source = $1 AND external_id = $2";

/// Move the events parked under `r` to `call_id`, inside the caller's transaction:
/// `adopt_parked_events!(tx, call_id, r)`. Their ids come from the global sequence, so they keep
/// them as call events.
macro_rules! adopt_parked_events {
    ($tx:expr, $call_id:expr, $ref:expr) => {{
        let r: &ctihub_domain::call::ExternalRef = $ref;
        sqlx::query($crate::parked_events::ADOPT_SQL)
            .bind($call_id)
            .bind(&r.source)
            .bind(&r.external_id)
            .execute(&mut *$tx)
            .await?;
        sqlx::query($crate::parked_events::UNPARK_SQL).bind(&r.source).bind(&r.external_id).execute(&mut *$tx).await?;
    }};
}
pub(crate) use adopt_parked_events;

impl Store {
    /// Keep an event for the call `r` names until that call exists.
    pub async fn park_call_event(&self, r: &ExternalRef, event: &NewCallEvent) -> StoreResult<()> {
        let now = now_millis();
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO parked_call_events (id, source, external_id, kind, payload, occurred_at, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(&r.source)
            .bind(&r.external_id)
            .bind(&event.kind)
            .bind(to_text(&event.payload))
            .bind(event.occurred_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// How many events wait for the call `r` names.
    pub async fn parked_call_events(&self, r: &ExternalRef) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool, PG| {
            sqlx::query_scalar("SELECT COUNT(*) FROM parked_call_events WHERE source = $1 AND external_id = $2")
                .bind(&r.source)
                .bind(&r.external_id)
                .fetch_one(pool)
                .await?
        }))
    }
}
