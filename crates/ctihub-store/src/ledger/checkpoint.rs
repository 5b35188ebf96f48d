//! WAL checkpoints for the ledger writer, on a thread of their own.
//!
//! SQLite copies its write-ahead log back into the database file once the log passes 1,000
//! pages, on the connection whose commit crossed the mark and before that commit returns. On the
//! writer that cost a fifteenth of its time, with every event of the batch waiting on it. So the
//! writer's connection leaves checkpoints to this thread and nudges it after each commit; it
//! checkpoints PASSIVE (never waiting for the writer or for readers) after a short rest, so a
//! busy writer causes a few checkpoints a second rather than one per crossing of the mark.
//!
//! Under sustained load no pass ever copies the log's last frame, so the log would never start
//! over (see `super::gate`). Once it is longer than `RESTART_FRAMES`, the thread runs passes
//! back to back until one finds little left, then holds the writer out between two batches
//! while a last pass copies the rest; the writer's next transaction restarts the log.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::gate::Gate;

/// How long commits pile up before a checkpoint copies them.
const REST: Duration = Duration::from_millis(200);
/// A log this long (frames of a page each: 512 MiB of 4 KiB pages) is started over even under
/// load. Each restart holds the writer for a last pass (mostly the database file's fsync: 1–20
/// ms on a freshly seeded bench database, some 40–70 ms on one of 11 GB), so a long log makes
/// that rare; the log stays in the page cache all the same.
const RESTART_FRAMES: i64 = 131_072;
/// After a pass this short, little was committed meanwhile: the rest is copied with the writer
/// held out.
const SHORT_PASS: Duration = Duration::from_millis(4);
/// Passes run back to back, at most, while the log is long, before the writer is held out.
const MAX_CATCH_UP_PASSES: usize = 6;
/// How long the writer waits at the gate at most, and the thread for the writer's transaction.
pub(super) const GATE_PATIENCE: Duration = Duration::from_millis(20);

/// The writer's handle; the thread ends when it is dropped.
pub(super) struct Checkpointer {
    nudges: SyncSender<()>,
    gate: Arc<Gate>,
}

impl Checkpointer {
    pub(super) fn start(database: &Path) -> Checkpointer {
        let path = database.to_owned();
        // One pending nudge is all it takes: the thread checkpoints everything committed by then.
        let (nudges, received) = sync_channel(1);
        let gate = Arc::new(Gate::default());
        let held_by_thread = gate.clone();
        std::thread::Builder::new()
            .name("ctihub-checkpoint".into())
            .spawn(move || checkpoint_when_nudged(&path, &received, &held_by_thread))
            .expect("the operating system starts a thread");
        Checkpointer { nudges, gate }
    }

    /// Where the writer waits, before each transaction, while a restart of the log is made.
    pub(super) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Something was committed: checkpoint soon. Never blocks the writer. `false` when the
    /// thread is gone (it panicked) and the writer must checkpoint for itself again.
    pub(super) fn nudge(&self) -> bool {
        !matches!(self.nudges.try_send(()), Err(TrySendError::Disconnected(())))
    }
}

fn checkpoint_when_nudged(path: &Path, nudges: &Receiver<()>, gate: &Gate) {
    let mut conn: Option<Connection> = None;
    while nudges.recv().is_ok() {
        std::thread::sleep(REST);
        let outcome = match &conn {
            Some(conn) => checkpoint_and_restart(conn, gate, RESTART_FRAMES),
            None => Connection::open(path)
                .and_then(|opened| checkpoint_and_restart(conn.insert(opened), gate, RESTART_FRAMES)),
        };
        if let Err(e) = outcome {
            // The next nudge tries again on a fresh connection.
            tracing::warn!(error = %e, "WAL checkpoint failed");
            conn = None;
        }
    }
}

/// A pass over the log; once it is `restart_frames` long, the catching up and the held-out last
/// pass that let the writer start it over. `true` when that last pass copied everything: the
/// writer's next transaction restarts the log (unless a reader still reads an older state).
fn checkpoint_and_restart(conn: &Connection, gate: &Gate, restart_frames: i64) -> rusqlite::Result<bool> {
    let mut pass = checkpoint(conn)?;
    if pass.logged < restart_frames {
        return Ok(false);
    }
    for _ in 0..MAX_CATCH_UP_PASSES {
        if pass.took <= SHORT_PASS {
            break;
        }
        pass = checkpoint(conn)?;
    }
    let Some(hold) = gate.hold(GATE_PATIENCE) else { return Ok(false) };
    let held = Instant::now();
    let last = checkpoint(conn);
    drop(hold);
    metrics::histogram!("ctihub_ledger_checkpoint_hold_seconds").record(held.elapsed().as_secs_f64());
    let complete = last?.complete();
    if complete {
        metrics::counter!("ctihub_ledger_log_restarts_total").increment(1);
    }
    Ok(complete)
}

/// What one checkpoint pass found and did.
struct Pass {
    /// Frames in the log.
    logged: i64,
    /// Frames of it copied into the database, by this pass and earlier ones.
    copied: i64,
    took: Duration,
}

impl Pass {
    fn complete(&self) -> bool {
        self.copied == self.logged
    }
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<Pass> {
    // PASSIVE never waits: what is not copied now is copied at the next pass. The row: whether
    // the pass was blocked, the frames in the log, the frames copied so far.
    let started = Instant::now();
    let (logged, copied) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get(1)?, row.get(2)?)))?;
    Ok(Pass { logged, copied, took: started.elapsed() })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use rusqlite::Connection;

    use super::{GATE_PATIENCE, Gate, checkpoint, checkpoint_and_restart};

    /// A writer that commits without pause, like the ledger writer under load, passing the gate
    /// before each transaction.
    fn write_without_pause(path: std::path::PathBuf, gate: Arc<Gate>, stop: Arc<AtomicBool>) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        while !stop.load(Ordering::Relaxed) {
            gate.enter(GATE_PATIENCE);
            conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (randomblob(3000)), (randomblob(3000)); COMMIT")
                .unwrap();
            gate.leave();
        }
    }

    /// The log header's checkpoint sequence number, which SQLite raises at each restart.
    fn restarts_so_far(wal: &std::path::Path) -> u32 {
        let mut start = [0u8; 16];
        std::io::Read::read_exact(&mut std::fs::File::open(wal).unwrap(), &mut start).unwrap();
        u32::from_be_bytes(start[12..16].try_into().unwrap())
    }

    #[test]
    fn a_log_the_writer_never_leaves_alone_starts_over_once_long() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        let (gate, stop) = (Arc::new(Gate::default()), Arc::new(AtomicBool::new(false)));
        let writer = {
            let (path, gate, stop) = (path.clone(), gate.clone(), stop.clone());
            std::thread::spawn(move || write_without_pause(path, gate, stop))
        };

        let wal = dir.path().join("db.sqlite3-wal");
        while checkpoint(&conn).unwrap().logged < 300 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let first = restarts_so_far(&wal);

        // With the gate, a last pass copies everything and the writer starts the log over.
        let restarted = (0..50).any(|_| {
            checkpoint_and_restart(&conn, &gate, 300).unwrap();
            std::thread::sleep(Duration::from_millis(5));
            restarts_so_far(&wal) > first
        });
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(restarted, "the log never started over");
    }
}
