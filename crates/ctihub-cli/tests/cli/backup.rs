//! `ctihub backup` of a live server's database under ingest, and `ctihub restore` of it into a
//! fresh data directory that a server then runs on (docs/operations.md).

use ctihub_store::{ConnectOptions, DatabaseLocation};

use crate::helpers::{Sandbox, http_post_form};
use crate::ingest::{Ingest, assert_all_stored};

#[test]
fn a_backup_taken_under_ingest_restores_into_a_working_server() {
    let live = Sandbox::new();
    let path = live.run(&["cti", "enable"]).success().stdout.trim().to_owned();
    let mut server = live.serve();
    let ingest = Ingest::start(&server.url, &path, 4, "backup");
    ingest.wait_for(60);
    // Everything acknowledged before the backup starts must be in it.
    let before = ingest.acked();
    let file = live.path().join("ctihub-backup.sqlite3");
    let out = live.run(&["backup", file.to_str().unwrap()]).success();
    assert!(out.stdout.contains("backed up"), "{out:?}");
    ingest.wait_for(before.len() + 30);
    let (all, refused) = ingest.finish();
    assert!(refused.is_empty(), "{refused:?}");
    assert!(all.len() > before.len(), "the server kept ingesting during the backup");

    let again = live.run(&["backup", file.to_str().unwrap()]).failure();
    assert!(again.stderr.contains("already exists"), "a backup never overwrites: {again:?}");
    server.terminate();

    // Restore into a fresh data directory and run a server on it: the same push URL works
    // (the CTI settings came along) and the calls acknowledged before the backup are there.
    let restored = Sandbox::new();
    let out = restored.run(&["restore", file.to_str().unwrap()]).success();
    assert!(out.stdout.contains("restored"), "{out:?}");
    let mut server = restored.serve();
    assert_eq!(http_post_form(&server.url, &path, "event=newCall&direction=in&from=1&to=2&callId=new").0, 200);
    server.terminate();
    let location = DatabaseLocation::in_data_dir(&restored.data_dir());
    assert_all_stored(&location, &ConnectOptions::default(), &before);

    // A second restore over it needs --force, and keeps the replaced database.
    let refused = restored.run(&["restore", file.to_str().unwrap()]).failure();
    assert!(refused.stderr.contains("--force"), "{refused:?}");
    let out = restored.run(&["restore", file.to_str().unwrap(), "--force"]).success();
    assert!(out.stdout.contains("the previous database is kept as"), "{out:?}");
    let kept: Vec<_> = std::fs::read_dir(restored.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ctihub.sqlite3.replaced-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
}

#[test]
fn restore_refuses_what_is_not_a_backup_and_leaves_the_database_alone() {
    let sandbox = Sandbox::new();
    let path = sandbox.run(&["cti", "enable"]).success().stdout.trim().to_owned();
    let junk = sandbox.write("junk.sqlite3", "this is not a database");
    let out = sandbox.run(&["restore", junk.to_str().unwrap(), "--force"]).failure();
    assert!(out.stderr.contains("junk.sqlite3 is not a usable ctihub backup"), "{out:?}");
    let missing = sandbox.run(&["restore", "/nonexistent/backup.sqlite3"]).failure();
    assert!(missing.stderr.contains("is not a file"), "{missing:?}");
    // An SQLite file that is not a ctihub database is refused too.
    let foreign = sandbox.write("foreign.sqlite3", "");
    let out = sandbox.run(&["restore", foreign.to_str().unwrap(), "--force"]).failure();
    assert!(out.stderr.contains("not a usable ctihub backup"), "{out:?}");

    // The database is untouched: the server still starts on it with its settings.
    let server = sandbox.serve();
    assert_eq!(http_post_form(&server.url, &path, "event=newCall&direction=in&from=1&to=2&callId=1").0, 200);
    let leftovers: Vec<_> = std::fs::read_dir(sandbox.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring") || n.contains("replaced"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn backup_explains_postgres_and_missing_databases() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["backup", "x.sqlite3", "--database-url", "postgres://ctihub@127.0.0.1:1/ctihub"]).failure();
    assert!(out.stderr.contains("pg_dump"), "{out:?}");
    let out =
        sandbox.run(&["restore", "x.sqlite3", "--database-url", "postgres://ctihub@127.0.0.1:1/ctihub"]).failure();
    assert!(out.stderr.contains("pg_dump"), "{out:?}");
    let out = sandbox.run(&["backup", "x.sqlite3"]).failure();
    assert!(out.stderr.contains("no database"), "{out:?}");
}
