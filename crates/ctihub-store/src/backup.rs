//! Online backup of the SQLite database, and the checks a restore makes on a backup file.
//!
//! `VACUUM INTO` writes the database as one read transaction sees it, so the copy is consistent
//! while the server keeps writing (WAL readers never block writers), and it comes out compacted
//! with no `-wal` file beside it: a single file that can be copied anywhere. PostgreSQL has
//! `pg_dump` for this, which does the same for a whole cluster of nodes.

use std::path::Path;

use crate::{Backend, Store, StoreError, StoreResult};

impl Store {
    /// Write a consistent copy of this SQLite database to `path`, which must not exist yet.
    pub async fn backup_into(&self, path: &Path) -> StoreResult<()> {
        let Backend::Sqlite(pool) = &self.backend else {
            return Err(StoreError::Config(
                "backups of a PostgreSQL database are made with pg_dump (see docs/operations.md)".into(),
            ));
        };
        if path.exists() {
            return Err(StoreError::Config(format!("{} already exists; a backup never overwrites", path.display())));
        }
        let target = path.to_str().ok_or_else(|| StoreError::Config("the backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(pool).await?;
        Ok(())
    }

    /// Check that this (SQLite) database is whole and is a ctihub database: SQLite's own
    /// integrity check passes and the schema's migration history is there.
    pub async fn verify_sqlite(&self) -> StoreResult<()> {
        let Backend::Sqlite(pool) = &self.backend else {
            return Err(StoreError::Config("only SQLite files are verified this way".into()));
        };
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(pool).await?;
        if verdict != "ok" {
            return Err(StoreError::Corrupt(format!("integrity check: {verdict}")));
        }
        let migrated: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_one(pool)
                .await?;
        if migrated == 0 {
            return Err(StoreError::Corrupt("not a ctihub database (no migration history)".into()));
        }
        Ok(())
    }
}
