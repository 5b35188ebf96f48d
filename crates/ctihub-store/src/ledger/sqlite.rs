//! The call ledger inside the SQLite writer's batch transaction. Statements run synchronously on
//! the writer thread's own connection (prepared once, cached); the `async` methods complete
//! without ever waiting. The SQL is the pool's own (`crate::calls` and friends).

use std::sync::LazyLock;

use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, CallState, ExternalRef, NewCallEvent};
use ctihub_domain::phone::{CallerNumber, PhoneNormalizer};
use ctihub_domain::time::{Millis, now_millis};
use ctihub_domain::user::User;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, ToSql};

use super::batch::Batch;
use super::recent::Recent;
use super::{CALL_BY_ID_SQL, CallLedger, USER_BY_AGENT_ID_SQL, USER_BY_ID_SQL};
use crate::caller_index::identify_on;
use crate::calls::{
    CALL_COLUMNS, CALL_REFS_SQL, CallRow, FIND_REF_SQL, INSERT_CALL_SQL, INSERT_EVENT_SQL, INSERT_REF_SQL,
};
use crate::hub_events::{INSERT_HUB_EVENT_SQL, PRESENCE_SQL};
use crate::journal::{STAFF_BY_NAME_SQL, TICKET_UPDATED_SINCE_SQL};
use crate::json::to_text;
use crate::parked_events::{ADOPT_SQL, UNPARK_SQL};
use crate::users::{ACTIVE_ADMINS_SQL, ACTIVE_STAFF_SQL, UserRow};
use crate::{CallerMatch, HubEvent, Presence, StoreError, StoreResult};

/// `$1` … `$40`, for binding by name.
static PARAMETER_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| (1..=40).map(|n| format!("${n}")).collect());

/// Bind values to `$1`, `$2`, … by name. The pool's SQL is written for sqlx, which binds `$N`
/// to the N-th value; SQLite itself numbers a parameter by where it first appears (the UPDATE
/// names `$2` … `$32` before `$1`), so positional binding would shift them.
fn numbered<'v>(values: &[&'v dyn ToSql]) -> Vec<(&'static str, &'v dyn ToSql)> {
    values.iter().zip(PARAMETER_NAMES.iter()).map(|(value, name)| (name.as_str(), *value)).collect()
}

fn numbered_values(values: &[Value]) -> Vec<(&'static str, &dyn ToSql)> {
    numbered(&values.iter().map(|v| v as &dyn ToSql).collect::<Vec<_>>())
}

macro_rules! numbered {
    ($($value:expr),* $(,)?) => {
        numbered(&[$(&$value as &dyn ToSql),*]).as_slice()
    };
}

/// One job's view of the writer's open transaction.
pub struct SqliteLedger<'c> {
    // `&mut`, not `&`: a connection is `Send` but not `Sync`, and the ledger's futures must be
    // `Send`.
    conn: &'c mut Connection,
    phones: &'c PhoneNormalizer,
    batch: &'c mut Batch,
    recent: &'c Recent,
}

impl<'c> SqliteLedger<'c> {
    pub(crate) fn new(
        conn: &'c mut Connection,
        phones: &'c PhoneNormalizer,
        batch: &'c mut Batch,
        recent: &'c Recent,
    ) -> Self {
        SqliteLedger { conn, phones, batch, recent }
    }

    /// The settings' generation as of this batch (see [`crate::Store::cached_setting`]): a job
    /// admitted under a setting cached at another generation must be admitted again.
    pub fn settings_generation(&mut self) -> StoreResult<i64> {
        Ok(self.batch.settings_generation(self.conn)?)
    }

    /// The batch's notices, one hub event per kind, inside its transaction.
    pub(crate) fn publish_notices(&mut self) -> rusqlite::Result<()> {
        let notices = std::mem::take(&mut self.batch.notices);
        for ((kind, recipients), call_ids) in notices.grouped() {
            self.insert_hub_event(kind, recipients.as_deref(), &serde_json::json!({ "call_ids": call_ids }), None)?;
        }
        Ok(())
    }

