//! The audit log: sign-ins, sign-outs, API token changes and settings changes, with who, when,
//! from which address and on what. Rows are only ever appended; admins page through them newest
//! first. Secrets never go in here: a token is named by its id, a password not at all.

use ctihub_domain::Id;
use ctihub_domain::time::Millis;

use crate::ids::next_id;
use crate::{Store, StoreResult, on_pool};

/// One thing that happened, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: Id,
    pub at: Millis,
    /// The user who acted, when one did (not on a failed sign-in or from the command line).
    pub actor_id: Option<Id>,
    /// How the actor was known: an e-mail, `cli`, or the e-mail a failed sign-in tried.
    pub actor: String,
    /// A stable machine name such as `sign_in`, `token_created`, `cti_config_changed`.
    pub action: String,
    /// What was acted on, e.g. `user:42` or `token:17`.
    pub target: Option<String>,
    /// The client address the request came from.
    pub address: Option<String>,
    /// A short human-readable note (never a secret).
    pub detail: Option<String>,
}

/// What a caller records; the store adds the id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: Millis,
    pub actor_id: Option<Id>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    pub async fn record_audit(&self, entry: &NewAuditEntry) -> StoreResult<Id> {
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO audit_log (id, at, actor_id, actor, action, target, address, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(entry.at)
            .bind(entry.actor_id)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(&entry.address)
            .bind(&entry.detail)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// A page of the log, newest first, and how many entries there are in all.
    pub async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)> {
        on_pool!(self, |pool, PG| {
            let entries: Vec<AuditEntry> = sqlx::query_as(
                "SELECT id, at, actor_id, actor, action, target, address, detail FROM audit_log \
                 ORDER BY id DESC LIMIT $1 OFFSET $2",
            )
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(pool).await?;
            Ok((entries, count))
        })
    }
}
