//! The console's live board: calls still ringing or being talked on.

use ctihub_domain::call::Call;
use ctihub_domain::time::Millis;

use crate::{Store, StoreResult, on_pool};

impl Store {
    /// Calls ringing or in progress that started at or after `since`, newest first. The bound
    /// keeps a call whose hangup never arrived from sitting on the board for good, and lets the
    /// query use the `started_at` index instead of scanning every call.
    pub async fn live_calls(&self, since: Millis, limit: i64) -> StoreResult<Vec<Call>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id FROM calls WHERE started_at >= $1 AND state IN ('ringing', 'in_progress') \
             ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ));
        let ids: Vec<i64> = on_pool!(self, |pool, PG| sqlx::query_scalar(sql).bind(since).fetch_all(pool).await?);
        let mut calls = self.get_calls(&ids).await?;
        calls.sort_by_key(|c| std::cmp::Reverse(c.id));
        Ok(calls)
    }
}
