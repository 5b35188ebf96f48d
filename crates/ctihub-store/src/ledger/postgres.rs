//! The call ledger inside one PostgreSQL transaction per event.
//!
//! Through the pool each write of an event was a transaction of its own: a ringing call
//! committed three times (the call, its journal notice, its toast), and two of those commits
//! NOTIFY the other nodes. PostgreSQL serializes NOTIFYing commits through their fsync, and so
//! does the lock that keeps hub event ids in commit order (decision 0013), so every commit of a
//! hub event waited for every other one. Here an event reads and writes in one transaction,
//! commits once and notifies once, and its hub events are written just before the commit, so
//! the publish lock is held only for those inserts and the commit.
//!
//! Several nodes still record at once. An event waits for a call row another event holds, and
//! then sees what that one committed (`update_call_if_state` finds the state moved on). A call
//! id another node inserted first is a conflict the pipeline retries, undone to a savepoint so
//! the transaction goes on. Every event takes its row locks before the publish lock, the
//! publish lock last, so two events never wait on each other in a circle.

use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, CallState, ExternalRef, NewCallEvent};
use ctihub_domain::phone::{CallerNumber, PhoneNormalizer};
use ctihub_domain::time::{Millis, now_millis};
use ctihub_domain::user::User;
use sqlx::{PgPool, Postgres, Transaction};

use super::{CALL_BY_ID_SQL, CallLedger, USER_BY_AGENT_ID_SQL, USER_BY_ID_SQL};
use crate::caller_index::{IDENTIFY_SQL, MatchRow, caller_match};
use crate::calls::{CALL_REFS_SQL, CallRow, FIND_REF_SQL, UPDATE_CALL_SQL, bind_call_data, insert_call, insert_event};
use crate::hub_events::{PRESENCE_SQL, PUBLISH_LOCK, insert_hub_event};
use crate::ids::next_id;
use crate::journal::{STAFF_BY_NAME_SQL, TICKET_UPDATED_SINCE_SQL};
use crate::json::to_text;
use crate::parked_events::adopt_parked_events;
use crate::users::{ACTIVE_ADMINS_SQL, ACTIVE_STAFF_SQL, UserRow};
use crate::{CallerMatch, Presence, Store, StoreResult};

const ONCE_KEY_USED_SQL: &str = "SELECT id FROM hub_events WHERE once_key = $1";

/// One event's transaction. Dropped without [`PgLedger::commit`], it rolls back.
pub struct PgLedger {
    store: Store,
    tx: Transaction<'static, Postgres>,
    /// Hub events to store at the commit.
    publishes: Vec<Publish>,
}

/// A hub event as it will be stored.
struct Publish {
    kind: String,
    recipients: Option<String>,
    payload: String,
    once_key: Option<String>,
}

impl PgLedger {
    pub(crate) async fn begin(store: &Store, pool: &PgPool) -> StoreResult<PgLedger> {
        Ok(PgLedger { store: store.clone(), tx: pool.begin().await?, publishes: Vec::new() })
    }

    /// Store the event's hub events, then make everything durable and visible and notify.
    ///
    /// The hub events are written last, under the publish lock: it orders hub event ids by
    /// commit across the cluster, so every other event's publishing waits while it is held, and
    /// taking it at the first publish kept it through the event's remaining reads as well as
    /// through the commit (screen pops on PostgreSQL took twice as long). A once-key is checked
    /// when the pipeline publishes; should another node store the same key in between, the
    /// insert here does nothing (the event was counted as published, and is delivered once).
    pub async fn commit(mut self) -> StoreResult<()> {
        if !self.publishes.is_empty() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PUBLISH_LOCK).execute(&mut *self.tx).await?;
            let now = now_millis();
            for p in std::mem::take(&mut self.publishes) {
                insert_hub_event!(self.tx, true, &p.kind, &p.recipients, &p.payload, now, &p.once_key);
            }
        }
        Ok(self.tx.commit().await?)
    }

    async fn load_call(&mut self, id: Id) -> StoreResult<Option<Call>> {
        let row: Option<CallRow> =
            sqlx::query_as(CALL_BY_ID_SQL.as_str()).bind(id).fetch_optional(&mut *self.tx).await?;
        let Some(row) = row else { return Ok(None) };
        let refs: Vec<(String, String)> = sqlx::query_as(CALL_REFS_SQL).bind(id).fetch_all(&mut *self.tx).await?;
        row.into_call(refs.into_iter().map(|(source, external_id)| ExternalRef::new(source, external_id)).collect())
            .map(Some)
    }

    async fn find_user_by(&mut self, sql: &'static str, value: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(sql).bind(value).fetch_optional(&mut *self.tx).await?;
        row.map(User::try_from).transpose()
    }

    /// The new call's id, written up to a savepoint: a conflict undoes only this attempt.
    async fn insert_call(&mut self, data: &CallData, refs: &[ExternalRef], event: &NewCallEvent) -> StoreResult<Id> {
        let now = now_millis();
        let customer_key = self.store.customer_key(data);
        let mut attempt = sqlx::Acquire::begin(&mut *self.tx).await?;
        let written: StoreResult<Id> =
            async { Ok(insert_call!(attempt, true, data, &customer_key, refs, Some(event), now)) }.await;
        match written {
            Ok(id) => {
                attempt.commit().await?;
                Ok(id)
            }
            Err(e) => {
                attempt.rollback().await?;
                Err(e)
            }
        }
    }
}

