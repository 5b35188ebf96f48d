//! The server's tokio runtime, sized so that the threads that handle requests and the SQLite
//! ledger writer do not take turns on the same cores (decision 0019,
//! `docs/decisions/0019-request-workers.md`).
//!
//! On SQLite every event waits for the one writer thread (decision 0014), which is busy most of
//! the time under load. tokio's default, a worker per core, adds as many runnable threads as
//! there are cores beside it, so the writer is preempted by request work that then waits for
//! the writer. One core fewer for requests keeps a core's worth for the writer and its sync and
//! checkpoint threads. PostgreSQL has no such thread in the process, so it keeps one per core.

use std::num::NonZeroUsize;

use ctihub_store::DatabaseLocation;

use crate::config::{Settings, WorkerThreads};

/// The runtime `ctihub serve` runs on.
pub fn server(settings: &Settings) -> std::io::Result<tokio::runtime::Runtime> {
    // `available_parallelism` counts the cores this process may use: its CPU affinity and a
    // container's CPU quota, not the machine's.
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let workers = request_workers(settings.worker_threads, &settings.database, cores);
    tracing::info!(workers, cores, "request worker threads");
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()
}

/// The runtime of every other command: one thread. A bulk import is a long chain of round trips
/// to sqlx's SQLite worker thread, and routing each reply through a separate runtime worker only
/// adds thread hand-offs (a 20k-row import took ~15% longer that way).
pub fn one_shot() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

fn request_workers(configured: WorkerThreads, database: &DatabaseLocation, cores: usize) -> usize {
    match (configured, database) {
        (WorkerThreads::Fixed(n), _) => n.get(),
        (WorkerThreads::Auto, DatabaseLocation::Postgres(_)) => cores.max(1),
        (WorkerThreads::Auto, DatabaseLocation::SqliteFile(_) | DatabaseLocation::SqliteMemory) => {
            cores.saturating_sub(1).max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQLITE: DatabaseLocation = DatabaseLocation::SqliteMemory;

    fn postgres() -> DatabaseLocation {
        DatabaseLocation::Postgres("postgres://ctihub@db/ctihub".into())
    }

    #[test]
    fn sqlite_leaves_the_writer_a_core_and_keeps_at_least_one_worker() {
        let auto = |cores| request_workers(WorkerThreads::Auto, &SQLITE, cores);
        assert_eq!([auto(1), auto(2), auto(4), auto(16)], [1, 1, 3, 15]);
    }

    #[test]
    fn postgres_takes_every_core() {
        let auto = |cores| request_workers(WorkerThreads::Auto, &postgres(), cores);
        assert_eq!([auto(1), auto(2), auto(8)], [1, 2, 8]);
    }

    #[test]
    fn a_configured_count_wins_on_either_backend() {
        let three = WorkerThreads::Fixed(NonZeroUsize::new(3).unwrap());
        assert_eq!(request_workers(three, &SQLITE, 2), 3);
        assert_eq!(request_workers(three, &postgres(), 16), 3);
    }
}
