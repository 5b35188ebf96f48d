//! Keeping the caller index in step with the default region.
//!
//! Index keys depend on the region national numbers are read in (`030 5557 1600` is Berlin only
//! in `DE`). The region each database was keyed with is recorded; when a server starts with a
//! different one, every stored key is recomputed once, in batches, before it serves: users'
//! phone fields, the numbers customers wrote in their first messages, and calls' customer keys.

use ctihub_domain::call::Direction;
use ctihub_domain::custom_field::{FieldTarget, FieldType};
use ctihub_domain::phone::{CallerLevel, PhoneKey};
use ctihub_domain::time::now_millis;
use ctihub_domain::user::UserPhone;

use crate::caller_index::index_caller_key;
use crate::json::{from_text, to_text};
use crate::{Store, StoreResult, on_pool};

const REGION_SETTING: &str = "phone_index_region";
const BATCH: i64 = 500;

/// How much a re-keying touched.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RekeyReport {
    pub users: u64,
    pub tickets: u64,
    pub calls: u64,
}

impl Store {
    /// The region the stored keys were computed with, if recorded.
    pub async fn phone_index_region(&self) -> StoreResult<Option<String>> {
        self.get_setting(REGION_SETTING).await
    }

    /// Record this store's region on a fresh database, or re-key everything when the database
    /// was keyed with another one. Returns what was re-keyed (nothing when the regions agree).
    pub async fn align_phone_index(&self) -> StoreResult<Option<RekeyReport>> {
        let region = self.phones.region().code().to_owned();
        match self.phone_index_region().await? {
            Some(stored) if stored == region => Ok(None),
            Some(stored) => {
                tracing::warn!(from = %stored, to = %region, "default region changed; re-keying the caller index");
                let report = self.rekey_phone_index().await?;
                self.put_setting(REGION_SETTING, &region).await?;
                tracing::info!(?report, "caller index re-keyed");
                Ok(Some(report))
            }
            None => {
                // A database from before the region was recorded may hold keys from any region.
                let report = self.rekey_phone_index().await?;
                self.put_setting(REGION_SETTING, &region).await?;
                Ok(Some(report).filter(|r| r.users + r.tickets + r.calls > 0))
            }
        }
    }

    /// Recompute every stored phone key with this store's region.
    pub async fn rekey_phone_index(&self) -> StoreResult<RekeyReport> {
        let mut report = RekeyReport::default();
        let phone_fields: Vec<String> = self
            .list_custom_fields(FieldTarget::User)
            .await?
            .into_iter()
            .filter(|f| f.field_type == FieldType::Phone)
            .map(|f| f.key)
            .collect();
        let now = now_millis();

        let mut after = 0_i64;
        loop {
            let rows: Vec<(i64, String, String, Option<String>)> = on_pool!(self, |pool, PG| {
                sqlx::query_as(
                    "SELECT id, phones, custom_fields, extension FROM users WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after)
                .bind(BATCH)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = rows.last() else { break };
            after = last.0;
            on_pool!(self, |pool, PG| {
                let mut tx = crate::begin_write!(pool, PG);
                for (id, phones, custom, extension) in &rows {
                    let mut phones: Vec<UserPhone> = from_text("users.phones", phones)?;
                    for phone in &mut phones {
                        phone.key = self.phones.normalize(&phone.raw).key().cloned();
                    }
                    let custom: serde_json::Map<String, serde_json::Value> = from_text("users.custom_fields", custom)?;
                    let texts = phones
                        .iter()
                        .map(|p| p.raw.clone())
                        .chain(phone_fields.iter().filter_map(|k| custom.get(k)?.as_str().map(str::to_owned)))
                        .chain(extension.clone());
                    let mut keys: Vec<PhoneKey> = Vec::new();
                    for key in texts.filter_map(|t| self.phones.normalize(&t).key().cloned()) {
                        if !keys.iter().any(|k| k.as_str() == key.as_str()) {
                            keys.push(key);
                        }
                    }
                    sqlx::query("UPDATE users SET phones = $2 WHERE id = $1")
                        .bind(id)
                        .bind(to_text(&phones))
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM caller_index WHERE user_id = $1 AND level = 'known'")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    for key in &keys {
                        index_caller_key!(tx, key, id, CallerLevel::Known, None::<i64>, now);
                    }
                }
                tx.commit().await?;
            });
            report.users += rows.len() as u64;
        }

        // Maybe-numbers: re-read the first message of each ticket that had some.
        let sources: Vec<(i64, i64)> = on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT DISTINCT source_id, user_id FROM caller_index WHERE level = 'maybe' AND source_id IS NOT NULL",
            )
            .fetch_all(pool)
            .await?
        });
        for chunk in sources.chunks(BATCH as usize) {
            on_pool!(self, |pool, PG| {
                let mut tx = crate::begin_write!(pool, PG);
                for (ticket_id, user_id) in chunk {
                    let body: Option<String> =
                        sqlx::query_scalar("SELECT body FROM comments WHERE ticket_id = $1 ORDER BY id LIMIT 1")
                            .bind(ticket_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    sqlx::query("DELETE FROM caller_index WHERE level = 'maybe' AND source_id = $1")
                        .bind(ticket_id)
                        .execute(&mut *tx)
                        .await?;
                    for key in self.phones.extract_numbers(body.as_deref().unwrap_or("")) {
                        index_caller_key!(tx, &key, user_id, CallerLevel::Maybe, Some(*ticket_id), now);
                    }
                }
                tx.commit().await?;
            });
            report.tickets += chunk.len() as u64;
        }

        let mut after = 0_i64;
        loop {
            let rows: Vec<(i64, String, String, String)> = on_pool!(self, |pool, PG| {
                sqlx::query_as("SELECT id, direction, from_line, to_line FROM calls WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(BATCH)
                    .fetch_all(pool)
                    .await?
            });
            let Some(last) = rows.last() else { break };
            after = last.0;
            on_pool!(self, |pool, PG| {
                let mut tx = crate::begin_write!(pool, PG);
                for (id, direction, from, to) in &rows {
                    let customer = if direction == Direction::Outbound.as_str() { to } else { from };
                    let key = self.phones.normalize(customer).key().map(|k| k.as_str().to_owned());
                    sqlx::query("UPDATE calls SET customer_key = $2 WHERE id = $1")
                        .bind(id)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            });
            report.calls += rows.len() as u64;
        }
        Ok(report)
    }
}
