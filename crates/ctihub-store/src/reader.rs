//! Bulk reads and hot point reads on an SQLite file, through rusqlite.
//!
//! sqlx runs an SQLite connection on a worker thread and hands each row of a result over to the
//! async side on its own. For a page that reads many rows (a journal page reads 300 calls and
//! their references, their callers and every agent) that hand-over was most of the page's time.
//! Reads of that kind run here instead: on a blocking thread, on a connection of our own, with
//! the pool's own SQL. The point reads every request of a kind makes (the user behind an API
//! token, the users behind a number) run here too, on the request's own thread. Other small
//! reads stay on the pool. A reader sees what is committed, like a pooled connection (WAL:
//! readers never wait for the writer).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

use crate::{StoreError, StoreResult};

/// Reads that run at once, each on a connection kept open for the next. More wait their turn:
/// under load every ringing call identifies its caller here, and opening a connection for each
/// read that overlapped others cost more than the read. Each holds SQLite's default 2 MiB page
/// cache.
const CONNECTIONS: usize = 4;

#[derive(Debug)]
pub(crate) struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    turns: Arc<tokio::sync::Semaphore>,
}

impl SqliteReader {
    pub(crate) fn new(path: PathBuf) -> Arc<SqliteReader> {
        Arc::new(SqliteReader {
            path,
            idle: Mutex::default(),
            turns: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)),
        })
    }

    /// Run `work` on a reader connection, off the async threads.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let turn = self.turns.clone().acquire_owned().await.expect("the reader's semaphore is never closed");
        let reader = self.clone();
        let read = tokio::task::spawn_blocking(move || {
            let out = reader.on_connection(work);
            // Held until the connection is back, even when the caller stopped waiting.
            drop(turn);
            out
        });
        match read.await {
            Ok(out) => out,
            // A panic is the caller's, as it would be on the pool.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StoreError::Unavailable(format!("a read was cancelled: {e}"))),
        }
    }

    /// Run `work` on a reader connection right here, on the calling (async) thread. Only for
    /// point reads: a probe of a unique index for a row or a few (who a token belongs to, who
    /// calls from a number). They take microseconds from the page cache, less than handing
    /// them to a blocking thread and back, which was a third of a caller identification's time.
    /// A page not yet in the kernel's cache holds this thread for one disk read.
    pub(crate) async fn read_here<T>(&self, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let _turn = self.turns.acquire().await.expect("the reader's semaphore is never closed");
        self.on_connection(work)
    }

    /// `work` on an idle connection, which is kept for the next read.
    fn on_connection<T>(&self, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.connection()?;
        let out = work(&conn);
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        out
    }

    fn connection(&self) -> StoreResult<Connection> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop() {
            return Ok(conn);
        }
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }
}

/// Every row of `sql`, with `params` bound in order, mapped.
pub(crate) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    Ok(conn.prepare(sql)?.query_map(params, map)?.collect::<rusqlite::Result<Vec<T>>>()?)
}

/// A row's columns read in the order a `*_COLUMNS` list names them. rusqlite finds a column by
/// name by comparing it with every column's name in turn, which for a user's fifteen columns was
/// a tenth of the ledger writer's time; the names are only checked, and only in debug builds.
pub(crate) struct InOrder<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    next: usize,
}

impl<'r, 's> InOrder<'r, 's> {
    /// The columns from index `first` on.
    pub(crate) fn from(row: &'r rusqlite::Row<'s>, first: usize) -> Self {
        InOrder { row, next: first }
    }

    /// The next column, which the SQL names `name`.
    pub(crate) fn next<T: rusqlite::types::FromSql>(&mut self, name: &str) -> rusqlite::Result<T> {
        debug_assert_eq!(
            self.row.as_ref().column_name(self.next).ok(),
            Some(name),
            "column {} is not `{name}`",
            self.next
        );
        let value = self.row.get(self.next)?;
        self.next += 1;
        Ok(value)
    }
}
