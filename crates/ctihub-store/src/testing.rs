//! Fresh stores for tests, on every backend (feature `testing`).
//!
//! PostgreSQL comes from `CTIHUB_TEST_DATABASE_URL` (`scripts/test` starts a throwaway cluster
//! and sets it); each test runs in its own schema. Without that URL the suite fails rather than
//! pass on SQLite alone, unless `CTIHUB_TEST_BACKENDS=sqlite` asks for a SQLite-only run.

use crate::{ConnectOptions, DatabaseLocation, Store};
use ctihub_domain::phone::{PhoneNormalizer, Region};

pub struct TestStore {
    pub store: Store,
    pub backend: &'static str,
    location: DatabaseLocation,
    options: ConnectOptions,
    region: Region,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    /// A second, independent connection pool to the same database: another node.
    pub async fn another_node(&self) -> Store {
        Store::connect(&self.location, &self.options, PhoneNormalizer::new(self.region)).await.expect("connect again")
    }

    /// The database file, on SQLite.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.location {
            DatabaseLocation::SqliteFile(path) => Some(path),
            _ => None,
        }
    }

    /// The same database opened by a server configured with another default region.
    pub async fn reopen_in(&self, region: &str) -> Store {
        let region = Region::parse(region).expect("test region");
        Store::connect(&self.location, &self.options, PhoneNormalizer::new(region)).await.expect("connect again")
    }
}

async fn sqlite_store(region: Region) -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = DatabaseLocation::in_data_dir(dir.path());
    let options = ConnectOptions::default();
    let store = Store::connect(&location, &options, PhoneNormalizer::new(region)).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    TestStore { store, backend: "sqlite", location, options, region, _dir: Some(dir) }
}

async fn postgres_store(url: &str, region: Region) -> TestStore {
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    let options = ConnectOptions { max_connections: 4, pg_schema: Some(schema), ..Default::default() };
    let location = DatabaseLocation::parse(url).expect("CTIHUB_TEST_DATABASE_URL is a postgres:// URL");
    let store = Store::connect(&location, &options, PhoneNormalizer::new(region))
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at CTIHUB_TEST_DATABASE_URL: {e}"));
    store.migrate().await.expect("migrate PostgreSQL");
    TestStore { store, backend: "postgres", location, options, region, _dir: None }
}

/// A fresh SQLite store alone, for suites that need no second backend (the browser tests; the
/// API suites cover PostgreSQL).
pub async fn fresh_sqlite_store(region: &str) -> TestStore {
    sqlite_store(Region::parse(region).expect("test region")).await
}

/// One fresh store per backend under test.
pub async fn fresh_stores(region: &str) -> Vec<TestStore> {
    let region = Region::parse(region).expect("test region");
    let mut stores = vec![sqlite_store(region).await];
    let sqlite_only = std::env::var("CTIHUB_TEST_BACKENDS").is_ok_and(|b| b.trim() == "sqlite");
    match std::env::var("CTIHUB_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => stores.push(postgres_store(&url, region).await),
        _ if sqlite_only => {}
        _ => panic!(
            "CTIHUB_TEST_DATABASE_URL is not set, so the PostgreSQL half of this suite cannot run. \
             Run `scripts/test` (it starts a throwaway PostgreSQL), or set CTIHUB_TEST_BACKENDS=sqlite \
             to run the SQLite half alone."
        ),
    }
    stores
}

/// Run `test` on a fresh store of every backend, naming the backend if it fails.
pub async fn on_each_backend(region: &str, test: impl AsyncFn(&Store)) {
    on_each_database(region, async |t| test(&t.store).await).await
}

/// The same, for tests that need the database itself (another node, another configuration).
pub async fn on_each_database(region: &str, test: impl AsyncFn(&TestStore)) {
    for t in fresh_stores(region).await {
        eprintln!("-- on {}", t.backend);
        test(&t).await;
        t.store.close().await;
    }
}
