//! The SQLite ledger writer hands each committed batch's hub events to the hub as they are.
//!
//! Before, the hub read every batch's events back from the database after the commit and parsed
//! their payloads again: a read, and a hop to a blocking thread, a few hundred times a second
//! under load, for rows the writer had just built.
//!
//! The hub must still deliver every event once and in id order, and ids come from one sequence
//! that the pool's writers (a console's presence change, a bulk import) draw from between the
//! writer's batches. So a batch comes with the id range it drew, `(after, through]`: SQLite's write
//! lock keeps anybody else from taking an id while the batch holds it, so every hub event in that
//! range is one of the batch's. A hub that has delivered everything up to id `after` delivers
//! the batch as it is; otherwise something committed in between, and it reads from the database
//! as before ([`Store::hub_events_for_delivery`] tells it where that read leaves it).

use std::sync::OnceLock;

use ctihub_domain::Id;
use tokio::sync::mpsc;

use crate::{HubEvent, Store};

/// One committed batch's hub events, oldest first, and the ids it drew: those above `after`
/// up to `through`.
#[derive(Debug, Clone, PartialEq)]
pub struct CommittedHubEvents {
    pub after: Id,
    pub through: Id,
    pub events: Vec<HubEvent>,
}

/// Where the writer sends its batches, once a hub listens.
#[derive(Default)]
pub(crate) struct Handover {
    listener: OnceLock<mpsc::UnboundedSender<CommittedHubEvents>>,
}

impl Handover {
    /// Whether a hub listens; batches collect their hub events only then.
    pub(crate) fn is_listened_to(&self) -> bool {
        self.listener.get().is_some_and(|l| !l.is_closed())
    }

    pub(crate) fn hand_over(&self, committed: CommittedHubEvents) {
        if let Some(listener) = self.listener.get() {
            // A hub that stopped listening reads from the database, if it ever runs again.
            let _ = listener.send(committed);
        }
    }

    fn listen(&self) -> Option<mpsc::UnboundedReceiver<CommittedHubEvents>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.listener.set(sender).ok()?;
        Some(receiver)
    }
}

impl Store {
    /// The ledger writer's committed batches of hub events, for the one hub that delivers this
    /// store's events. `None` where there is no writer (PostgreSQL, memory) and when another
    /// hub took them already: such a hub reads every event from the database.
    pub fn committed_hub_events(&self) -> Option<mpsc::UnboundedReceiver<CommittedHubEvents>> {
        self.writer.as_deref()?.handover.listen()
    }
}
