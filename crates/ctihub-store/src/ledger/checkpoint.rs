//! WAL checkpoints for the ledger writer, on a thread of their own.
//!
//! SQLite copies its write-ahead log back into the database file once the log passes 1,000
//! pages, on the connection whose commit crossed the mark and before that commit returns. On the
//! writer that cost a fifteenth of its time, with every event of the batch waiting on it. So the
//! writer's connection leaves checkpoints to this thread and nudges it after each commit; it
//! checkpoints PASSIVE (never waiting for the writer or for readers) after a short rest, so a
//! busy writer causes a few checkpoints a second rather than one per crossing of the mark.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::Connection;

/// How long commits pile up before a checkpoint copies them.
const REST: Duration = Duration::from_millis(200);

/// The writer's handle; the thread ends when it is dropped.
pub(super) struct Checkpointer {
    nudges: SyncSender<()>,
}

impl Checkpointer {
    pub(super) fn start(database: &Path) -> Checkpointer {
        let path = database.to_owned();
        // One pending nudge is all it takes: the thread checkpoints everything committed by then.
        let (nudges, received) = sync_channel(1);
        std::thread::Builder::new()
            .name("ctihub-checkpoint".into())
            .spawn(move || checkpoint_when_nudged(&path, &received))
            .expect("the operating system starts a thread");
        Checkpointer { nudges }
    }

    /// Something was committed: checkpoint soon. Never blocks the writer. `false` when the
    /// thread is gone (it panicked) and the writer must checkpoint for itself again.
    pub(super) fn nudge(&self) -> bool {
        !matches!(self.nudges.try_send(()), Err(TrySendError::Disconnected(())))
    }
}

fn checkpoint_when_nudged(path: &Path, nudges: &Receiver<()>) {
    let mut conn: Option<Connection> = None;
    while nudges.recv().is_ok() {
        std::thread::sleep(REST);
        let outcome = match &conn {
            Some(conn) => checkpoint(conn),
            None => Connection::open(path).and_then(|opened| checkpoint(conn.insert(opened))),
        };
        if let Err(e) = outcome {
            // The next nudge tries again on a fresh connection.
            tracing::warn!(error = %e, "WAL checkpoint failed");
            conn = None;
        }
    }
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    // Its one row (whether it finished, frames logged and copied) matters to nobody here: what
    // is not copied now is copied at the next nudge.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
