//! The stored side of real-time delivery: hub events and agent presence.
//!
//! Events are appended here in the transaction that publishes them; on PostgreSQL a
//! `pg_notify('ctihub_events', id)` in the same transaction wakes every node's hub, which reads
//! the rows it has not delivered yet. NOTIFY is sent only at commit, so no node sees an event
//! that was rolled back.
//!
//! Event ids are also the order of commits: on PostgreSQL each publishing transaction takes one
//! advisory lock before it draws its id, so no event becomes visible before one with a lower id.
//! A console that saw event N (`Last-Event-ID: N`) has therefore seen everything up to N for
//! it, on whichever node it reconnects. The lock costs little: PostgreSQL already serializes the
//! commits of transactions that NOTIFY.

use ctihub_domain::Id;
use ctihub_domain::time::{Millis, now_millis};
use serde::Serialize;
use sqlx::postgres::PgListener;

use crate::ids::{LAST_ID_SQL, next_id};
use crate::json::{from_text, to_text};
use crate::purge::Stored;
use crate::reader::InOrder;
use crate::{Backend, Store, StoreResult, on_pool};

/// The PostgreSQL channel hub events are announced on.
pub const HUB_CHANNEL: &str = "ctihub_events";

/// The transaction-level advisory lock that orders hub event ids by commit ("ctihubev").
pub(crate) const PUBLISH_LOCK: i64 = 0x6374_6968_7562_6576;

/// The once key of a call's hub event of `kind` (its ringing toast, its screen pop). The call's
/// id comes first, zero-padded, so a new key sorts after the earlier ones and lands at the end
/// of the key index, not in its middle (migration 0013).
pub fn once_key(call: Id, kind: &str) -> String {
    format!("{call:019}:{kind}")
}

/// A once-keyed event is stored only if its key is new: one row changed when it was. (Not
/// `RETURNING id`: the id is ours already, and SQLite collects returned rows in a temporary
/// table, which cost the event writer a tenth of its time for hub events.)
pub(crate) const INSERT_HUB_EVENT_SQL: &str = "INSERT INTO hub_events (id, kind, recipients, payload, created_at, once_key) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (once_key) WHERE once_key IS NOT NULL DO NOTHING";

/// Store one hub event inside the caller's transaction, which must hold the publish lock on
/// PostgreSQL: `insert_hub_event!(tx, PG, kind, recipients_text, payload_text, now, once_key)`
/// is its id, or `None` when `once_key` was used before. On PostgreSQL the other nodes are
/// notified in the same transaction, so only committed events are announced.
macro_rules! insert_hub_event {
    ($tx:expr, $pg:expr, $kind:expr, $recipients_text:expr, $payload_text:expr, $now:expr, $once_key:expr) => {{
        let id = next_id!($tx, $pg);
        let inserted = sqlx::query($crate::hub_events::INSERT_HUB_EVENT_SQL)
            .bind(id)
            .bind($kind)
            .bind($recipients_text)
            .bind($payload_text)
            .bind($now)
            .bind($once_key)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
            == 1;
        if $pg && inserted {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind($crate::hub_events::HUB_CHANNEL)
                .bind(id.to_string())
                .execute(&mut *$tx)
                .await?;
        }
        inserted.then_some(id)
    }};
}
pub(crate) use insert_hub_event;

const EVENTS_AFTER_SQL: &str =
    "SELECT id, kind, recipients, payload, created_at FROM hub_events WHERE id > $1 ORDER BY id LIMIT $2";

pub(crate) const PRESENCE_SQL: &str = "SELECT user_id, status FROM agent_presence ORDER BY user_id";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubEvent {
    pub id: Id,
    pub kind: String,
    /// `None`: every agent. Otherwise only these users.
    pub recipients: Option<Vec<Id>>,
    pub payload: serde_json::Value,
    pub created_at: Millis,
}

