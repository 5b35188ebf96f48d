//! The settings that decide whether a committed write survives a crash, read back from the
//! database itself (docs/decisions/0011-durability.md). `ctihub serve` logs the warnings, so an
//! operator who runs PostgreSQL with `fsync = off` hears that acknowledged events can be lost.

use crate::{Backend, Store, StoreResult};

/// What the database says about its durability, and what is wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durability {
    /// Setting name and value as the database reports them.
    pub settings: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl Store {
    pub async fn durability(&self) -> StoreResult<Durability> {
        let mut report = Durability::default();
        match &self.backend {
            Backend::Sqlite(pool) => {
                let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await?;
                let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await?;
                let synchronous = match synchronous {
                    0 => "off",
                    1 => "normal",
                    2 => "full",
                    _ => "extra",
                };
                if journal == "memory" {
                    report.warnings.push("the database is in memory: nothing survives a restart".into());
                } else if synchronous != "full" && synchronous != "extra" {
                    report
                        .warnings
                        .push(format!("SQLite synchronous = {synchronous}: a power loss can lose acknowledged events"));
                }
                report.settings.push(("journal_mode".into(), journal));
                report.settings.push(("synchronous".into(), synchronous.into()));
            }
            Backend::Postgres(pool) => {
                for name in ["fsync", "synchronous_commit", "full_page_writes"] {
                    let value: String =
                        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {name}"))).fetch_one(pool).await?;
                    if value == "off" {
                        report.warnings.push(format!(
                            "PostgreSQL {name} = off: a crash of the database server can lose acknowledged events"
                        ));
                    }
                    report.settings.push((name.into(), value));
                }
            }
        }
        Ok(report)
    }
}
