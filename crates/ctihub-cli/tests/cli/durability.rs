//! An acknowledged event is stored: SIGKILL the server in the middle of sustained ingest from
//! several clients, start it again on the same database, and find every event that got a 200
//! (docs/decisions/0011-durability.md). On SQLite, and on PostgreSQL when
//! CTIHUB_TEST_DATABASE_URL names one (scripts/test always sets it).

use std::time::Duration;

use ctihub_store::{ConnectOptions, DatabaseLocation};

use crate::helpers::{Sandbox, http_post_form};
use crate::ingest::{Ingest, assert_all_stored, durability_warnings};

const CLIENTS: usize = 6;

/// Ingest, kill mid-traffic, restart, check; `db` are the options naming the database.
fn kill_during_ingest_and_recover(
    sandbox: &Sandbox,
    db: &[&str],
    location: &DatabaseLocation,
    options: &ConnectOptions,
) {
    let mut enable = vec!["cti", "enable"];
    enable.extend_from_slice(db);
    let path = sandbox.run(&enable).success().stdout.trim().to_owned();
    let mut server = sandbox.serve_with(db);
    // An operator hears about settings that break the promise (the throwaway test PostgreSQL
    // runs with fsync = off).
    for warning in durability_warnings(location, options) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !server.stderr().contains(&warning) {
            assert!(std::time::Instant::now() < deadline, "not logged: {warning}{}", server.diagnostics());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    let ingest = Ingest::start(&server.url, &path, CLIENTS, "kill");
    // Enough traffic that the kill lands among writes in flight, bounded by the ingest's limit.
    ingest.wait_for(150);
    std::thread::sleep(Duration::from_millis(300));
    server.kill();
    let (acked, refused) = ingest.finish();
    assert!(refused.is_empty(), "events refused during ingest: {refused:?}");
    assert!(acked.len() >= 150, "{}", acked.len());

    // The restarted server opens the database (recovering SQLite's WAL) and serves.
    let server = sandbox.serve_with(db);
    let (status, _) = http_post_form(&server.url, &path, "event=hangup&direction=in&from=1&to=2&callId=after-restart");
    assert_eq!(status, 200);
    assert_all_stored(location, options, &acked);
    eprintln!("{} acknowledged events all present after SIGKILL", acked.len());
}

#[test]
fn acknowledged_events_survive_sigkill_on_sqlite() {
    let sandbox = Sandbox::new();
    let location = DatabaseLocation::in_data_dir(&sandbox.data_dir());
    kill_during_ingest_and_recover(&sandbox, &[], &location, &ConnectOptions::default());
}

#[test]
fn acknowledged_events_survive_sigkill_on_postgres() {
    let url = match std::env::var("CTIHUB_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ if std::env::var("CTIHUB_TEST_BACKENDS").is_ok_and(|b| b.trim() == "sqlite") => return,
        _ => panic!(
            "CTIHUB_TEST_DATABASE_URL is not set, so the PostgreSQL durability test cannot run. Run `scripts/test` \
             (it starts a throwaway PostgreSQL), or set CTIHUB_TEST_BACKENDS=sqlite to run the SQLite half alone."
        ),
    };
    // A schema of its own, created the way the store's tests do; the server is pointed at it
    // through the URL's search_path.
    let schema = format!(
        "durability_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let options = ConnectOptions { max_connections: 2, pg_schema: Some(schema.clone()), ..Default::default() };
    let location = DatabaseLocation::parse(&url).unwrap();
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let store =
            ctihub_store::Store::connect(&location, &options, Default::default()).await.expect("create the schema");
        store.close().await;
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    let server_url = format!("{url}{separator}options[search_path]={schema}");
    let sandbox = Sandbox::new();
    kill_during_ingest_and_recover(&sandbox, &["--database-url", &server_url], &location, &options);
}
