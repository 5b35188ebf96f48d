//! Calls and their events. Dialect adapters decide what an event means; the store keeps the
//! resulting Call and every event verbatim, in the same transaction, so an acknowledged event is
//! never lost.

use std::collections::HashMap;

use ctihub_domain::Id;
use ctihub_domain::call::{
    Call, CallData, CallEvent, CallState, CompletionStatus, Direction, ExternalRef, NewCallEvent,
};
use ctihub_domain::time::now_millis;

use crate::error::map_unique;
use crate::ids::next_id;
use crate::json::{from_text, to_text};
use crate::parked_events::adopt_parked_events;
use crate::reader::InOrder;
use crate::users::id_list;
use crate::{Store, StoreError, StoreResult, on_pool};

pub(crate) const CALL_COLUMNS: &str = "id, direction, state, from_line, to_line, from_name, to_name, dnis, queue_name, started_at, answered_at, \
     ended_at, completion_status, hangup_cause, agent_id, end_user_id, organization_id, ticket_id, duration, \
     time_to_answer, talk_time, hold_time, wait_time, wrap_up_time, queue_time, recording_url, transcript, done, \
     comment, details, created_at, updated_at";

pub(crate) const REF_CONFLICT: &[(&str, &str, &str)] =
    &[("call_refs", "external_id", "is already used by another call")];

// The SQL of recording call events, shared with the SQLite ledger writer (`crate::ledger`).
// Call data binds in `CALL_COLUMNS` order after the id, then the customer key and the time.

pub(crate) const INSERT_CALL_SQL: &str = "INSERT INTO calls (id, direction, state, from_line, to_line, from_name, to_name, dnis, queue_name, \
     started_at, answered_at, ended_at, completion_status, hangup_cause, agent_id, end_user_id, \
     organization_id, ticket_id, duration, time_to_answer, talk_time, hold_time, wait_time, wrap_up_time, \
     queue_time, recording_url, transcript, done, comment, details, customer_key, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
     $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $32)";

/// `$33 IS NULL` makes the state guard optional without a second statement.
pub(crate) const UPDATE_CALL_SQL: &str = "UPDATE calls SET direction = $2, state = $3, from_line = $4, to_line = $5, from_name = $6, to_name = $7, \
     dnis = $8, queue_name = $9, started_at = $10, answered_at = $11, ended_at = $12, \
     completion_status = $13, hangup_cause = $14, agent_id = $15, end_user_id = $16, \
     organization_id = $17, ticket_id = $18, duration = $19, time_to_answer = $20, talk_time = $21, \
     hold_time = $22, wait_time = $23, wrap_up_time = $24, queue_time = $25, recording_url = $26, \
     transcript = $27, done = $28, comment = $29, details = $30, customer_key = $31, updated_at = $32 \
     WHERE id = $1 AND ($33 IS NULL OR state = $33)";

pub(crate) const INSERT_EVENT_SQL: &str = "INSERT INTO call_events (id, call_id, source, kind, payload, occurred_at, received_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(crate) const INSERT_REF_SQL: &str = "INSERT INTO call_refs (source, external_id, call_id) VALUES ($1, $2, $3)";

pub(crate) const FIND_REF_SQL: &str = "SELECT call_id FROM call_refs WHERE source = $1 AND external_id = $2";

pub(crate) const CALL_REFS_SQL: &str =
    "SELECT source, external_id FROM call_refs WHERE call_id = $1 ORDER BY source, external_id";

#[derive(sqlx::FromRow)]
pub(crate) struct CallRow {
    id: i64,
    direction: String,
    state: String,
    from_line: String,
    to_line: String,
    from_name: Option<String>,
    to_name: Option<String>,
    dnis: Option<String>,
    queue_name: Option<String>,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    completion_status: Option<String>,
    hangup_cause: Option<String>,
    agent_id: Option<i64>,
    end_user_id: Option<i64>,
    organization_id: Option<i64>,
    ticket_id: Option<i64>,
    duration: Option<i64>,
    time_to_answer: Option<i64>,
    talk_time: Option<i64>,
    hold_time: Option<i64>,
    wait_time: Option<i64>,
    wrap_up_time: Option<i64>,
    queue_time: Option<i64>,
    recording_url: Option<String>,
    transcript: Option<String>,
    done: bool,
    comment: Option<String>,
    details: String,
    created_at: i64,
    updated_at: i64,
}

