//! A writer killed at any moment loses nothing it committed: a child process commits through
//! the VFS and reports each commit; the test kills it (SIGKILL) after a varying number, then
//! opens the database with SQLite's own VFS. Every reported commit must be there, the file
//! must be sound, and the next writer must go on from it.
//!
//! A process kill leaves what was written in the kernel's page cache, so this tests that every
//! frame is written before `COMMIT` returns and in SQLite's order. Syncing to disk is unchanged
//! by the VFS (`xSync` passes through after writing what was gathered).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{check, integrity, plain, transaction, writer};

/// Set in the child: the database it writes.
const CHILD: &str = "CTIHUB_WAL_VFS_CRASH_CHILD";

/// The child's part: commit until killed, saying so after each commit.
#[test]
fn child_commits_until_killed() {
    let Ok(path) = std::env::var(CHILD) else { return };
    let mut conn = writer(path.as_ref());
    let (_, mut txn) = check(&conn);
    loop {
        txn += 1;
        let (rows, len) = if txn % 7 == 0 { (300, 800) } else { (4, 250) };
        transaction(&mut conn, txn, rows, len);
        println!("committed {txn}");
    }
}

#[test]
fn a_killed_writer_loses_no_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let mut reported = 0;
    for (round, kill_after) in [5, 40, 1, 90, 23, 61].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child_commits_until_killed", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        for line in lines {
            let line = line.unwrap();
            if let Some(txn) = line.strip_prefix("committed ") {
                reported = txn.parse().unwrap();
                seen += 1;
                if seen == kill_after {
                    break;
                }
            }
        }
        assert_eq!(seen, kill_after, "round {round}: the child stopped early");
        child.kill().unwrap();
        child.wait().unwrap();
        let conn = plain(&path);
        integrity(&conn);
        let (_, txns) = check(&conn);
        assert!(txns >= reported, "round {round}: {txns} transactions stored, {reported} reported committed");
    }
    let mut conn = writer(&path);
    let (_, txns) = check(&conn);
    transaction(&mut conn, txns + 1, 3, 10);
    assert_eq!(check(&plain(&path)).1, txns + 1);
}