impl Store {
    /// A transaction to record one call event in, on PostgreSQL (`None` on SQLite, whose file
    /// has the [`super::LedgerWriter`] and whose memory database the pool).
    pub async fn begin_pg_ledger(&self) -> StoreResult<Option<PgLedger>> {
        match &self.backend {
            crate::Backend::Postgres(pool) => PgLedger::begin(self, pool).await.map(Some),
            crate::Backend::Sqlite(_) => Ok(None),
        }
    }
}

impl CallLedger for PgLedger {
    fn phones(&self) -> &PhoneNormalizer {
        self.store.phones()
    }

    async fn find_call_by_ref(&mut self, source: &str, external_id: &str) -> StoreResult<Option<Call>> {
        let id: Option<i64> =
            sqlx::query_scalar(FIND_REF_SQL).bind(source).bind(external_id).fetch_optional(&mut *self.tx).await?;
        match id {
            Some(id) => self.load_call(id).await,
            None => Ok(None),
        }
    }

    async fn create_call(&mut self, data: &CallData, refs: &[ExternalRef], event: &NewCallEvent) -> StoreResult<Call> {
        let id = self.insert_call(data, refs, event).await?;
        self.load_call(id).await?.ok_or(crate::StoreError::not_found("call"))
    }

    async fn update_call_if_state(
        &mut self,
        call: &Call,
        expected: CallState,
        data: &CallData,
        event: &NewCallEvent,
    ) -> StoreResult<Option<Call>> {
        let now = now_millis();
        let customer_key = self.store.customer_key(data);
        let update = sqlx::query(UPDATE_CALL_SQL).bind(call.id);
        let changed = bind_call_data!(update, data, &customer_key)
            .bind(now)
            .bind(Some(expected.as_str()))
            .execute(&mut *self.tx)
            .await?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        insert_event!(self.tx, true, call.id, event, now);
        self.load_call(call.id).await
    }

    async fn append_call_event(&mut self, call_id: Id, event: &NewCallEvent) -> StoreResult<()> {
        insert_event!(self.tx, true, call_id, event, now_millis());
        Ok(())
    }

    async fn identify_caller(&mut self, number: &str) -> StoreResult<Vec<CallerMatch>> {
        let CallerNumber::Number(key) = self.store.phones().normalize(number) else {
            return Ok(Vec::new());
        };
        let rows: Vec<MatchRow> = sqlx::query_as(IDENTIFY_SQL).bind(key.as_str()).fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(|row| caller_match(&row.level, row.user)).collect()
    }

    async fn find_user(&mut self, id: Id) -> StoreResult<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as(USER_BY_ID_SQL.as_str()).bind(id).fetch_optional(&mut *self.tx).await?;
        row.map(User::try_from).transpose()
    }

    async fn find_agent_by_agent_id(&mut self, agent_id: &str) -> StoreResult<Option<User>> {
        self.find_user_by(USER_BY_AGENT_ID_SQL.as_str(), agent_id).await
    }

    async fn find_staff_by_name(&mut self, name: &str) -> StoreResult<Option<User>> {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return Ok(None);
        }
        self.find_user_by(STAFF_BY_NAME_SQL, &name).await
    }

    async fn active_staff_ids(&mut self) -> StoreResult<Vec<Id>> {
        Ok(sqlx::query_scalar(ACTIVE_STAFF_SQL).fetch_all(&mut *self.tx).await?)
    }

    async fn active_admin_ids(&mut self) -> StoreResult<Vec<Id>> {
        Ok(sqlx::query_scalar(ACTIVE_ADMINS_SQL).fetch_all(&mut *self.tx).await?)
    }

    async fn do_not_disturb_ids(&mut self) -> StoreResult<Vec<Id>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(PRESENCE_SQL).fetch_all(&mut *self.tx).await?;
        Ok(rows
            .into_iter()
            .filter(|(_, status)| Presence::parse(status) == Some(Presence::DoNotDisturb))
            .map(|(id, _)| id)
            .collect())
    }

    async fn has_ticket_updated_since(&mut self, user_id: Id, since: Millis) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(TICKET_UPDATED_SINCE_SQL)
            .bind(user_id)
            .bind(since)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(found.is_some())
    }

    async fn publish_for_calls(
        &mut self,
        kind: &'static str,
        recipients: Option<&[Id]>,
        call_id: Id,
    ) -> StoreResult<bool> {
        let payload = serde_json::json!({ "call_ids": [call_id] });
        self.publish_hub_event_once(kind, recipients, &payload, None).await
    }

    async fn publish_hub_event_once(
        &mut self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
        once_key: Option<&str>,
    ) -> StoreResult<bool> {
        if let Some(key) = once_key {
            if self.publishes.iter().any(|p| p.once_key.as_deref() == Some(key)) {
                return Ok(false);
            }
            let used: Option<i64> =
                sqlx::query_scalar(ONCE_KEY_USED_SQL).bind(key).fetch_optional(&mut *self.tx).await?;
            if used.is_some() {
                return Ok(false);
            }
        }
        self.publishes.push(Publish {
            kind: kind.to_owned(),
            recipients: recipients.map(|r| to_text(&r)),
            payload: to_text(payload),
            once_key: once_key.map(str::to_owned),
        });
        Ok(true)
    }
}
