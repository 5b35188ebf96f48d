//! Whether an agent has the console open somewhere: a pop can reach them, so the Zendesk display
//! APIs answer 200 and the Freshdesk CTI dialect counts them online. Sessions are `sessions.rs`'s;
//! this module reads them and keeps the open event streams, which the node serving each one
//! vouches for while it beats (`cluster.rs`).

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
    /// Note that a console of the session `token_hash` holds its live event stream open on
    /// `node_id`, under the id `stream_id`, until [`Store::close_console_stream`].
    pub async fn open_console_stream(
        &self,
        stream_id: &str,
        node_id: &str,
        user_id: Id,
        token_hash: &str,
        now: Millis,
    ) -> StoreResult<()> {
        on_pool!(self, |pool, PG| {
            sqlx::query(
                "INSERT INTO console_streams (id, node_id, user_id, token_hash, opened_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(stream_id)
            .bind(node_id)
            .bind(user_id)
            .bind(token_hash)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn close_console_stream(&self, stream_id: &str) -> StoreResult<()> {
        on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM console_streams WHERE id = $1").bind(stream_id).execute(pool).await?;
        });
        Ok(())
    }

    /// True when `user_id` has a console that can receive a pop now: an open event stream, on a
    /// node seen alive since `nodes_seen_since`, of a session still live at `now`.
    pub async fn has_open_console(&self, user_id: Id, now: Millis, nodes_seen_since: Millis) -> StoreResult<bool> {
        let count: i64 = on_pool!(self, |pool, PG| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM console_streams s \
                 JOIN cluster_nodes n ON n.id = s.node_id \
                 JOIN console_sessions c ON c.token_hash = s.token_hash \
                 WHERE s.user_id = $1 AND n.seen_at >= $3 AND c.expires_at > $2",
            )
            .bind(user_id)
            .bind(now)
            .bind(nodes_seen_since)
            .fetch_one(pool)
            .await?
        });
        Ok(count > 0)
    }
}