    /// The new event's id, or `None` when `once_key` was used before.
    fn insert_hub_event(
        &mut self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
        once_key: Option<&str>,
    ) -> rusqlite::Result<Option<(Id, Millis)>> {
        let now = now_millis();
        let id = self.batch.ids.next();
        let changed = self.conn.prepare_cached(INSERT_HUB_EVENT_SQL)?.execute(numbered![
            id,
            kind,
            recipients.map(|r| to_text(&r)),
            to_text(payload),
            now,
            once_key
        ])?;
        let inserted = (changed == 1).then_some(id);
        if let (Some(id), Some(events)) = (inserted, &mut self.batch.hub_events) {
            events.push(HubEvent::stored(id, kind, recipients, payload, now));
        }
        Ok(inserted.map(|id| (id, now)))
    }

    fn insert_event(&mut self, call_id: Id, event: &NewCallEvent, now: Millis) -> StoreResult<()> {
        let id = self.batch.ids.next();
        self.conn.prepare_cached(INSERT_EVENT_SQL)?.execute(numbered![
            id,
            call_id,
            event.source,
            event.kind,
            to_text(&event.payload),
            event.occurred_at,
            now
        ])?;
        Ok(())
    }

    fn load_call(&self, id: Id) -> StoreResult<Option<Call>> {
        let row =
            self.conn.prepare_cached(&CALL_BY_ID_SQL)?.query_row(numbered![id], CallRow::from_sqlite).optional()?;
        let Some(row) = row else { return Ok(None) };
        let mut refs = self.conn.prepare_cached(CALL_REFS_SQL)?;
        let refs = refs
            .query_map(numbered![id], |r| Ok(ExternalRef::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        row.into_call(refs).map(Some)
    }

    fn find_user_where(&self, sql: &str, value: &dyn rusqlite::ToSql) -> StoreResult<Option<User>> {
        let row = self
            .conn
            .prepare_cached(sql)?
            .query_row(numbered(&[value]).as_slice(), |row| UserRow::from_sqlite_at(row, 0))
            .optional()?;
        row.map(User::try_from).transpose()
    }

    fn customer_key(&self, data: &CallData) -> Option<String> {
        self.phones.normalize(data.customer_line()).key().map(|k| k.as_str().to_owned())
    }
}

/// A call's columns after its id, in `CALL_COLUMNS` order, then the customer key (the pool's
/// `bind_call_data!`).
fn call_values(data: &CallData, customer_key: Option<String>) -> Vec<Value> {
    let text = |s: &Option<String>| Value::from(s.clone());
    vec![
        Value::from(data.direction.as_str().to_owned()),
        Value::from(data.state.as_str().to_owned()),
        Value::from(data.from_line.clone()),
        Value::from(data.to_line.clone()),
        text(&data.from_name),
        text(&data.to_name),
        text(&data.dnis),
        text(&data.queue_name),
        Value::from(data.started_at),
        Value::from(data.answered_at),
        Value::from(data.ended_at),
        Value::from(data.completion_status.map(|c| c.as_str().to_owned())),
        text(&data.hangup_cause),
        Value::from(data.agent_id),
        Value::from(data.end_user_id),
        Value::from(data.organization_id),
        Value::from(data.ticket_id),
        Value::from(data.duration),
        Value::from(data.time_to_answer),
        Value::from(data.talk_time),
        Value::from(data.hold_time),
        Value::from(data.wait_time),
        Value::from(data.wrap_up_time),
        Value::from(data.queue_time),
        text(&data.recording_url),
        text(&data.transcript),
        Value::from(data.done),
        text(&data.comment),
        Value::from(to_text(&data.details)),
        Value::from(customer_key),
    ]
}

/// The columns after `id` that [`call_values`] lists, in its order.
static CALL_VALUE_COLUMNS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut columns: Vec<&str> = CALL_COLUMNS.split(',').map(str::trim).collect();
    columns.retain(|c| !matches!(*c, "id" | "created_at" | "updated_at"));
    columns.push("customer_key");
    columns
});