impl CallRow {
    /// The same row read through rusqlite, selected with `CALL_COLUMNS`.
    pub(crate) fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<CallRow> {
        let mut columns = InOrder::from(row, 0);
        Ok(CallRow {
            id: columns.next("id")?,
            direction: columns.next("direction")?,
            state: columns.next("state")?,
            from_line: columns.next("from_line")?,
            to_line: columns.next("to_line")?,
            from_name: columns.next("from_name")?,
            to_name: columns.next("to_name")?,
            dnis: columns.next("dnis")?,
            queue_name: columns.next("queue_name")?,
            started_at: columns.next("started_at")?,
            answered_at: columns.next("answered_at")?,
            ended_at: columns.next("ended_at")?,
            completion_status: columns.next("completion_status")?,
            hangup_cause: columns.next("hangup_cause")?,
            agent_id: columns.next("agent_id")?,
            end_user_id: columns.next("end_user_id")?,
            organization_id: columns.next("organization_id")?,
            ticket_id: columns.next("ticket_id")?,
            duration: columns.next("duration")?,
            time_to_answer: columns.next("time_to_answer")?,
            talk_time: columns.next("talk_time")?,
            hold_time: columns.next("hold_time")?,
            wait_time: columns.next("wait_time")?,
            wrap_up_time: columns.next("wrap_up_time")?,
            queue_time: columns.next("queue_time")?,
            recording_url: columns.next("recording_url")?,
            transcript: columns.next("transcript")?,
            done: columns.next("done")?,
            comment: columns.next("comment")?,
            details: columns.next("details")?,
            created_at: columns.next("created_at")?,
            updated_at: columns.next("updated_at")?,
        })
    }

    pub(crate) fn into_call(self, external_refs: Vec<ExternalRef>) -> StoreResult<Call> {
        let corrupt = |e: ctihub_domain::DomainError| StoreError::Corrupt(e.to_string());
        Ok(Call {
            id: self.id,
            data: CallData {
                direction: Direction::parse(&self.direction).map_err(corrupt)?,
                state: CallState::parse(&self.state).map_err(corrupt)?,
                from_line: self.from_line,
                to_line: self.to_line,
                from_name: self.from_name,
                to_name: self.to_name,
                dnis: self.dnis,
                queue_name: self.queue_name,
                started_at: self.started_at,
                answered_at: self.answered_at,
                ended_at: self.ended_at,
                completion_status: self
                    .completion_status
                    .as_deref()
                    .map(CompletionStatus::parse)
                    .transpose()
                    .map_err(corrupt)?,
                hangup_cause: self.hangup_cause,
                agent_id: self.agent_id,
                end_user_id: self.end_user_id,
                organization_id: self.organization_id,
                ticket_id: self.ticket_id,
                duration: self.duration,
                time_to_answer: self.time_to_answer,
                talk_time: self.talk_time,
                hold_time: self.hold_time,
                wait_time: self.wait_time,
                wrap_up_time: self.wrap_up_time,
                queue_time: self.queue_time,
                recording_url: self.recording_url,
                transcript: self.transcript,
                done: self.done,
                comment: self.comment,
                details: from_text("calls.details", &self.details)?,
            },
            external_refs,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    call_id: i64,
    source: String,
    kind: String,
    payload: String,
    occurred_at: i64,
    received_at: i64,
}

impl TryFrom<EventRow> for CallEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> StoreResult<Self> {
        Ok(CallEvent {
            id: row.id,
            call_id: row.call_id,
            source: row.source,
            kind: row.kind,
            payload: from_text("call_events.payload", &row.payload)?,
            occurred_at: row.occurred_at,
            received_at: row.received_at,
        })
    }
}

macro_rules! insert_event {
    ($tx:expr, $pg:expr, $call_id:expr, $event:expr, $now:expr) => {{
        let id = next_id!($tx, $pg);
        sqlx::query($crate::calls::INSERT_EVENT_SQL)
            .bind(id)
            .bind($call_id)
            .bind(&$event.source)
            .bind(&$event.kind)
            .bind(to_text(&$event.payload))
            .bind($event.occurred_at)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        id
    }};
}
pub(crate) use insert_event;

/// Bind every `CallData` column after `id`, in `CALL_COLUMNS` order, plus the customer key.
macro_rules! bind_call_data {
    ($query:expr, $data:expr, $customer_key:expr) => {
        $query
            .bind($data.direction.as_str())
            .bind($data.state.as_str())
            .bind(&$data.from_line)
            .bind(&$data.to_line)
            .bind(&$data.from_name)
            .bind(&$data.to_name)
            .bind(&$data.dnis)
            .bind(&$data.queue_name)
            .bind($data.started_at)
            .bind($data.answered_at)
            .bind($data.ended_at)
            .bind($data.completion_status.map(|c| c.as_str()))
            .bind(&$data.hangup_cause)
            .bind($data.agent_id)
            .bind($data.end_user_id)
            .bind($data.organization_id)
            .bind($data.ticket_id)
            .bind($data.duration)
            .bind($data.time_to_answer)
            .bind($data.talk_time)
            .bind($data.hold_time)
            .bind($data.wait_time)
            .bind($data.wrap_up_time)
            .bind($data.queue_time)
            .bind(&$data.recording_url)
            .bind(&$data.transcript)
            .bind($data.done)
            .bind(&$data.comment)
            .bind(to_text(&$data.details))
            .bind($customer_key)
    };
}
pub(crate) use bind_call_data;

/// Insert a new call with its source ids and first event (an `Option`), and adopt the events
/// parked under those ids: `insert_call!(tx, PG, data, customer_key, refs, first_event, now)`
/// is the new call's id. A source id already taken is [`StoreError::Conflict`].
macro_rules! insert_call {
    ($tx:expr, $pg:expr, $data:expr, $customer_key:expr, $refs:expr, $first_event:expr, $now:expr) => {{
        let id = next_id!($tx, $pg);
        let insert = sqlx::query($crate::calls::INSERT_CALL_SQL).bind(id);
        bind_call_data!(insert, $data, $customer_key).bind($now).execute(&mut *$tx).await?;
        for r in $refs {
            sqlx::query($crate::calls::INSERT_REF_SQL)
                .bind(&r.source)
                .bind(&r.external_id)
                .bind(id)
                .execute(&mut *$tx)
                .await
                .map_err(|e| $crate::error::map_unique(e, $crate::calls::REF_CONFLICT))?;
        }
        if let Some(event) = $first_event {
            insert_event!($tx, $pg, id, event, $now);
        }
        for r in $refs {
            adopt_parked_events!($tx, id, r);
        }
        id
    }};
}
pub(crate) use insert_call;

impl Store {
    pub(crate) fn customer_key(&self, data: &CallData) -> Option<String> {
        self.phones.normalize(data.customer_line()).key().map(|k| k.as_str().to_owned())
    }

    /// Store a new call with the ids its sources know it by and, optionally, the event that
    /// announced it.
    pub async fn create_call(
        &self,
        data: &CallData,
        refs: &[ExternalRef],
        first_event: Option<&NewCallEvent>,
    ) -> StoreResult<Call> {
        let now = now_millis();
        let customer_key = self.customer_key(data);
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = insert_call!(tx, PG, data, &customer_key, refs, first_event, now);
            tx.commit().await?;
            id
        });
        self.get_call(id).await
    }

