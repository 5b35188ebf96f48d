//! ctihub's storage: one API, two backends.
//!
//! [`Store`] holds either an SQLite pool (the embedded default) or a PostgreSQL pool (many nodes).
//! The SQL is written once in portable form (`$N` placeholders, `RETURNING`, `ON CONFLICT`) and
//! run on whichever pool is configured by [`on_pool!`]; the few statements that differ branch on
//! the `PG` constant it defines. Each backend has its own migrations directory with the same
//! tables and index names.

mod agent_calls;
mod agent_sessions;
mod audit;
mod backup;
mod board;
mod call_reports;
mod caller_context;
mod caller_index;
mod calls;
mod cluster;
mod custom_fields;
mod durability;
mod error;
mod hub_events;
mod ids;
mod journal;
mod json;
mod ledger;
mod organizations;
mod owner_index;
mod parked_events;
mod phone_index;
mod purge;
mod reader;
pub mod search;
mod sessions;
mod settings;
mod settings_cache;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;
mod tickets;
mod tokens;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ctihub_domain::phone::PhoneNormalizer;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use audit::{AuditEntry, NewAuditEntry};
pub use call_reports::CallRange;
pub use caller_context::{OrganizationSummary, TicketSummary};
pub use caller_index::CallerMatch;
pub use cluster::{ClusterNode, WhenLocked};
pub use durability::Durability;
pub use error::{StoreError, StoreResult};
pub use hub_events::{HUB_CHANNEL, HubEvent, HubNotifications, Presence, once_key};
pub use journal::JournalFilter;
pub use ledger::{CallLedger, CommittedHubEvents, LedgerJob, LedgerWriter, PgLedger, SqliteLedger};
pub use phone_index::RekeyReport;
pub use sessions::ConsoleSession;
pub use tokens::ApiToken;
pub use users::{UserFilter, UserImportOutcome};

/// Run `$body` against the configured pool. Inside, `$pool` is that pool and the constant `$pg`
/// says whether it is PostgreSQL, for the few statements whose SQL differs.
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $pg:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => {
                #[allow(dead_code)]
                const $pg: bool = false;
                $body
            }
            $crate::Backend::Postgres($pool) => {
                #[allow(dead_code)]
                const $pg: bool = true;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Start a transaction that will write. On SQLite it takes the write lock at `BEGIN IMMEDIATE`
/// (waiting up to the busy timeout): a deferred transaction that reads first and writes later
/// fails at once with "database is locked" when another connection wrote in between, because
/// SQLite cannot upgrade a stale read snapshot.
macro_rules! begin_write {
    ($pool:expr, $pg:expr) => {
        $pool.begin_with(if $pg { "BEGIN" } else { "BEGIN IMMEDIATE" }).await?
    };
}
pub(crate) use begin_write;

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// The storage handle every service and handler shares. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) phones: PhoneNormalizer,
    /// The SQLite file's ledger writer, started on first use (`None` on PostgreSQL and in memory).
    writer: Option<Arc<WriterSlot>>,
    /// Parsed settings documents for hot paths, shared by every clone of this store.
    settings: Arc<settings_cache::SettingsCache>,
    /// Bulk reads through rusqlite, on an SQLite file (`None` on PostgreSQL and in memory).
    reader: Option<Arc<reader::SqliteReader>>,
}

struct WriterSlot {
    path: std::path::PathBuf,
    writer: OnceLock<LedgerWriter>,
    /// How the writer's committed hub events reach the hub (`ledger::handover`).
    handover: Arc<ledger::Handover>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.kind()).field("region", &self.phones.region()).finish()
    }
}

/// Where the data lives, as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// An SQLite file, created with its schema when missing.
    SqliteFile(std::path::PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
    /// A private in-memory SQLite database (tests and benchmarks).
    SqliteMemory,
}

