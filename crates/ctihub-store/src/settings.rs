//! Installation settings: named JSON documents (CTI configuration, routing tables, …) that
//! every node reads from the database, so a change on one node holds for all.

use ctihub_domain::time::now_millis;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{from_text, to_text};
use crate::{Store, StoreResult, on_pool};

pub(crate) const SETTING_TEXT_SQL: &str = "SELECT value FROM settings WHERE name = $1";

impl Store {
    pub async fn get_setting<T: DeserializeOwned>(&self, name: &str) -> StoreResult<Option<T>> {
        let text = self.setting_text(name).await?;
        text.map(|t| from_text(name, &t)).transpose()
    }

    /// A setting's stored document, unparsed.
    pub(crate) async fn setting_text(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(on_pool!(self, |pool, PG| sqlx::query_scalar(SETTING_TEXT_SQL).bind(name).fetch_optional(pool).await?))
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
