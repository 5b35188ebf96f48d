//! An SQLite VFS that writes each commit's write-ahead log frames with one write.
//!
//! SQLite appends a frame to the log with two `pwrite`s, its 24-byte header and then its page,
//! so the ledger writer's commit of some 60 frames made some 120 system calls, a fifth of the
//! writer's time under load. This VFS wraps SQLite's own (`unix` on Linux) and changes one
//! thing: appends to a log are gathered and written with one call when the transaction's commit
//! frame is complete (in pieces of up to 124 KiB, the most SQLite's `unix` VFS writes at once), or earlier when anything else is done with the log. Everything else is
//! passed through. Durability is unchanged (the frames are written before `COMMIT` returns,
//! syncing is as before) and so is what other connections see (see `file`).
//!
//! Only the ledger writer's connection opens the database through it
//! ([decision 0017](../../../docs/decisions/0017-wal-vfs.md)).

mod file;
mod pending;
mod vfs;

use std::sync::atomic::AtomicU64;

pub use vfs::register;

/// The name connections open the database with (`Connection::open_with_flags_and_vfs`).
pub const NAME: &str = "ctihub-wal";

/// Times gathered log bytes were written to the underlying files, since the process started.
static LOG_FLUSHES: AtomicU64 = AtomicU64::new(0);

/// How many times gathered log bytes were written to the underlying files so far, in this
/// process: one `pwrite` per 124 KiB of them.
pub fn log_flushes() -> u64 {
    LOG_FLUSHES.load(std::sync::atomic::Ordering::Relaxed)
}