    /// Replace a call's data (the adapter computed the new state) and record the event that
    /// caused it, atomically.
    pub async fn update_call(&self, id: Id, data: &CallData, event: Option<&NewCallEvent>) -> StoreResult<Call> {
        match self.write_call(id, None, data, event).await? {
            true => self.get_call(id).await,
            false => Err(StoreError::not_found("call")),
        }
    }

    /// [`Store::update_call`] only if the call is still in `expected` state, the state its new
    /// data was computed from; `None` when another writer moved it on in between (then read it
    /// again and recompute). Every journal transition moves the state forward, so an unchanged
    /// state means nobody applied an event since: no lost update when `answer` and `hangup`
    /// of one call arrive at once.
    pub async fn update_call_if_state(
        &self,
        id: Id,
        expected: CallState,
        data: &CallData,
        event: Option<&NewCallEvent>,
    ) -> StoreResult<Option<Call>> {
        match self.write_call(id, Some(expected), data, event).await? {
            true => self.get_call(id).await.map(Some),
            false => Ok(None),
        }
    }

    /// Write `data` over call `id` (only while it is in state `expected`, when given) with its
    /// event, in one transaction; whether a row was written.
    async fn write_call(
        &self,
        id: Id,
        expected: Option<CallState>,
        data: &CallData,
        event: Option<&NewCallEvent>,
    ) -> StoreResult<bool> {
        let now = now_millis();
        let customer_key = self.customer_key(data);
        Ok(on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let update = sqlx::query(UPDATE_CALL_SQL).bind(id);
            let changed = bind_call_data!(update, data, &customer_key)
                .bind(now)
                .bind(expected.map(|s| s.as_str()))
                .execute(&mut *tx)
                .await?;
            if changed.rows_affected() == 0 {
                false
            } else {
                if let Some(event) = event {
                    insert_event!(tx, PG, id, event, now);
                }
                tx.commit().await?;
                true
            }
        }))
    }

    /// Attach another source's id to a call (a Freshdesk reference for a call Zammad announced).
    pub async fn add_call_ref(&self, call_id: Id, r: &ExternalRef) -> StoreResult<()> {
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            sqlx::query(INSERT_REF_SQL)
                .bind(&r.source)
                .bind(&r.external_id)
                .bind(call_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_unique(e, REF_CONFLICT))?;
            adopt_parked_events!(tx, call_id, r);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Record an event on an existing call without changing the call.
    pub async fn append_call_event(&self, call_id: Id, event: &NewCallEvent) -> StoreResult<CallEvent> {
        let now = now_millis();
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = insert_event!(tx, PG, call_id, event, now);
            tx.commit().await?;
            id
        });
        let events = self.list_call_events(call_id).await?;
        events.into_iter().find(|e| e.id == id).ok_or(StoreError::not_found("call event"))
    }

    pub async fn get_call(&self, id: Id) -> StoreResult<Call> {
        self.get_calls(&[id]).await?.pop().ok_or(StoreError::not_found("call"))
    }

    /// Calls by id with their external refs, in the order asked.
    pub async fn get_calls(&self, ids: &[Id]) -> StoreResult<Vec<Call>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = id_list(ids);
        let calls_sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id IN ({list})");
        let refs_sql = format!(
            "SELECT call_id, source, external_id FROM call_refs WHERE call_id IN ({list}) ORDER BY source, external_id"
        );
        let (rows, refs): (Vec<CallRow>, Vec<(i64, String, String)>) = match &self.reader {
            Some(reader) => {
                reader
                    .read(move |conn| {
                        let calls = crate::reader::rows(conn, &calls_sql, [], CallRow::from_sqlite)?;
                        let refs = crate::reader::rows(conn, &refs_sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                        Ok((calls, refs))
                    })
                    .await?
            }
            None => on_pool!(self, |pool, PG| {
                let calls = sqlx::query_as(sqlx::AssertSqlSafe(calls_sql.clone())).fetch_all(pool).await?;
                (calls, sqlx::query_as(sqlx::AssertSqlSafe(refs_sql.clone())).fetch_all(pool).await?)
            }),
        };
        let mut refs_of: HashMap<Id, Vec<ExternalRef>> = HashMap::new();
        for (call_id, source, external_id) in refs {
            refs_of.entry(call_id).or_default().push(ExternalRef::new(source, external_id));
        }
        let mut calls: HashMap<Id, Call> = HashMap::with_capacity(rows.len());
        for row in rows {
            let id = row.id;
            calls.insert(id, row.into_call(refs_of.remove(&id).unwrap_or_default())?);
        }
        // In the order asked for (a page's newest first).
        Ok(ids.iter().filter_map(|id| calls.remove(id)).collect())
    }

    /// The latest calls with any of these customer numbers (normalized keys), newest first: a
    /// user profile's call list, by the same index the journal identifies callers with.
    pub async fn calls_with_customer_keys(&self, keys: &[String], limit: i64) -> StoreResult<Vec<Call>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = crate::sql::placeholders(1, keys.len());
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id FROM calls WHERE customer_key IN ({placeholders}) ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 500)
        ));
        let ids: Vec<i64> = on_pool!(self, |pool, PG| {
            let mut query = sqlx::query_scalar(sql);
            for key in keys {
                query = query.bind(key);
            }
            query.fetch_all(pool).await?
        });
        self.get_calls(&ids).await
    }

    /// The call a source knows by `external_id`.
    pub async fn find_call_by_ref(&self, source: &str, external_id: &str) -> StoreResult<Option<Call>> {
        let id: Option<i64> = on_pool!(self, |pool, PG| {
            sqlx::query_scalar(FIND_REF_SQL).bind(source).bind(external_id).fetch_optional(pool).await?
        });
        match id {
            Some(id) => Ok(Some(self.get_call(id).await?)),
            None => Ok(None),
        }
    }

    /// A call's events in the order they were received.
    pub async fn list_call_events(&self, call_id: Id) -> StoreResult<Vec<CallEvent>> {
        let rows: Vec<EventRow> = on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT id, call_id, source, kind, payload, occurred_at, received_at FROM call_events \
                 WHERE call_id = $1 ORDER BY id",
            )
            .bind(call_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(CallEvent::try_from).collect()
    }
}
