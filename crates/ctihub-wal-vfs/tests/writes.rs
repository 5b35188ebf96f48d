//! What the VFS is for, counted: one write of the log per commit. Alone in its test binary,
//! because the count is the process's.

mod common;

use common::{check, transaction, writer};

#[test]
fn each_commit_writes_the_log_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let mut conn = writer(&path);
    // As on the ledger writer: a checkpoint would restart the log, whose new header SQLite
    // writes and syncs before the first frame.
    conn.pragma_update(None, "cache_size", -8192).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    transaction(&mut conn, 1, 1, 100);
    let before = ctihub_wal_vfs::log_flushes();
    for txn in 2..=101 {
        // About a ledger batch: a dozen rows, several pages of table and index.
        transaction(&mut conn, txn, 12, 300);
    }
    assert_eq!(ctihub_wal_vfs::log_flushes() - before, 100);
    assert_eq!(check(&conn), (1 + 100 * 12, 101));
}
