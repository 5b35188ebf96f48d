//! Making the writer's commits durable, on a thread of their own.
//!
//! With `synchronous = FULL` SQLite fsyncs the write-ahead log inside every `COMMIT`, and the
//! writer sat idle through it: two fifths of its time under load, while the next batch queued.
//! So the writer's connection commits with `synchronous = NORMAL` (the frames are written to the
//! log, not yet forced to disk) and hands the batch here. This thread fsyncs the log and only
//! then lets the batch's jobs answer; meanwhile the writer records the next batch. One fsync
//! covers every batch committed before it began, so under load several batches share one.
//!
//! Durability is unchanged: an event is answered only after the log frames of its commit are
//! on disk, which is what FULL guarantees, and SQLite's recovery replays every committed
//! transaction in a synced log. What changes is visibility: other connections can read a batch
//! a moment before it is durable (a screen pop could arrive for an event that a power cut then
//! loses, and the PBX, never answered, sends again).
//!
//! A failed fsync is final. The kernel may have dropped the pages it could not write, and a
//! later fsync would then succeed over a log with a hole in it, after which SQLite's recovery
//! stops at the hole and loses every later commit too. So from the first failure on, every
//! event is answered with an error and the server must be restarted (it is logged loudly).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use super::writer::{Job, answer_all};
use crate::StoreError;

/// The writer's handle. The thread ends once the handle is dropped and every batch handed to it
/// has been answered.
pub(super) struct Syncer {
    committed: Sender<Vec<Job>>,
    failed: Arc<AtomicBool>,
}

impl Syncer {
    /// Sync the write-ahead log of the SQLite database at `database`; `failed` is set for
    /// good when a sync fails (the writer's handle shows it to `/healthz`).
    pub(super) fn start(database: &Path, failed: Arc<AtomicBool>) -> Syncer {
        let mut log = database.as_os_str().to_owned();
        log.push("-wal");
        let log = PathBuf::from(log);
        let (committed, batches) = channel();
        let failed_here = failed.clone();
        std::thread::Builder::new()
            .name("ctihub-sync".into())
            .spawn(move || sync_committed(&log, &batches, &failed_here))
            .expect("the operating system starts a thread");
        Syncer { committed, failed }
    }

    /// Why no more events can be stored, once a sync failed.
    pub(super) fn failure(&self) -> Option<StoreError> {
        self.failed.load(Ordering::Acquire).then(sync_failed)
    }

    /// `jobs` were committed: answer them once that is on disk.
    pub(super) fn after_sync(&self, jobs: Vec<Job>) {
        if let Err(returned) = self.committed.send(jobs) {
            // The thread is gone (it panicked): nothing can say these are durable.
            self.failed.store(true, Ordering::Release);
            answer_all(returned.0, Some(&sync_failed()));
        }
    }
}

pub(super) fn sync_failed() -> StoreError {
    StoreError::Writer("the event log could not be synced to disk; restart ctihub".into())
}

fn sync_committed(log: &Path, batches: &Receiver<Vec<Job>>, failed: &AtomicBool) {
    let mut synced = None;
    while let Ok(first) = batches.recv() {
        // Everything committed before the fsync starts is covered by it; what arrives during it
        // waits for the next one.
        let mut jobs = first;
        for more in batches.try_iter() {
            jobs.extend(more);
        }
        let failure = if failed.load(Ordering::Acquire) {
            Some(sync_failed())
        } else {
            let started = Instant::now();
            match sync(log, &mut synced) {
                Ok(()) => {
                    metrics::histogram!("ctihub_ledger_batch_seconds", "phase" => "sync")
                        .record(started.elapsed().as_secs_f64());
                    None
                }
                Err(e) => {
                    failed.store(true, Ordering::Release);
                    tracing::error!(error = %e, log = %log.display(),
                        "event writer: syncing the write-ahead log failed; no more events are accepted until ctihub restarts");
                    Some(sync_failed())
                }
            }
        };
        answer_all(jobs, failure.as_ref().map(|f| f as &dyn std::fmt::Display));
    }
}

/// fsync the log, opened by its path, and check it is the file synced before (`synced`, its
/// device and inode). SQLite deletes the log only when the last connection to the database
/// closes, and while ctihub runs its own connections (the writer's, the readers') stay open: a
/// different file at the path means the log was removed or replaced under the running writer,
/// which goes on writing to the file it has open, and that file can no longer be synced. (Any connection opening the database meanwhile creates a new, empty log at
/// the path, which an fsync by path alone would have synced instead.)
fn sync(log: &Path, synced: &mut Option<(u64, u64)>) -> std::io::Result<()> {
    let file = std::fs::File::open(log)?;
    let identity = file_identity(&file.metadata()?);
    if synced.is_some() && *synced != identity {
        return Err(std::io::Error::other("the write-ahead log was replaced while the writer had it open"));
    }
    file.sync_data()?;
    *synced = identity;
    Ok(())
}

#[cfg(unix)]
fn file_identity(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn file_identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}
