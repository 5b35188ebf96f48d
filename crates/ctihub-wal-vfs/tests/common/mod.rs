//! A ledger-like table written through the VFS, and the checks every test makes of it.
#![allow(dead_code)] // each test binary uses some of these

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// A connection through the VFS, set up like the ledger writer's: WAL, commits synced by
/// someone else (`NORMAL`), and a page cache small enough that a big transaction spills pages
/// into the log before its commit.
pub fn writer(path: &Path) -> Connection {
    let vfs = ctihub_wal_vfs::register().expect("the VFS registers");
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).expect("opens");
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.pragma_update(None, "cache_size", 16).unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, txn INTEGER NOT NULL, body BLOB NOT NULL);
         CREATE INDEX IF NOT EXISTS rows_by_body ON rows (body);
         CREATE TABLE IF NOT EXISTS totals (one INTEGER PRIMARY KEY CHECK (one = 1), rows INTEGER NOT NULL, txns INTEGER NOT NULL);
         INSERT OR IGNORE INTO totals VALUES (1, 0, 0);",
    )
    .unwrap();
    conn
}

/// A connection through SQLite's own VFS, as the ledger's readers and checkpoint thread open it.
pub fn plain(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("opens");
    conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    conn
}

/// A row's body: its id repeated, so a torn or misplaced page shows.
pub fn body(id: i64, len: usize) -> Vec<u8> {
    id.to_le_bytes().iter().copied().cycle().take(len).collect()
}

/// Transaction `txn`: `rows` rows of `len` bytes and the totals that count them.
pub fn transaction(conn: &mut Connection, txn: i64, rows: i64, len: usize) {
    let tx = conn.transaction().unwrap();
    let first: i64 = tx.query_row("SELECT rows FROM totals", [], |r| r.get(0)).unwrap();
    for id in first + 1..=first + rows {
        tx.execute("INSERT INTO rows VALUES (?1, ?2, ?3)", (id, txn, body(id, len))).unwrap();
    }
    tx.execute("UPDATE totals SET rows = rows + ?1, txns = txns + 1", [rows]).unwrap();
    tx.commit().unwrap();
}

/// The table as one read transaction sees it: the totals agree with the rows, and every row is
/// whole. Returns (rows, transactions).
pub fn check(conn: &Connection) -> (i64, i64) {
    conn.execute_batch("BEGIN").unwrap();
    let (rows, txns): (i64, i64) =
        conn.query_row("SELECT rows, txns FROM totals", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let mut query = conn.prepare_cached("SELECT id, body FROM rows ORDER BY id").unwrap();
    let mut seen = 0;
    let mut found = query.query([]).unwrap();
    while let Some(row) = found.next().unwrap() {
        seen += 1;
        let id: i64 = row.get(0).unwrap();
        let stored: Vec<u8> = row.get(1).unwrap();
        assert_eq!(id, seen, "rows are numbered without gaps");
        assert_eq!(stored, body(id, stored.len()), "row {id} is whole");
    }
    drop(found);
    drop(query);
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(seen, rows, "the totals count the rows this snapshot holds");
    (rows, txns)
}

pub fn integrity(conn: &Connection) {
    let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(result, "ok");
}
