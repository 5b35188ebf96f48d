//! What the nodes of a cluster share through the database: who is alive, which background task
//! runs where, and the rate-limit counts.
//!
//! A node notes itself in `cluster_nodes` at start and every beat; a node not seen for a few
//! beats is dead, and whatever it vouched for (its agents' open consoles) stops counting. Tasks
//! that must run once at a time take a PostgreSQL advisory lock, which the database releases by
//! itself when the holder's connection dies, so a killed node never leaves a task locked.

use ctihub_domain::time::Millis;
use sqlx::Connection;

use crate::{Backend, Store, StoreResult, on_pool};

/// A running node, as the others see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClusterNode {
    pub id: String,
    pub address: String,
    pub version: String,
    pub started_at: Millis,
    pub seen_at: Millis,
}

/// Whether a task that finds its lock taken waits for it or gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenLocked {
    /// Wait, then run: for work every node needs done before it goes on (the caller index in
    /// step with the region at start).
    Wait,
    /// Skip: another node is doing it right now (the hourly retention purge).
    Skip,
}

impl Store {
    /// Note `node` alive at `now`, registering it on its first beat (or again after a pause so
    /// long that another node swept it away).
    pub async fn beat_node(&self, node: &ClusterNode, now: Millis) -> StoreResult<()> {
        on_pool!(self, |pool, PG| {
            sqlx::query(
                "INSERT INTO cluster_nodes (id, address, version, started_at, seen_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, address = excluded.address",
            )
            .bind(&node.id)
            .bind(&node.address)
            .bind(&node.version)
            .bind(node.started_at)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A node leaving on purpose: it and its console streams are gone at once.
    pub async fn remove_node(&self, node_id: &str) -> StoreResult<()> {
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            sqlx::query("DELETE FROM console_streams WHERE node_id = $1").bind(node_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM cluster_nodes WHERE id = $1").bind(node_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Forget nodes not seen since `cutoff`, with their console streams. Any node may do this at
    /// any time: it only removes what already stopped counting.
    pub async fn sweep_dead_nodes(&self, cutoff: Millis) -> StoreResult<u64> {
        Ok(on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            sqlx::query(
                "DELETE FROM console_streams WHERE node_id NOT IN (SELECT id FROM cluster_nodes WHERE seen_at >= $1)",
            )
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
            let nodes =
                sqlx::query("DELETE FROM cluster_nodes WHERE seen_at < $1").bind(cutoff).execute(&mut *tx).await?;
            tx.commit().await?;
            nodes.rows_affected()
        }))
    }

    /// The nodes seen since `since`, oldest first.
    pub async fn live_nodes(&self, since: Millis) -> StoreResult<Vec<ClusterNode>> {
        Ok(on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT id, address, version, started_at, seen_at FROM cluster_nodes WHERE seen_at >= $1 \
                 ORDER BY started_at, id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Run `task` as the only node doing `name` right now. `None` when the lock was taken and
    /// `when_locked` said to skip. On SQLite there is one node, so the task just runs.
    ///
    /// The lock lives on a connection of its own, not a pooled one: a pooled connection would
    /// go back to the pool still holding it if the task were cancelled. Dropping this one closes
    /// it, which releases the lock whatever happened.
    pub async fn exclusively<T>(
        &self,
        name: &str,
        when_locked: WhenLocked,
        task: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<Option<T>> {
        let Backend::Postgres(pool) = &self.backend else {
            return task.await.map(Some);
        };
        let mut own = sqlx::postgres::PgConnection::connect_with(&pool.connect_options()).await?;
        let key = lock_key(name);
        match when_locked {
            WhenLocked::Wait => {
                sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut own).await?;
            }
            WhenLocked::Skip => {
                let taken: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut own).await?;
                if !taken {
                    own.close().await?;
                    return Ok(None);
                }
            }
        }
        let outcome = task.await;
        // Closing ends the session, and with it the lock.
        own.close().await?;
        outcome.map(Some)
    }

    /// Add `hits` counted on this node to each key's count in the window starting at
    /// `window_start`, and return the cluster's totals in the same order.
    pub async fn add_rate_limit_hits(&self, window_start: Millis, hits: &[(String, u32)]) -> StoreResult<Vec<u32>> {
        let mut totals = Vec::with_capacity(hits.len());
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            for (key, count) in hits {
                let total: i64 = sqlx::query_scalar(
                    "INSERT INTO rate_limit_counts (key, window_start, hits) VALUES ($1, $2, $3) \
                     ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_counts.hits + excluded.hits \
                     RETURNING hits",
                )
                .bind(key)
                .bind(window_start)
                .bind(i64::from(*count))
                .fetch_one(&mut *tx)
                .await?;
                totals.push(u32::try_from(total).unwrap_or(u32::MAX));
            }
            tx.commit().await?;
        });
        Ok(totals)
    }

    /// The cluster's count for `key` in the window starting at `window_start` (0 if none).
    pub async fn rate_limit_count(&self, key: &str, window_start: Millis) -> StoreResult<u32> {
        let hits: Option<i64> = on_pool!(self, |pool, PG| {
            sqlx::query_scalar("SELECT hits FROM rate_limit_counts WHERE key = $1 AND window_start = $2")
                .bind(key)
                .bind(window_start)
                .fetch_optional(pool)
                .await?
        });
        Ok(hits.map_or(0, |h| u32::try_from(h).unwrap_or(u32::MAX)))
    }

    /// Forget the counts of windows that started before `cutoff`.
    pub async fn purge_rate_limit_counts(&self, cutoff: Millis) -> StoreResult<u64> {
        Ok(on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM rate_limit_counts WHERE window_start < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

/// The advisory-lock key for a task name: FNV-1a of the name in ctihub's own namespace, the same
/// on every node and every release (a renamed key would let an old and a new node both run).
fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"ctihub:".iter().chain(name.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("retention"), lock_key("retention"));
        assert_ne!(lock_key("retention"), lock_key("caller-index"));
    }
}
