//! The SQLite ledger writer: one thread, one connection, many events per commit.
//!
//! Every PBX event must be on disk before it is acknowledged, and on SQLite every commit is an
//! fsync. Committing each event alone caps ingest at a few hundred events a second, and through
//! sqlx each of an event's statements is a round trip to a worker thread. So events queue here;
//! the writer takes everything queued, records them in one transaction (a failing event undoes
//! only its own writes) and commits once; the `Syncer` lets each job answer its PBX once the
//! commit is on disk, while the writer goes on with the next batch. Under load a batch fills
//! while the previous one is recorded and synced; alone, an event commits at once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use ctihub_domain::phone::PhoneNormalizer;
use rusqlite::{Connection, OpenFlags};

use super::batch::Batch;
use super::checkpoint::{Checkpointer, GATE_PATIENCE};
use super::recent::{BatchCalls, KnownUsers, Recent};
use super::sync::{Syncer, sync_failed};
use super::{CommittedHubEvents, Handover, SqliteLedger};
use crate::{StoreError, StoreResult};

/// Enough to empty the queue of a busy server in one commit, small enough that the first event
/// of a batch does not wait long for the last.
const MAX_BATCH: usize = 512;

/// Work the writer does for one event.
pub trait LedgerJob: Send + 'static {
    /// Read and write through `ledger`, inside the batch's transaction. `false` (the job failed)
    /// undoes this job's writes and keeps the others'. May be called a second time, after an
    /// attempt of the batch was rolled back: each call starts over.
    fn run(&mut self, ledger: &mut SqliteLedger<'_>) -> bool;

    /// After the batch: `Ok` once the job's writes are durably committed, else why not. This is
    /// where the job answers whoever waits for it.
    fn finish(self: Box<Self>, committed: StoreResult<()>);
}

pub(super) type Job = Box<dyn LedgerJob>;

/// The handle jobs are queued through. The thread ends when the last handle is dropped.
#[derive(Debug)]
pub struct LedgerWriter {
    queue: Sender<Job>,
    /// Set for good once the log could not be synced (see `super::sync`).
    sync_failed: Arc<AtomicBool>,
}

impl LedgerWriter {
    /// Start the writer thread for the SQLite database at `path` (already migrated).
    pub(crate) fn start(path: PathBuf, phones: PhoneNormalizer, handover: Arc<Handover>) -> LedgerWriter {
        let (queue, jobs) = channel();
        let sync_failed = Arc::new(AtomicBool::new(false));
        let syncer_failed = sync_failed.clone();
        std::thread::Builder::new()
            .name("ctihub-writer".into())
            .spawn(move || write_batches(&path, &phones, &jobs, syncer_failed, &handover))
            .expect("the operating system starts a thread");
        LedgerWriter { queue, sync_failed }
    }

    /// Why no event can be stored any more, once that is so: a failed sync of the log is
    /// final until ctihub restarts.
    pub fn failure(&self) -> Option<StoreError> {
        self.sync_failed.load(Ordering::Acquire).then(sync_failed)
    }

    /// Queue `job`; it is finished (answered) in every case, with an error if the writer is gone.
    pub fn submit(&self, job: Job) {
        if let Err(returned) = self.queue.send(job) {
            returned.0.finish(Err(StoreError::Writer("the event writer has stopped".into())));
        }
    }
}

fn write_batches(
    path: &Path,
    phones: &PhoneNormalizer,
    jobs: &Receiver<Job>,
    sync_failed: Arc<AtomicBool>,
    handover: &Handover,
) {
    let mut conn: Option<Connection> = None;
    let mut checkpoints = Some(Checkpointer::start(path));
    let syncer = Syncer::start(path, sync_failed);
    let mut recent = Recent::default();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH
            && let Ok(job) = jobs.try_recv()
        {
            batch.push(job);
        }
        if let Some(failure) = syncer.failure() {
            answer_all(batch, Some(&failure));
            continue;
        }
        let hub_listens = handover.is_listened_to();
        let gate = checkpoints.as_ref().map(Checkpointer::gate);
        if let Some(gate) = gate {
            gate.enter(GATE_PATIENCE);
        }
        let outcome = match &mut conn {
            Some(conn) => write_batch(conn, phones, &mut batch, hub_listens, &mut recent),
            None => match open(path, checkpoints.is_some()) {
                Ok(opened) => write_batch(conn.insert(opened), phones, &mut batch, hub_listens, &mut recent),
                Err(e) => Err(e),
            },
        };
        if let Some(gate) = gate {
            gate.leave();
        }
        metrics::histogram!("ctihub_ledger_batch_events").record(batch.len() as f64);
        match outcome {
            Ok((committed, calls, users)) => {
                recent.absorb(calls, users);
                // Delivered while the commit syncs, as a hub reading the database would see it.
                if let Some(committed) = committed {
                    handover.hand_over(committed);
                }
                syncer.after_sync(batch);
                if checkpoints.as_ref().is_some_and(|c| !c.nudge()) {
                    tracing::error!("the WAL checkpoint thread has stopped; the event writer checkpoints again");
                    checkpoints = None;
                    // A fresh connection, with SQLite's automatic checkpoints.
                    conn = None;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "event writer: a batch could not be committed");
                answer_all(batch, Some(&e));
            }
        }
    }
}