impl DatabaseLocation {
    /// `postgres://…` selects PostgreSQL; `sqlite://path` or `sqlite:path` an SQLite file;
    /// `sqlite::memory:` an in-memory database.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseLocation::Postgres(url.to_owned()))
        } else if url == "sqlite::memory:" {
            Ok(DatabaseLocation::SqliteMemory)
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Config("an sqlite: URL needs a file path".into()));
            }
            Ok(DatabaseLocation::SqliteFile(path.into()))
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL `{}`: use postgres://… or sqlite://PATH",
                redact_url(url)
            )))
        }
    }

    /// The default: `ctihub.sqlite3` inside the data directory.
    pub fn in_data_dir(dir: &Path) -> Self {
        DatabaseLocation::SqliteFile(dir.join("ctihub.sqlite3"))
    }

    /// For logs: never print a password.
    pub fn describe(&self) -> String {
        match self {
            DatabaseLocation::SqliteFile(path) => format!("SQLite file {}", path.display()),
            DatabaseLocation::Postgres(url) => format!("PostgreSQL {}", redact_url(url)),
            DatabaseLocation::SqliteMemory => "in-memory SQLite".into(),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Connection options beyond the location.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL only: run in this schema (created if missing). Tests use one schema each.
    pub pg_schema: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { max_connections: 10, acquire_timeout: Duration::from_secs(10), pg_schema: None }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Open the database. Does not migrate; call [`Store::migrate`].
    pub async fn connect(
        location: &DatabaseLocation,
        options: &ConnectOptions,
        phones: PhoneNormalizer,
    ) -> StoreResult<Store> {
        let mut writer = None;
        let mut reader = None;
        let backend = match location {
            DatabaseLocation::SqliteFile(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Config(format!("cannot create data directory {}: {e}", dir.display()))
                    })?;
                }
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    // WAL: readers never block the writer. FULL: the WAL is synced at every commit,
                    // so an acknowledged event survives a power loss too, not only a crash of the
                    // process (docs/decisions/0011-durability.md).
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    // 8 MiB of page cache per connection: the default 2 MiB re-reads the
                    // caller index's upper pages from the file on most lookups in a database of
                    // a few hundred thousand users. Not more: each pooled connection keeps its
                    // own cache, and ten of 64 MiB held a server with a million users at 414 MiB
                    // resident (docs/benchmarks.md); the file's other pages come from the
                    // kernel's page cache, which all connections share.
                    .pragma("cache_size", "-8192")
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    // A file connection does not go stale the way a socket does; pinging it
                    // before every query doubled the round trips to sqlx's worker threads.
                    .test_before_acquire(false)
                    .connect_with(opts)
                    .await?;
                writer = Some(Arc::new(WriterSlot {
                    path: path.clone(),
                    writer: OnceLock::new(),
                    handover: Arc::default(),
                }));
                reader = Some(reader::SqliteReader::new(path.clone()));
                Backend::Sqlite(pool)
            }
            DatabaseLocation::SqliteMemory => {
                // One connection: every connection to `:memory:` would be a separate database.
                let opts = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(opts)
                    .await?;
                Backend::Sqlite(pool)
            }
            DatabaseLocation::Postgres(url) => {
                // A commit is acknowledged only once it is flushed, whatever the server's default
                // (docs/decisions/0011-durability.md); synchronous_commit is a per-session setting.
                let mut opts = PgConnectOptions::from_str(url)?.options([("synchronous_commit", "on")]);
                if let Some(schema) = &options.pg_schema {
                    let admin = PgPoolOptions::new().max_connections(1).connect_with(opts.clone()).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
                        .execute(&admin)
                        .await?;
                    admin.close().await;
                    opts = opts.options([("search_path", schema.as_str())]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(opts)
                    .await?;
                Backend::Postgres(pool)
            }
        };
        Ok(Store { backend, phones, writer, settings: Arc::default(), reader })
    }

    /// Bring the schema up to date, and the caller index in step with this store's default
    /// region (re-keyed once if the region changed). Safe to run on every start.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        // Nodes starting together re-key once: the first does it, the others wait and find the
        // index already in step.
        self.exclusively("caller-index", WhenLocked::Wait, self.align_phone_index()).await?;
        Ok(())
    }

    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    pub fn phones(&self) -> &PhoneNormalizer {
        &self.phones
    }

    /// The writer that records PBX events in batches, on an SQLite file. `None` on PostgreSQL,
    /// where each event is its own transaction and nodes write side by side, and in memory,
    /// where no second connection can reach the database.
    pub fn ledger_writer(&self) -> Option<&LedgerWriter> {
        let slot = self.writer.as_deref()?;
        Some(slot.writer.get_or_init(|| LedgerWriter::start(slot.path.clone(), self.phones, slot.handover.clone())))
    }

    /// Why PBX events cannot be stored although the database answers, for `/healthz`: the
    /// SQLite writer could not sync its log (see `ledger::sync`). `None` while it can, and
    /// before it was first used.
    pub fn ledger_failure(&self) -> Option<StoreError> {
        self.writer.as_deref()?.writer.get()?.failure()
    }

    /// A round trip to the database, for `/healthz`.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool, PG| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |pool, PG| pool.close().await)
    }
}
