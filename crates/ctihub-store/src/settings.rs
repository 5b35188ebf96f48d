//! Installation settings: named JSON documents (CTI configuration, routing tables, …) that
//! every node reads from the database, so a change on one node holds for all.

use ctihub_domain::time::now_millis;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{from_text, to_text};
use crate::{Store, StoreResult, on_pool};

impl Store {
    pub async fn get_setting<T: DeserializeOwned>(&self, name: &str) -> StoreResult<Option<T>> {
        let text: Option<String> = on_pool!(self, |pool, PG| {
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1").bind(name).fetch_optional(pool).await?
        });
        text.map(|t| from_text(name, &t)).transpose()
    }

    pub async fn put_setting<T: Serialize>(&self, name: &str, value: &T) -> StoreResult<()> {
        let text = to_text(value);
        on_pool!(self, |pool, PG| {
            sqlx::query(
                "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(text)
            .bind(now_millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