impl HubEvent {
    /// The event a publisher just stored, as it reads back.
    pub(crate) fn stored(
        id: Id,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
        created_at: Millis,
    ) -> HubEvent {
        HubEvent {
            id,
            kind: kind.to_owned(),
            recipients: recipients.map(<[Id]>::to_vec),
            payload: payload.clone(),
            created_at,
        }
    }

    pub fn is_for(&self, user_id: Id) -> bool {
        self.recipients.as_ref().is_none_or(|r| r.contains(&user_id))
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    kind: String,
    recipients: Option<String>,
    payload: String,
    created_at: i64,
}

impl EventRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
        let mut columns = InOrder::from(row, 0);
        Ok(EventRow {
            id: columns.next("id")?,
            kind: columns.next("kind")?,
            recipients: columns.next("recipients")?,
            payload: columns.next("payload")?,
            created_at: columns.next("created_at")?,
        })
    }
}

impl TryFrom<EventRow> for HubEvent {
    type Error = crate::StoreError;

    fn try_from(row: EventRow) -> StoreResult<Self> {
        Ok(HubEvent {
            id: row.id,
            kind: row.kind,
            recipients: row.recipients.as_deref().map(|r| from_text("hub_events.recipients", r)).transpose()?,
            payload: from_text("hub_events.payload", &row.payload)?,
            created_at: row.created_at,
        })
    }
}

/// Agent availability, as the console sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Available,
    Away,
    DoNotDisturb,
}

impl Presence {
    pub fn as_str(&self) -> &'static str {
        match self {
            Presence::Available => "available",
            Presence::Away => "away",
            Presence::DoNotDisturb => "do_not_disturb",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "available" => Some(Presence::Available),
            "away" => Some(Presence::Away),
            "do_not_disturb" | "dnd" => Some(Presence::DoNotDisturb),
            _ => None,
        }
    }
}

/// Wakes a node's hub when another node (or this one) publishes on PostgreSQL.
pub struct HubNotifications {
    listener: PgListener,
}

impl HubNotifications {
    /// The id of the next announced event; `Ok(None)` when the connection was lost and
    /// re-established, so announcements may have been missed and the caller should re-read.
    pub async fn recv(&mut self) -> StoreResult<Option<Id>> {
        match self.listener.try_recv().await? {
            Some(notification) => Ok(notification.payload().parse().ok().or(Some(0))),
            None => Ok(None),
        }
    }
}

impl Store {
    /// Append a hub event (and announce it on PostgreSQL) in one transaction.
    pub async fn publish_hub_event(
        &self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
    ) -> StoreResult<HubEvent> {
        let event = self.publish_hub_event_once(kind, recipients, payload, None).await?;
        Ok(event.expect("an event without a once-key is always published"))
    }

