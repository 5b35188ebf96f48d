//! What the SQLite ledger writer keeps for the length of one batch transaction.
//!
//! The writer holds SQLite's write lock from `BEGIN IMMEDIATE` to its commit, so nothing but the
//! batch's own jobs changes the database meanwhile, and those write calls and hub events, never
//! users. That is what lets ids be counted in memory, and what the writer knows of users
//! (`super::recent::KnownUsers`) carry from one batch to the next.

use ctihub_domain::Id;

use super::recent::{BatchCalls, KnownUsers};
use crate::HubEvent;
use crate::ids::BatchIds;
use crate::parked_events::ANY_PARKED_SQL;
use crate::settings_cache::GENERATION_SQL;

/// One batch's running state, handed to every job's [`super::SqliteLedger`].
pub(crate) struct Batch {
    pub(crate) ids: BatchIds,
    pub(crate) notices: BatchNotices,
    pub(crate) users: KnownUsers,
    pub(crate) calls: BatchCalls,
    /// Whether any event is parked for a call not yet known, once asked: almost never, and
    /// only other connections park them.
    parked_events: Option<bool>,
    /// The settings' generation, once asked: nobody can change settings before the commit.
    settings_generation: Option<i64>,
    /// The hub events stored so far, for the hub (`super::handover`); `None` when no hub listens.
    pub(crate) hub_events: Option<Vec<HubEvent>>,
}

impl Batch {
    /// A batch that starts from what the writer knows of its users.
    pub(crate) fn start(conn: &rusqlite::Connection, hub_listens: bool, users: KnownUsers) -> rusqlite::Result<Batch> {
        Ok(Batch {
            ids: BatchIds::read(conn)?,
            notices: BatchNotices::default(),
            users,
            calls: BatchCalls::default(),
            parked_events: None,
            settings_generation: None,
            hub_events: hub_listens.then(Vec::new),
        })
    }

    /// Whether a new call may have parked events to adopt.
    pub(crate) fn has_parked_events(&mut self, conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
        if let Some(known) = self.parked_events {
            return Ok(known);
        }
        let any = conn.prepare_cached(ANY_PARKED_SQL)?.query_row([], |r| r.get(0))?;
        Ok(*self.parked_events.insert(any))
    }

    pub(crate) fn settings_generation(&mut self, conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
        if let Some(known) = self.settings_generation {
            return Ok(known);
        }
        let generation = conn.prepare_cached(GENERATION_SQL)?.query_row([], |r| r.get(0))?;
        Ok(*self.settings_generation.insert(generation))
    }

    /// How much the batch has published, to undo a failed job's share with [`Batch::undo_to`].
    pub(crate) fn mark(&self) -> (usize, usize) {
        (self.notices.calls.len(), self.hub_events.as_ref().map_or(0, Vec::len))
    }

    pub(crate) fn undo_to(&mut self, (notices, hub_events): (usize, usize)) {
        self.notices.calls.truncate(notices);
        if let Some(events) = &mut self.hub_events {
            events.truncate(hub_events);
        }
    }
}

/// The calls a batch reported through [`CallLedger::publish_for_calls`], in order. Published
/// just before the commit as one event per kind and recipients.
///
/// [`CallLedger::publish_for_calls`]: super::CallLedger::publish_for_calls
#[derive(Default)]
pub(crate) struct BatchNotices {
    pub(crate) calls: Vec<(Notice, Id)>,
}

/// What one notice event is: its kind and who gets it (`None`: every agent).
pub(crate) type Notice = (&'static str, Option<Vec<Id>>);

impl BatchNotices {
    /// Note `call_id` for `notice`; `true` when it is the notice's first call in the batch.
    pub(crate) fn add(&mut self, notice: Notice, call_id: Id) -> bool {
        let first = !self.calls.iter().any(|(n, _)| *n == notice);
        self.calls.push((notice, call_id));
        first
    }

    /// Each notice with its calls, once each, in the order they were first noted.
    pub(crate) fn grouped(&self) -> Vec<(&Notice, Vec<Id>)> {
        let mut grouped: Vec<(&Notice, Vec<Id>)> = Vec::new();
        for (notice, call_id) in &self.calls {
            match grouped.iter_mut().find(|(n, _)| *n == notice) {
                Some((_, ids)) if ids.contains(call_id) => {}
                Some((_, ids)) => ids.push(*call_id),
                None => grouped.push((notice, vec![*call_id])),
            }
        }
        grouped
    }
}
