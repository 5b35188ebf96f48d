//! API tokens. Only a SHA-256 of each token is stored; the web crate hashes what a client sends
//! and looks the hash up, so a leaked database does not leak usable tokens.

use std::sync::LazyLock;

use ctihub_domain::Id;
use ctihub_domain::time::now_millis;
use ctihub_domain::user::User;
use rusqlite::OptionalExtension;

use crate::ids::next_id;
use crate::users::{USER_COLUMNS, UserRow};
use crate::{Store, StoreResult, on_pool};

/// The user a token hash (`$1`) belongs to, in one probe of the unique index on the hash.
static TOKEN_USER_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {USER_COLUMNS} FROM users WHERE id = (SELECT user_id FROM api_tokens WHERE token_hash = $1)")
});

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ApiToken {
    pub id: Id,
    pub user_id: Id,
    pub label: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Store {
    pub async fn create_api_token(&self, user_id: Id, label: Option<&str>, token_hash: &str) -> StoreResult<ApiToken> {
        self.get_user(user_id).await?;
        let now = now_millis();
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, label, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(user_id)
            .bind(label)
            .bind(token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(ApiToken { id, user_id, label: label.map(str::to_owned), created_at: now, last_used_at: None })
        })
    }

    /// The active user a token hash belongs to. The lookup is by unique index on the hash, so
    /// timing reveals nothing about other tokens.
    pub async fn user_for_token_hash(&self, token_hash: &str) -> StoreResult<Option<User>> {
        // Every API request asks this. On an SQLite file it is read through rusqlite: two
        // round trips to sqlx's worker thread were most of an identification request's time.
        let row: Option<UserRow> = match &self.reader {
            Some(reader) => {
                reader
                    .read_here(|conn| {
                        let mut query = conn.prepare_cached(&TOKEN_USER_SQL)?;
                        Ok(query.query_row([token_hash], |row| UserRow::from_sqlite_at(row, 0)).optional()?)
                    })
                    .await?
            }
            None => on_pool!(self, |pool, PG| {
                sqlx::query_as(TOKEN_USER_SQL.as_str()).bind(token_hash).fetch_optional(pool).await?
            }),
        };
        Ok(row.map(User::try_from).transpose()?.filter(|u| u.active))
    }

    pub async fn list_api_tokens(&self, user_id: Id) -> StoreResult<Vec<ApiToken>> {
        on_pool!(self, |pool, PG| Ok(sqlx::query_as(
            "SELECT id, user_id, label, created_at, last_used_at FROM api_tokens WHERE user_id = $1 ORDER BY id"
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    pub async fn revoke_api_token(&self, token_id: Id) -> StoreResult<bool> {
        let done = on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM api_tokens WHERE id = $1").bind(token_id).execute(pool).await?.rows_affected()
        });
        Ok(done > 0)
    }
}
