//! Whether an agent has the console open somewhere: the Freshdesk CTI dialect treats such an
//! agent as online. Read-only beside `sessions.rs`, which owns the table.

use ctihub_domain::Id;
use ctihub_domain::time::Millis;

use crate::{Store, StoreResult, on_pool};

impl Store {
    /// True when `user_id` holds at least one console session that is live at `now`.
    pub async fn has_live_console_session(&self, user_id: Id, now: Millis) -> StoreResult<bool> {
        let count: i64 = on_pool!(self, |pool, PG| {
            sqlx::query_scalar("SELECT COUNT(*) FROM console_sessions WHERE user_id = $1 AND expires_at > $2")
                .bind(user_id)
                .bind(now)
                .fetch_one(pool)
                .await?
        });
        Ok(count > 0)
    }
}

impl Store {
    /// Note that this session's console holds its live event stream open at `now`.
    pub async fn touch_console_stream(&self, token_hash: &str, now: Millis) -> StoreResult<()> {
        on_pool!(self, |pool, PG| {
            sqlx::query("UPDATE console_sessions SET stream_seen_at = $2 WHERE token_hash = $1")
                .bind(token_hash)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// True when `user_id` has a live console session whose event stream was seen open since
    /// `since`: a console that can receive a pop now.
    pub async fn has_open_console(&self, user_id: Id, now: Millis, since: Millis) -> StoreResult<bool> {
        let count: i64 = on_pool!(self, |pool, PG| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM console_sessions WHERE user_id = $1 AND expires_at > $2 AND stream_seen_at >= $3",
            )
            .bind(user_id)
            .bind(now)
            .bind(since)
            .fetch_one(pool)
            .await?
        });
        Ok(count > 0)
    }
}
