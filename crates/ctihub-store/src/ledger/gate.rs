//! Holding the ledger writer out of the database for a moment, between two of its transactions.
//!
//! SQLite starts its write-ahead log over from the beginning only in a write transaction that
//! began when every frame of the log was already copied into the database. A busy writer
//! commits every millisecond or so, so a checkpoint running beside it never copies the last
//! frame before the next one lands, and the log grows for as long as events keep coming.
//! Appending to an ever longer file costs the kernel far more than overwriting one it has
//! cached (each page and block newly allocated, each sync journaling the new size). So the
//! checkpoint thread, once the log is long, holds the writer at the gate while it copies what
//! is left; the writer's next transaction then restarts the log.
//!
//! The gate is advice, never needed for correctness: a writer that waited too long goes in
//! anyway (SQLite's own locks keep both safe), and the log merely starts over another time.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct Gate {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// The writer is between `BEGIN` and the end of its transaction.
    writing: bool,
    /// The checkpoint thread holds the gate shut.
    held: bool,
    /// Somebody waits on `changed`: only then is it worth a wake-up call.
    waiting: bool,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing here is left half-changed by a panic: the poison means nothing.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>, until: Instant) -> (MutexGuard<'a, State>, bool) {
        let left = until.saturating_duration_since(Instant::now());
        let (state, timeout) = self.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner);
        (state, timeout.timed_out())
    }

    fn wake(&self, mut state: MutexGuard<'_, State>) {
        if std::mem::take(&mut state.waiting) {
            self.changed.notify_all();
        }
    }

    /// The writer is about to begin a transaction: wait while the gate is held, but no longer
    /// than `patience`.
    pub(super) fn enter(&self, patience: Duration) {
        let until = Instant::now() + patience;
        let mut state = self.lock();
        while state.held {
            state.waiting = true;
            let (next, timed_out) = self.wait(state, until);
            state = next;
            if timed_out {
                break;
            }
        }
        state.writing = true;
    }

    /// The writer's transaction ended (committed or rolled back).
    pub(super) fn leave(&self) {
        let mut state = self.lock();
        state.writing = false;
        self.wake(state);
    }

    /// Shut the gate once the writer's transaction in progress (if any) has ended; `None` when
    /// it did not end within `patience`. The gate opens when the hold is dropped.
    pub(super) fn hold(&self, patience: Duration) -> Option<Hold<'_>> {
        let until = Instant::now() + patience;
        let mut state = self.lock();
        state.held = true;
        while state.writing {
            state.waiting = true;
            let (next, timed_out) = self.wait(state, until);
            state = next;
            if timed_out && state.writing {
                state.held = false;
                self.wake(state);
                return None;
            }
        }
        Some(Hold { gate: self })
    }
}

/// The gate held shut; dropping it lets the writer in.
pub(super) struct Hold<'a> {
    gate: &'a Gate,
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.held = false;
        self.gate.wake(state);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::Gate;

    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn a_hold_waits_for_the_transaction_and_keeps_the_next_one_out() {
        let gate = Arc::new(Gate::default());
        gate.enter(LONG);
        let held = Arc::new(AtomicBool::new(false));
        let holder = {
            let (gate, held) = (gate.clone(), held.clone());
            std::thread::spawn(move || {
                let hold = gate.hold(LONG).expect("the transaction ends");
                held.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                held.store(false, Ordering::SeqCst);
                drop(hold);
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!held.load(Ordering::SeqCst), "held while the writer was in its transaction");
        gate.leave();
        while !held.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        gate.enter(LONG);
        assert!(!held.load(Ordering::SeqCst), "the writer went in while the gate was held");
        gate.leave();
        holder.join().unwrap();
    }

    #[test]
    fn patience_bounds_both_waits() {
        let gate = Gate::default();
        gate.enter(LONG);
        let started = Instant::now();
        assert!(gate.hold(Duration::from_millis(20)).is_none(), "the transaction never ended");
        assert!(started.elapsed() >= Duration::from_millis(20));
        gate.leave();

        let hold = gate.hold(LONG).expect("no transaction in progress");
        let started = Instant::now();
        gate.enter(Duration::from_millis(20));
        assert!(started.elapsed() >= Duration::from_millis(20), "the writer went in at once");
        gate.leave();
        drop(hold);
    }
}
