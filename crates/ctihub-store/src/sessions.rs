//! Agent console sessions. The browser holds a random token in a cookie; only its SHA-256 is
//! stored (the web crate hashes), so reading the table does not yield a usable session.
//! Expired rows are never returned and are purged lazily.

use ctihub_domain::Id;
use ctihub_domain::time::Millis;

use crate::ids::next_id;
use crate::{Store, StoreResult, on_pool};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConsoleSession {
    pub id: Id,
    pub user_id: Id,
    pub created_at: Millis,
    /// When the session was last extended; extensions are throttled on this.
    pub seen_at: Millis,
    pub expires_at: Millis,
}

impl Store {
    pub async fn create_console_session(
        &self,
        user_id: Id,
        token_hash: &str,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<ConsoleSession> {
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO console_sessions (id, token_hash, user_id, created_at, seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $4, $5)",
            )
            .bind(id)
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(ConsoleSession { id, user_id, created_at: now, seen_at: now, expires_at })
        })
    }

    /// The live session a token hash names; `None` when unknown or expired at `now`.
    pub async fn console_session(&self, token_hash: &str, now: Millis) -> StoreResult<Option<ConsoleSession>> {
        Ok(on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT id, user_id, created_at, seen_at, expires_at FROM console_sessions \
                 WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Slide a session's expiry forward. Never shortens it, and never revives an expired one.
    pub async fn extend_console_session(&self, id: Id, now: Millis, expires_at: Millis) -> StoreResult<bool> {
        let updated = on_pool!(self, |pool, PG| {
            sqlx::query(
                "UPDATE console_sessions SET seen_at = $2, expires_at = $3 \
                 WHERE id = $1 AND expires_at > $2 AND expires_at < $3",
            )
            .bind(id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Sign out: the token stops working at once, on every node.
    pub async fn delete_console_session(&self, token_hash: &str) -> StoreResult<bool> {
        let deleted = on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// End every session of a user (deactivated, password changed).
    pub async fn delete_console_sessions_of(&self, user_id: Id) -> StoreResult<u64> {
        Ok(on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    pub async fn purge_expired_console_sessions(&self, now: Millis) -> StoreResult<u64> {
        Ok(on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
