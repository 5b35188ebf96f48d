//! What the writer knows from its earlier batches: the calls it recorded lately, so the events
//! that follow find their call without reading it back, and the users it looked up
//! ([`KnownUsers`]).
//!
//! A call's `answer` and `hangup` each looked the call up by its PBX id and read it back (three
//! statements, a tenth of the writer's instructions), although the writer had written it
//! moments before. The writer knows what it wrote; what it cannot see is another connection
//! changing a call (the console, a purge, a ref added through the API). SQLite's `data_version`
//! moves exactly when another connection commits, so at the start of each batch, inside its
//! transaction (nobody else can commit until it ends), a moved version forgets every call and
//! every user.

use std::collections::HashMap;

use ctihub_domain::Id;
use ctihub_domain::call::Call;
use ctihub_domain::user::User;
use rusqlite::Connection;

use crate::CallerMatch;

/// More than this many open calls at once is far beyond any PBX: the cache starts over rather
/// than grow.
const MAX_CALLS: usize = 10_000;

/// Calls as the writer's commits left them, by source and PBX id, and the users it looked up.
#[derive(Default)]
pub(crate) struct Recent {
    calls: HashMap<(String, String), Call>,
    users: KnownUsers,
    /// `PRAGMA data_version` when the calls and users were last known current.
    data_version: Option<i64>,
}

impl Recent {
    /// At the start of a batch's transaction: forget everything if another connection has
    /// committed since the last batch.
    pub(crate) fn check(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let version: i64 = conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?;
        if self.data_version != Some(version) || self.users.is_full() {
            self.calls.clear();
            self.users = KnownUsers::default();
            self.data_version = Some(version);
        }
        Ok(())
    }

    /// The users known so far, for a batch to go on from; it hands them back with
    /// [`Recent::absorb`].
    pub(crate) fn take_users(&mut self) -> KnownUsers {
        std::mem::take(&mut self.users)
    }

    /// What a committed batch wrote and knew. Ended calls are dropped (their later events are
    /// rare), and so are calls the batch found changed. What it knew of users still holds: the
    /// writer never writes them.
    pub(crate) fn absorb(&mut self, batch: BatchCalls, users: KnownUsers) {
        self.users = users;
        if batch.spoiled {
            self.calls.clear();
            return;
        }
        if self.calls.len() + batch.written.len() > MAX_CALLS {
            self.calls.clear();
        }
        for (key, call) in batch.written {
            match call {
                Some(call) if call.data.ended_at.is_none() => self.calls.insert(key, call),
                _ => self.calls.remove(&key),
            };
        }
    }
}

/// Who-is-who lookups the writer already made. Each event asks who its journal's audience is
/// (the admins, the owners of its queue's number), each ringing call who owns the line it rings
/// on and who is in do-not-disturb, each answer who the agent and the customer are: a busy
/// writer asks the same few questions for every event. The writer never writes users, presence
/// or the caller index, so the answers hold until another connection commits; they are kept
/// from batch to batch until then ([`Recent`]).
#[derive(Default)]
pub(crate) struct KnownUsers {
    /// Caller identification, by the number as the job asked.
    pub(crate) callers: HashMap<String, Vec<CallerMatch>>,
    /// Users by id (`None`: no such user).
    pub(crate) by_id: HashMap<Id, Option<User>>,
    /// Active staff by their name in lower case (`None`: nobody of that name).
    pub(crate) staff_by_name: HashMap<String, Option<User>>,
    pub(crate) admin_ids: Option<Vec<Id>>,
    pub(crate) do_not_disturb_ids: Option<Vec<Id>>,
}

impl KnownUsers {
    /// More than this many answers are forgotten rather than kept growing (every new caller
    /// adds one).
    const MAX_ANSWERS: usize = 20_000;

    pub(crate) fn is_full(&self) -> bool {
        self.callers.len() + self.by_id.len() + self.staff_by_name.len() > Self::MAX_ANSWERS
    }
}

/// The calls one batch wrote, seen before [`Recent`] by the batch's later jobs.
#[derive(Default)]
pub(crate) struct BatchCalls {
    /// `None`: the call was not as known (an update found it in another state), read it again.
    written: HashMap<(String, String), Option<Call>>,
    /// A job was rolled back after writing: what the batch and the cache hold can no longer be
    /// told apart from what was undone, so neither is used again.
    spoiled: bool,
}

impl BatchCalls {
    /// The call `source` knows as `external_id`, as the batch or the commits before it left it.
    pub(crate) fn find<'a>(&'a self, recent: &'a Recent, source: &str, external_id: &str) -> Option<&'a Call> {
        if self.spoiled {
            return None;
        }
        let key = (source.to_owned(), external_id.to_owned());
        match self.written.get(&key) {
            Some(written) => written.as_ref(),
            None => recent.calls.get(&key),
        }
    }

    /// `call` as just written, under each of its ids.
    pub(crate) fn wrote(&mut self, call: &Call) {
        self.note(call, Some(call));
    }

    /// `call` is not as it was known: the next lookup reads it.
    pub(crate) fn forget(&mut self, call: &Call) {
        self.note(call, None);
    }

    fn note(&mut self, call: &Call, known: Option<&Call>) {
        for r in &call.external_refs {
            self.written.insert((r.source.clone(), r.external_id.clone()), known.cloned());
        }
    }

    pub(crate) fn spoil(&mut self) {
        self.spoiled = true;
        self.written.clear();
    }
}