/// An `UPDATE` of only the columns whose values change, guarded like the pool's
/// `UPDATE_CALL_SQL` by the state the call is expected in. SQLite rewrites an index entry for
/// every indexed column a statement assigns, even to its old value; an answer or hangup that
/// assigned all of them rewrote six index entries of the call, the caller's key among them,
/// where it changes two or three plain columns.
fn narrow_update(
    id: Id,
    expected: CallState,
    before: &[Value],
    after: Vec<Value>,
    now: Millis,
) -> (String, Vec<Value>) {
    let mut sql = String::from("UPDATE calls SET ");
    let mut values = vec![Value::from(id), Value::from(expected.as_str().to_owned()), Value::from(now)];
    sql.push_str("updated_at = ?3");
    for ((column, old), new) in CALL_VALUE_COLUMNS.iter().zip(before).zip(after) {
        if *old != new {
            values.push(new);
            sql.push_str(&format!(", {column} = ?{}", values.len()));
        }
    }
    sql.push_str(" WHERE id = ?1 AND state = ?2");
    (sql, values)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

impl CallLedger for SqliteLedger<'_> {
    fn phones(&self) -> &PhoneNormalizer {
        self.phones
    }

    async fn find_call_by_ref(&mut self, source: &str, external_id: &str) -> StoreResult<Option<Call>> {
        if let Some(known) = self.batch.calls.find(self.recent, source, external_id) {
            return Ok(Some(known.clone()));
        }
        let id: Option<Id> = self
            .conn
            .prepare_cached(FIND_REF_SQL)?
            .query_row(numbered![source, external_id], |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => self.load_call(id),
            None => Ok(None),
        }
    }

    async fn create_call(&mut self, data: &CallData, refs: &[ExternalRef], event: &NewCallEvent) -> StoreResult<Call> {
        let now = now_millis();
        let id = self.batch.ids.next();
        let mut values = vec![Value::from(id)];
        values.extend(call_values(data, self.customer_key(data)));
        values.push(Value::from(now));
        self.conn.prepare_cached(INSERT_CALL_SQL)?.execute(numbered_values(&values).as_slice())?;
        for r in refs {
            self.conn.prepare_cached(INSERT_REF_SQL)?.execute(numbered![r.source, r.external_id, id]).map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::conflict("external_id", "is already used by another call")
                } else {
                    e.into()
                }
            })?;
        }
        self.insert_event(id, event, now)?;
        if self.batch.has_parked_events(self.conn)? {
            for r in refs {
                self.conn.prepare_cached(ADOPT_SQL)?.execute(numbered![id, r.source, r.external_id])?;
                self.conn.prepare_cached(UNPARK_SQL)?.execute(numbered![r.source, r.external_id])?;
            }
        }
        // What was written, without reading it back; refs in the order the pool lists them.
        let mut external_refs = refs.to_vec();
        external_refs.sort_by(|a, b| (&a.source, &a.external_id).cmp(&(&b.source, &b.external_id)));
        let call = Call { id, data: data.clone(), external_refs, created_at: now, updated_at: now };
        self.batch.calls.wrote(&call);
        Ok(call)
    }

    async fn update_call_if_state(
        &mut self,
        call: &Call,
        expected: CallState,
        data: &CallData,
        event: &NewCallEvent,
    ) -> StoreResult<Option<Call>> {
        let now = now_millis();
        let before = call_values(&call.data, self.customer_key(&call.data));
        let after = call_values(data, self.customer_key(data));
        let (sql, values) = narrow_update(call.id, expected, &before, after, now);
        if self.conn.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))? == 0 {
            self.batch.calls.forget(call);
            return Ok(None);
        }
        self.insert_event(call.id, event, now)?;
        let updated = Call { data: data.clone(), updated_at: now, ..call.clone() };
        self.batch.calls.wrote(&updated);
        Ok(Some(updated))
    }

    async fn append_call_event(&mut self, call_id: Id, event: &NewCallEvent) -> StoreResult<()> {
        self.insert_event(call_id, event, now_millis())
    }

    async fn identify_caller(&mut self, number: &str) -> StoreResult<Vec<CallerMatch>> {
        if let Some(known) = self.batch.users.callers.get(number) {
            return Ok(known.clone());
        }
        let matches = match self.phones.normalize(number) {
            CallerNumber::Number(key) => identify_on(self.conn, key.as_str())?,
            _ => Vec::new(),
        };
        let users = &mut self.batch.users;
        for found in &matches {
            users.by_id.entry(found.user.id).or_insert_with(|| Some(found.user.clone()));
        }
        users.callers.insert(number.to_owned(), matches.clone());
        Ok(matches)
    }

    async fn find_user(&mut self, id: Id) -> StoreResult<Option<User>> {
        if let Some(known) = self.batch.users.by_id.get(&id) {
            return Ok(known.clone());
        }
        let user = self.find_user_where(&USER_BY_ID_SQL, &id)?;
        self.batch.users.by_id.insert(id, user.clone());
        Ok(user)
    }

    async fn find_agent_by_agent_id(&mut self, agent_id: &str) -> StoreResult<Option<User>> {
        self.find_user_where(&USER_BY_AGENT_ID_SQL, &agent_id)
    }

    async fn find_staff_by_name(&mut self, name: &str) -> StoreResult<Option<User>> {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return Ok(None);
        }
        if let Some(known) = self.batch.users.staff_by_name.get(&name) {
            return Ok(known.clone());
        }
        let user = self.find_user_where(STAFF_BY_NAME_SQL, &name)?;
        self.batch.users.staff_by_name.insert(name, user.clone());
        Ok(user)
    }

    async fn active_staff_ids(&mut self) -> StoreResult<Vec<Id>> {
        let mut query = self.conn.prepare_cached(ACTIVE_STAFF_SQL)?;
        Ok(query.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<Id>>>()?)
    }

    async fn active_admin_ids(&mut self) -> StoreResult<Vec<Id>> {
        if let Some(known) = &self.batch.users.admin_ids {
            return Ok(known.clone());
        }
        let mut query = self.conn.prepare_cached(ACTIVE_ADMINS_SQL)?;
        let ids = query.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<Id>>>()?;
        Ok(self.batch.users.admin_ids.insert(ids).clone())
    }

    async fn do_not_disturb_ids(&mut self) -> StoreResult<Vec<Id>> {
        if let Some(known) = &self.batch.users.do_not_disturb_ids {
            return Ok(known.clone());
        }
        let mut query = self.conn.prepare_cached(PRESENCE_SQL)?;
        let rows = query
            .query_map([], |r| Ok((r.get::<_, Id>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let ids = rows
            .into_iter()
            .filter(|(_, s)| Presence::parse(s) == Some(Presence::DoNotDisturb))
            .map(|(id, _)| id)
            .collect();
        Ok(self.batch.users.do_not_disturb_ids.insert(ids).clone())
    }

    async fn has_ticket_updated_since(&mut self, user_id: Id, since: Millis) -> StoreResult<bool> {
        Ok(self.conn.prepare_cached(TICKET_UPDATED_SINCE_SQL)?.exists(numbered![user_id, since])?)
    }

    async fn publish_hub_event_once(
        &mut self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
        once_key: Option<&str>,
    ) -> StoreResult<bool> {
        Ok(self.insert_hub_event(kind, recipients, payload, once_key)?.is_some())
    }

    async fn publish_for_calls(
        &mut self,
        kind: &'static str,
        recipients: Option<&[Id]>,
        call_id: Id,
    ) -> StoreResult<bool> {
        Ok(self.batch.notices.add((kind, recipients.map(<[Id]>::to_vec)), call_id))
    }
}

#[cfg(test)]
mod tests {
    use ctihub_domain::call::{CallData, CallState, Direction};

    use super::*;

    #[test]
    fn a_narrow_update_assigns_only_what_changed() {
        let ringing = CallData::new(Direction::Inbound, "+15135557611", "+18005550100", 1_000);
        let mut answered = ringing.clone();
        answered.state = CallState::InProgress;
        answered.answered_at = Some(2_000);
        let before = call_values(&ringing, Some("+15135557611".into()));
        assert_eq!(before.len(), CALL_VALUE_COLUMNS.len(), "one column name per value");
        let after = call_values(&answered, Some("+15135557611".into()));
        let (sql, values) = narrow_update(7, CallState::Ringing, &before, after, 3_000);
        assert_eq!(sql, "UPDATE calls SET updated_at = ?3, state = ?4, answered_at = ?5 WHERE id = ?1 AND state = ?2");
        assert_eq!(
            values,
            [
                Value::from(7),
                Value::from("ringing".to_owned()),
                Value::from(3_000),
                Value::from("in_progress".to_owned()),
                Value::from(2_000)
            ]
        );
    }
}