/// Answer every job of a batch: durably committed (`None`), or not and why.
pub(super) fn answer_all(batch: Vec<Job>, failure: Option<&dyn std::fmt::Display>) {
    for job in batch {
        job.finish(match failure {
            None => Ok(()),
            Some(why) => Err(StoreError::Writer(why.to_string())),
        });
    }
}

/// The writer's own connection, set up like the pool's (`Store::connect`): foreign keys, the
/// same page cache. Commits are made durable by the `Syncer`, not inside `COMMIT`
/// (`synchronous = NORMAL`); with a `Checkpointer` to do them, no checkpoints of its own. It
/// writes each commit's log frames with one write, through `ctihub_wal_vfs`.
fn open(path: &Path, checkpointer: bool) -> rusqlite::Result<Connection> {
    let conn = match ctihub_wal_vfs::register() {
        Ok(vfs) => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs)?,
        Err(e) => {
            tracing::warn!(error = %e, "the event writer writes its log a frame at a time");
            Connection::open(path)?
        }
    };
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -8192)?;
    // Savepoints' statement journals in memory rather than in temporary files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if checkpointer {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// One transaction for the whole batch. Jobs rarely fail (the endpoints reject bad input
/// before queuing), so the batch first runs without savepoints: each savepoint copies every
/// page its job touches into a statement journal, which cost a third of the writer's time. If a
/// job fails, that attempt is rolled back and the batch runs again with each job in a savepoint
/// of its own, so the failing one is undone alone. When a hub listens (`hub_listens`), the
/// committed batch's hub events come back for it.
fn write_batch(
    conn: &mut Connection,
    phones: &PhoneNormalizer,
    batch: &mut [Job],
    hub_listens: bool,
    recent: &mut Recent,
) -> rusqlite::Result<Committed> {
    let shared = |conn: &mut Connection| run_jobs(conn, phones, batch, Isolation::Shared, hub_listens, recent);
    if let Some(committed) = in_transaction(conn, shared)? {
        return Ok(committed);
    }
    let isolated = |conn: &mut Connection| run_jobs(conn, phones, batch, Isolation::Savepoints, hub_listens, recent);
    let committed = in_transaction(conn, isolated)?;
    Ok(committed.expect("a batch with each job in a savepoint always commits"))
}

/// Run `work` in a write transaction; commit when it returns `Some`, else roll back.
fn in_transaction<T>(
    conn: &mut Connection,
    work: impl FnOnce(&mut Connection) -> rusqlite::Result<Option<T>>,
) -> rusqlite::Result<Option<T>> {
    // IMMEDIATE: take the write lock now (waiting out the pool's writers up to the busy
    // timeout), not halfway through the batch.
    let began = Instant::now();
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = work(conn).and_then(|outcome| {
        let ending = Instant::now();
        let commit = outcome.is_some();
        conn.execute_batch(if commit { "COMMIT" } else { "ROLLBACK" })?;
        if commit {
            // Where a batch's time goes: recording its events, or syncing them to disk.
            let (record, sync) = (ending - began, ending.elapsed());
            metrics::histogram!("ctihub_ledger_batch_seconds", "phase" => "record").record(record.as_secs_f64());
            metrics::histogram!("ctihub_ledger_batch_seconds", "phase" => "commit").record(sync.as_secs_f64());
        }
        Ok(outcome)
    });
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// All jobs share the transaction: the first failure ends the attempt (`None`).
    Shared,
    /// Each job in a savepoint: a failure undoes that job alone, and the batch goes on.
    Savepoints,
}

/// What a committed batch leaves: its hub events when the hub listens, the calls it wrote and
/// what it knew of users.
type Committed = (Option<CommittedHubEvents>, BatchCalls, KnownUsers);

/// The batch's jobs; `Some` to commit.
fn run_jobs(
    conn: &mut Connection,
    phones: &PhoneNormalizer,
    batch: &mut [Job],
    isolation: Isolation,
    hub_listens: bool,
    recent: &mut Recent,
) -> rusqlite::Result<Option<Committed>> {
    let savepoints = isolation == Isolation::Savepoints;
    recent.check(conn)?;
    let mut state = Batch::start(conn, hub_listens, recent.take_users())?;
    let recent = &*recent;
    for job in batch {
        if savepoints {
            conn.prepare_cached("SAVEPOINT job")?.execute([])?;
        }
        let mark = state.mark();
        let mut ledger = SqliteLedger::new(conn, phones, &mut state, recent);
        // A panicking job counts as a failed one.
        let kept = catch_unwind(AssertUnwindSafe(|| job.run(&mut ledger))).unwrap_or(false);
        if !savepoints && !kept {
            return Ok(None);
        }
        if savepoints {
            if !kept {
                conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
                state.undo_to(mark);
                state.calls.spoil();
            }
            conn.prepare_cached("RELEASE job")?.execute([])?;
        }
    }
    SqliteLedger::new(conn, phones, &mut state, recent).publish_notices()?;
    state.ids.write_back(conn)?;
    let (after, through) = state.ids.drawn();
    let events = state.hub_events.map(|events| CommittedHubEvents { after, through, events });
    Ok(Some((events, state.calls, state.users)))
}
