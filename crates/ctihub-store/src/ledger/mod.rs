//! The call ledger: everything recording one PBX event reads and writes, as one small interface.
//!
//! Two implementations share it. [`Store`] runs each operation on the pool, in its own
//! transaction where it writes (PostgreSQL, where several nodes write at once). [`SqliteLedger`]
//! runs them inside the [`LedgerWriter`]'s batch transaction on SQLite, where one writer thread
//! commits many events per fsync (docs/decisions/0014-ingest-writer.md). The CTI pipeline is
//! written once against this trait.

mod batch;
mod checkpoint;
mod gate;
mod handover;
mod postgres;
mod recent;
mod sqlite;
mod sync;
mod writer;

use std::future::Future;
use std::sync::LazyLock;

use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, CallState, ExternalRef, NewCallEvent};
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_domain::time::Millis;
use ctihub_domain::user::User;

pub use self::handover::CommittedHubEvents;
pub(crate) use self::handover::Handover;
pub use self::postgres::PgLedger;
pub use self::sqlite::SqliteLedger;
pub use self::writer::{LedgerJob, LedgerWriter};
use crate::calls::CALL_COLUMNS;
use crate::users::USER_COLUMNS;
use crate::{CallerMatch, Presence, Store, StoreError, StoreResult};

// The ledgers' own reads of one row; the pool builds these with other conditions.
static CALL_BY_ID_SQL: LazyLock<String> = LazyLock::new(|| format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1"));
static USER_BY_ID_SQL: LazyLock<String> = LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
static USER_BY_AGENT_ID_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE agent_id = $1 ORDER BY id LIMIT 1"));

/// The reads and writes of recording a call event. Every future is `Send`, so the pipeline can
/// run in a request handler as well as on the writer thread.
pub trait CallLedger: Send {
    fn phones(&self) -> &PhoneNormalizer;

    /// The call a source knows by `external_id`.
    fn find_call_by_ref(
        &mut self,
        source: &str,
        external_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Call>>> + Send;

    /// A new call with its source ids and the event that announced it; events parked under
    /// those ids join it. [`StoreError::Conflict`] when another writer took an id first.
    fn create_call(
        &mut self,
        data: &CallData,
        refs: &[ExternalRef],
        event: &NewCallEvent,
    ) -> impl Future<Output = StoreResult<Call>> + Send;

    /// Write `data` over the call with its event, only while the call is still in `expected`
    /// state; `None` when another writer moved it on in between.
    fn update_call_if_state(
        &mut self,
        call: &Call,
        expected: CallState,
        data: &CallData,
        event: &NewCallEvent,
    ) -> impl Future<Output = StoreResult<Option<Call>>> + Send;

    /// Keep an event on a call without changing the call.
    fn append_call_event(&mut self, call_id: Id, event: &NewCallEvent) -> impl Future<Output = StoreResult<()>> + Send;

    /// Who is calling from `number` (see [`Store::identify_caller`]).
    fn identify_caller(&mut self, number: &str) -> impl Future<Output = StoreResult<Vec<CallerMatch>>> + Send;

    fn find_user(&mut self, id: Id) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// The agent a PBX knows by this call-center id.
    fn find_agent_by_agent_id(&mut self, agent_id: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// An active agent or admin whose name or e-mail is `name`, case-insensitive.
    fn find_staff_by_name(&mut self, name: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    fn active_staff_ids(&mut self) -> impl Future<Output = StoreResult<Vec<Id>>> + Send;

    fn active_admin_ids(&mut self) -> impl Future<Output = StoreResult<Vec<Id>>> + Send;

    /// Agents who asked not to be disturbed.
    fn do_not_disturb_ids(&mut self) -> impl Future<Output = StoreResult<Vec<Id>>> + Send;

    /// Whether one of the user's tickets changed at or after `since`.
    fn has_ticket_updated_since(
        &mut self,
        user_id: Id,
        since: Millis,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Tell `recipients` (`None`: every agent) that `call_id`'s journal entry changed, with a
    /// `kind` hub event whose payload is `{"call_ids": [...]}`. Consoles only re-read their
    /// journal on it, so the SQLite writer publishes one such event for all the calls of a batch
    /// with the same recipients; on the pool each call gets its own. `true` when this call started
    /// a new event (to count and deliver once committed), `false` when it joined one.
    fn publish_for_calls(
        &mut self,
        kind: &'static str,
        recipients: Option<&[Id]>,
        call_id: Id,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Store a hub event unless one with `once_key` exists; `true` when it is stored (to count
    /// and deliver once committed). Consoles get it once the write commits and the hub is woken.
    fn publish_hub_event_once(
        &mut self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
        once_key: Option<&str>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Straight on the pool: each write its own transaction, as every other API call writes.
impl CallLedger for Store {
    fn phones(&self) -> &PhoneNormalizer {
        Store::phones(self)
    }

    async fn find_call_by_ref(&mut self, source: &str, external_id: &str) -> StoreResult<Option<Call>> {
        Store::find_call_by_ref(self, source, external_id).await
    }

    async fn create_call(&mut self, data: &CallData, refs: &[ExternalRef], event: &NewCallEvent) -> StoreResult<Call> {
        Store::create_call(self, data, refs, Some(event)).await
    }

    async fn update_call_if_state(
        &mut self,
        call: &Call,
        expected: CallState,
        data: &CallData,
        event: &NewCallEvent,
    ) -> StoreResult<Option<Call>> {
        Store::update_call_if_state(self, call.id, expected, data, Some(event)).await
    }

    async fn append_call_event(&mut self, call_id: Id, event: &NewCallEvent) -> StoreResult<()> {
        Store::append_call_event(self, call_id, event).await.map(drop)
    }

    async fn identify_caller(&mut self, number: &str) -> StoreResult<Vec<CallerMatch>> {
        Store::identify_caller(self, number).await
    }

    async fn find_user(&mut self, id: Id) -> StoreResult<Option<User>> {
        match Store::get_user(self, id).await {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn find_agent_by_agent_id(&mut self, agent_id: &str) -> StoreResult<Option<User>> {
        Store::find_agent_by_agent_id(self, agent_id).await
    }

    async fn find_staff_by_name(&mut self, name: &str) -> StoreResult<Option<User>> {
        Store::find_staff_by_name(self, name).await
    }

    async fn active_staff_ids(&mut self) -> StoreResult<Vec<Id>> {
        Store::active_staff_ids(self).await
    }

    async fn active_admin_ids(&mut self) -> StoreResult<Vec<Id>> {
        Store::active_admin_ids(self).await
    }

    async fn do_not_disturb_ids(&mut self) -> StoreResult<Vec<Id>> {
        let presence = Store::list_presence(self).await?;
        Ok(presence.into_iter().filter(|(_, p)| *p == Presence::DoNotDisturb).map(|(id, _)| id).collect())
    }

    async fn has_ticket_updated_since(&mut self, user_id: Id, since: Millis) -> StoreResult<bool> {
        Store::has_ticket_updated_since(self, user_id, since).await
    }

    async fn publish_for_calls(
        &mut self,
        kind: &'static str,
        recipients: Option<&[Id]>,
        call_id: Id,
    ) -> StoreResult<bool> {
        let payload = serde_json::json!({ "call_ids": [call_id] });
        Ok(Store::publish_hub_event_once(self, kind, recipients, &payload, None).await?.is_some())
    }

    async fn publish_hub_event_once(
        &mut self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
        once_key: Option<&str>,
    ) -> StoreResult<bool> {
        Ok(Store::publish_hub_event_once(self, kind, recipients, payload, once_key).await?.is_some())
    }
}
