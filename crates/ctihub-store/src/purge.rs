//! Deleting what retention no longer keeps, without stalling the PBX events behind it.
//!
//! `DELETE … WHERE created_at < cutoff` scans the whole table (there is no index on when a row
//! was stored), and on SQLite a statement that deletes holds the write lock from its first step:
//! on a bench database with three million hub events the hourly purge kept the ledger writer
//! waiting for half a second even when it deleted nothing. Ids are drawn from one growing
//! sequence as rows are stored, so the stale rows lie below the first id stored at or after the
//! cutoff: a walk from the oldest row that stops there costs what is deleted, not what is kept.
//! The delete still checks each row's time, so a row written meanwhile (or whose id was drawn
//! before a later one committed, on PostgreSQL) is never taken for a stale one. Rows go in
//! chunks, each its own statement, so the writer gets the lock in between.

use ctihub_domain::Id;
use ctihub_domain::time::Millis;

use crate::{Store, StoreResult, on_pool};

/// Rows per statement: a few milliseconds of holding the write lock.
const CHUNK: i64 = 2000;

/// The tables purged by when a row was stored; each has an `id` and a `created_at`.
#[derive(Clone, Copy)]
pub(crate) enum Stored {
    Calls,
    HubEvents,
}

impl Stored {
    fn table(self) -> &'static str {
        match self {
            Stored::Calls => "calls",
            Stored::HubEvents => "hub_events",
        }
    }
}

impl Store {
    /// Delete the rows of `stored` stored before `cutoff`; how many went. A stale row whose id
    /// is out of order with its time (a clock stepped back) may wait for a later purge.
    pub(crate) async fn purge_stored_before(&self, stored: Stored, cutoff: Millis) -> StoreResult<u64> {
        let table = stored.table();
        let boundary_sql = format!("SELECT id FROM {table} WHERE created_at >= $1 ORDER BY id LIMIT 1");
        let delete_sql = format!(
            "DELETE FROM {table} WHERE id IN \
             (SELECT id FROM {table} WHERE id < $1 AND created_at < $2 ORDER BY id LIMIT {CHUNK})"
        );
        let first_kept: Option<Id> = on_pool!(self, |pool, PG| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(boundary_sql.clone())).bind(cutoff).fetch_optional(pool).await?
        });
        // Nothing stored since the cutoff: everything up to now is stale.
        let below = first_kept.unwrap_or(Id::MAX);
        let mut deleted = 0;
        loop {
            let chunk = on_pool!(self, |pool, PG| {
                sqlx::query(sqlx::AssertSqlSafe(delete_sql.clone()))
                    .bind(below)
                    .bind(cutoff)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            deleted += chunk;
            if chunk < CHUNK as u64 {
                return Ok(deleted);
            }
        }
    }
}
