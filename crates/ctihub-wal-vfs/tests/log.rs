//! The database written through the VFS, read and checkpointed meanwhile through SQLite's own.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{check, integrity, plain, transaction, writer};

/// Readers and a checkpointer run while small and spilling transactions commit: every snapshot
/// a reader takes is whole (a reader trusting a WAL index header whose frames were not yet
/// written would see missing or torn pages), and so is the file at the end.
#[test]
fn readers_and_checkpoints_see_only_whole_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let mut conn = writer(&path);
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || {
                let conn = plain(&path);
                let (mut last, mut snapshots) = (0, 0);
                while !done.load(Ordering::Acquire) {
                    let (_, txns) = check(&conn);
                    assert!(txns >= last, "a later snapshot never shows fewer commits");
                    last = txns;
                    snapshots += 1;
                }
                snapshots
            })
        })
        .collect();
    let checkpointer = {
        let (path, done) = (path.clone(), done.clone());
        std::thread::spawn(move || {
            let conn = plain(&path);
            while !done.load(Ordering::Acquire) {
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        })
    };
    for txn in 1..=300 {
        // Mostly ledger-sized commits; every tenth far bigger than the writer's cache.
        let (rows, len) = if txn % 10 == 0 { (400, 700) } else { (3, 200) };
        transaction(&mut conn, txn, rows, len);
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().expect("the reader's checks hold") > 0);
    }
    checkpointer.join().expect("checkpoints succeed");
    assert_eq!(check(&conn), (30 * 400 + 270 * 3, 300));
    drop(conn);
    let after = plain(&path);
    integrity(&after);
    assert_eq!(check(&after).1, 300);
}

/// A transaction rolled back after spilling frames into the log leaves nothing behind, and
/// the next commit writes over those frames.
#[test]
fn a_rolled_back_spill_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let mut conn = writer(&path);
    transaction(&mut conn, 1, 5, 100);
    {
        let tx = conn.transaction().unwrap();
        for id in 6..600 {
            tx.execute("INSERT INTO rows VALUES (?1, 2, ?2)", (id, common::body(id, 900))).unwrap();
        }
        tx.rollback().unwrap();
    }
    transaction(&mut conn, 2, 5, 100);
    assert_eq!(check(&plain(&path)), (10, 2));
    drop(conn);
    let after = plain(&path);
    integrity(&after);
    assert_eq!(check(&after), (10, 2));
}