    /// The same, unless an event with `once_key` was published before: then nothing is stored
    /// or announced, and `None` is returned.
    pub async fn publish_hub_event_once(
        &self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: &serde_json::Value,
        once_key: Option<&str>,
    ) -> StoreResult<Option<HubEvent>> {
        let now = now_millis();
        let recipients_text = recipients.map(|r| to_text(&r));
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            if PG {
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PUBLISH_LOCK).execute(&mut *tx).await?;
            }
            let inserted = insert_hub_event!(tx, PG, kind, &recipients_text, to_text(payload), now, once_key);
            tx.commit().await?;
            inserted
        });
        Ok(id.map(|id| HubEvent::stored(id, kind, recipients, payload, now)))
    }

    /// Events with an id above `after`, oldest first. On an SQLite file through the reader: the
    /// hub reads after every commit of the ledger writer, a few hundred times a second under
    /// load, and sqlx's hand-over of each row was a tenth of the server's time.
    pub async fn hub_events_after(&self, after: Id, limit: i64) -> StoreResult<Vec<HubEvent>> {
        let rows: Vec<EventRow> = match &self.reader {
            Some(reader) => reader.read(move |conn| events_after_on(conn, after, limit)).await?,
            None => on_pool!(self, |pool, PG| {
                sqlx::query_as(EVENTS_AFTER_SQL).bind(after).bind(limit).fetch_all(pool).await?
            }),
        };
        rows.into_iter().map(HubEvent::try_from).collect()
    }

    /// For the hub: events with an id above `after`, oldest first, and on SQLite the id up to
    /// which the database held no other hub events when they were read (the id sequence's
    /// value, read first: whatever committed after it, the events read include everything up to
    /// it). The hub delivers the ledger writer's next batch as handed over when the batch's ids
    /// start right above that (`ledger::handover`). `None` on PostgreSQL, where the writer
    /// hands nothing over.
    pub async fn hub_events_for_delivery(&self, after: Id, limit: i64) -> StoreResult<(Vec<HubEvent>, Option<Id>)> {
        let Some(reader) = &self.reader else {
            return Ok((self.hub_events_after(after, limit).await?, None));
        };
        let (rows, settled) = reader
            .read(move |conn| {
                let settled: Id = conn.prepare_cached(LAST_ID_SQL)?.query_row([], |row| row.get(0))?;
                Ok((events_after_on(conn, after, limit)?, settled))
            })
            .await?;
        let events = rows.into_iter().map(HubEvent::try_from).collect::<StoreResult<Vec<_>>>()?;
        // A full page may stop short of `settled`; the hub reads on from its last event.
        let settled = (events.len() < usize::try_from(limit).unwrap_or(usize::MAX)).then_some(settled);
        Ok((events, settled))
    }

    /// The newest event id (0 when there is none): where a fresh hub starts delivering.
    pub async fn last_hub_event_id(&self) -> StoreResult<Id> {
        let id: Option<i64> =
            on_pool!(self, |pool, PG| sqlx::query_scalar("SELECT MAX(id) FROM hub_events").fetch_one(pool).await?);
        Ok(id.unwrap_or(0))
    }

    /// Delete hub events older than `cutoff`; consoles only replay what they missed recently.
    pub async fn purge_hub_events_before(&self, cutoff: Millis) -> StoreResult<u64> {
        self.purge_stored_before(Stored::HubEvents, cutoff).await
    }

    /// On PostgreSQL, a dedicated connection listening for hub announcements; `None` on SQLite,
    /// where the one node publishing is the only one delivering.
    pub async fn hub_notifications(&self) -> StoreResult<Option<HubNotifications>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pool) => {
                // A one-connection pool of its own, with the main pool's options (schema
                // included): a listener holds its connection for good and would starve the main
                // pool of one.
                let own = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .max_lifetime(None)
                    .idle_timeout(None)
                    .connect_with((*pool.connect_options()).clone())
                    .await?;
                let mut listener = PgListener::connect_with(&own).await?;
                listener.listen(HUB_CHANNEL).await?;
                Ok(Some(HubNotifications { listener }))
            }
        }
    }

    pub async fn set_presence(&self, user_id: Id, presence: Presence) -> StoreResult<()> {
        let now = now_millis();
        on_pool!(self, |pool, PG| {
            sqlx::query(
                "INSERT INTO agent_presence (user_id, status, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
            )
            .bind(user_id)
            .bind(presence.as_str())
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Every agent's presence that was ever set (agents never set count as available).
    pub async fn list_presence(&self) -> StoreResult<Vec<(Id, Presence)>> {
        let rows: Vec<(i64, String)> = on_pool!(self, |pool, PG| sqlx::query_as(PRESENCE_SQL).fetch_all(pool).await?);
        Ok(rows.into_iter().filter_map(|(id, s)| Presence::parse(&s).map(|p| (id, p))).collect())
    }
}

/// [`EVENTS_AFTER_SQL`] on a reader's connection.
fn events_after_on(conn: &rusqlite::Connection, after: Id, limit: i64) -> StoreResult<Vec<EventRow>> {
    let mut query = conn.prepare_cached(EVENTS_AFTER_SQL)?;
    let rows = query.query_map([after, limit], EventRow::from_sqlite)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
