//! The caller journal: calls listed newest first with filters, marked done one by one or in
//! bulk, identified against the caller index on read, and purged after the retention period.

use std::collections::HashMap;

use ctihub_domain::Id;
use ctihub_domain::call::{Call, Direction};
use ctihub_domain::phone::CallerLevel;
use ctihub_domain::time::{Millis, now_millis};
use ctihub_domain::user::User;

use crate::caller_index::CallerMatch;
use crate::purge::Stored;
use crate::sql::{Param, bind_params, placeholders};
use crate::users::UserRow;
use crate::{Store, StoreError, StoreResult, on_pool};

/// Which journal entries to list or mark. Empty filter: all calls.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub done: Option<bool>,
    pub direction: Option<Direction>,
    pub agent_id: Option<Id>,
    pub queue: Option<String>,
    /// Restrict to these queues (an agent's notify-map view). `Some(vec![])` matches nothing.
    pub queues: Option<Vec<String>>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    /// Keyset pagination: only calls older than this one.
    pub before_id: Option<Id>,
}

pub(crate) const TICKET_UPDATED_SINCE_SQL: &str =
    "SELECT id FROM tickets WHERE requester_id = $1 AND updated_at >= $2 LIMIT 1";

/// Active staff by lower-cased name (`users_staff_name_idx`) or e-mail, lowest id first.
pub(crate) const STAFF_BY_NAME_SQL: &str = "SELECT id, role, name, email, organization_id, external_id, phones, tags, custom_fields, active, \
     password_hash, agent_id, extension, created_at, updated_at FROM users \
     WHERE role IN ('agent', 'admin') AND active AND lower(name) = $1 \
     UNION ALL SELECT id, role, name, email, organization_id, external_id, phones, tags, custom_fields, active, \
     password_hash, agent_id, extension, created_at, updated_at FROM users \
     WHERE role IN ('agent', 'admin') AND active AND email_lower = $1 \
     ORDER BY id LIMIT 1";

impl JournalFilter {
    /// The WHERE clause and its parameters, numbered from `$1`.
    fn to_sql(&self) -> (String, Vec<Param>) {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let mut push = |clause: &str, param: Param| {
            params.push(param);
            clauses.push(clause.replace('?', &format!("${}", params.len())));
        };
        if let Some(done) = self.done {
            push("done = ?", Param::Bool(done));
        }
        if let Some(direction) = self.direction {
            push("direction = ?", Param::Text(direction.as_str().into()));
        }
        if let Some(agent) = self.agent_id {
            push("agent_id = ?", Param::Int(agent));
        }
        if let Some(queue) = &self.queue {
            push("queue_name = ?", Param::Text(queue.clone()));
        }
        if let Some(since) = self.since {
            push("started_at >= ?", Param::Int(since));
        }
        if let Some(until) = self.until {
            push("started_at < ?", Param::Int(until));
        }
        if let Some(before) = self.before_id {
            push("id < ?", Param::Int(before));
        }
        if let Some(queues) = &self.queues {
            if queues.is_empty() {
                clauses.push("FALSE".into());
            } else {
                let mut marks = Vec::new();
                for queue in queues {
                    params.push(Param::Text(queue.clone()));
                    marks.push(format!("${}", params.len()));
                }
                clauses.push(format!("queue_name IN ({})", marks.join(", ")));
            }
        }
        let sql = if clauses.is_empty() { "TRUE".to_owned() } else { clauses.join(" AND ") };
        (sql, params)
    }
}

impl Store {
    /// Journal entries, newest first.
    pub async fn list_journal(&self, filter: &JournalFilter, limit: i64) -> StoreResult<Vec<Call>> {
        let (condition, params) = filter.to_sql();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id FROM calls WHERE {condition} ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ));
        let ids: Vec<i64> =
            on_pool!(self, |pool, PG| bind_params!(sqlx::query_scalar(sql), &params).fetch_all(pool).await?);
        self.get_calls(&ids).await
    }

    /// How many entries match (the console's "needs callback" badge).
    pub async fn count_journal(&self, filter: &JournalFilter) -> StoreResult<i64> {
        let (condition, params) = filter.to_sql();
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM calls WHERE {condition}"));
        Ok(on_pool!(self, |pool, PG| bind_params!(sqlx::query_scalar(sql), &params).fetch_one(pool).await?))
    }

    /// Mark calls done (or needing a callback again). Returns how many existed.
    pub async fn set_calls_done(&self, ids: &[Id], done: bool) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let list = crate::users::id_list(ids);
        let sql = sqlx::AssertSqlSafe(format!("UPDATE calls SET done = $1, updated_at = $2 WHERE id IN ({list})"));
        let now = now_millis();
        Ok(on_pool!(self, |pool, PG| sqlx::query(sql).bind(done).bind(now).execute(pool).await?.rows_affected()))
    }

    /// Mark every entry matching `filter` ("mark all seen"); returns the ids changed.
    pub async fn set_done_matching(&self, filter: &JournalFilter, done: bool) -> StoreResult<Vec<Id>> {
        let (condition, params) = filter.to_sql();
        let select = sqlx::AssertSqlSafe(format!("SELECT id FROM calls WHERE ({condition}) AND done <> {done}"));
        let ids: Vec<i64> =
            on_pool!(self, |pool, PG| bind_params!(sqlx::query_scalar(select), &params).fetch_all(pool).await?);
        self.set_calls_done(&ids, done).await?;
        Ok(ids)
    }

    /// Delete calls (with their events) stored before `cutoff`. Retention counts from when
    /// ctihub recorded a call, as Zammad's cleanup does, not from when it started: an
    /// integration that reports old calls (a TPE import, a late voicemail) must not see them
    /// vanish at once.
    pub async fn purge_calls_before(&self, cutoff: Millis) -> StoreResult<u64> {
        // Events that never found their call go with the calls of their time.
        on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM parked_call_events WHERE received_at < $1").bind(cutoff).execute(pool).await?;
        });
        self.purge_stored_before(Stored::Calls, cutoff).await
    }

    /// Identify many caller-index keys in one query: key → matches, known before maybe, newest
    /// user first, at most 20 each. Inactive users are left out.
    pub async fn identify_keys(&self, keys: &[String]) -> StoreResult<HashMap<String, Vec<CallerMatch>>> {
        let mut unique: Vec<&String> = keys.iter().collect();
        unique.sort();
        unique.dedup();
        if unique.is_empty() {
            return Ok(HashMap::new());
        }
        // Two narrow queries instead of grouping over every user column: the index rows for the
        // keys (one per key and user, at its best level), then each user once.
        let sql = format!(
            "SELECT ci.phone_key, ci.user_id, MIN(ci.level) AS level FROM caller_index ci \
             WHERE ci.phone_key IN ({}) GROUP BY ci.phone_key, ci.user_id \
             ORDER BY ci.phone_key, MIN(ci.level), ci.user_id DESC",
            placeholders(1, unique.len())
        );
        let keys: Vec<String> = unique.into_iter().cloned().collect();
        let rows: Vec<(String, i64, String)> = match &self.reader {
            Some(reader) => {
                reader
                    .read(move |conn| {
                        let params = rusqlite::params_from_iter(keys.iter());
                        crate::reader::rows(conn, &sql, params, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    })
                    .await?
            }
            None => {
                let params: Vec<Param> = keys.into_iter().map(Param::Text).collect();
                on_pool!(self, |pool, PG| {
                    bind_params!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), &params).fetch_all(pool).await?
                })
            }
        };
        let mut user_ids: Vec<Id> = rows.iter().map(|(_, id, _)| *id).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let users: HashMap<Id, User> =
            self.get_users(&user_ids).await?.into_iter().filter(|u| u.active).map(|u| (u.id, u)).collect();
        let mut out: HashMap<String, Vec<CallerMatch>> = HashMap::new();
        for (key, user_id, level) in rows {
            let Some(user) = users.get(&user_id) else { continue };
            let level = CallerLevel::parse(&level)
                .ok_or_else(|| StoreError::Corrupt(format!("caller_index.level `{level}`")))?;
            let matches = out.entry(key).or_default();
            if matches.len() < 20 {
                matches.push(CallerMatch { level, user: user.clone() });
            }
        }
        Ok(out)
    }

    /// Has this user a ticket (as requester) changed since `since`? Decides between popping the
    /// caller's profile and a new-ticket screen.
    pub async fn has_ticket_updated_since(&self, user_id: Id, since: Millis) -> StoreResult<bool> {
        let found: Option<i64> = on_pool!(self, |pool, PG| {
            sqlx::query_scalar(TICKET_UPDATED_SINCE_SQL).bind(user_id).bind(since).fetch_optional(pool).await?
        });
        Ok(found.is_some())
    }

    /// Agents and admins whose name or e-mail is `name` (case-insensitive), for PBXs that name
    /// the answering agent.
    pub async fn find_staff_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return Ok(None);
        }
        let row: Option<UserRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(STAFF_BY_NAME_SQL).bind(name).fetch_optional(pool).await?);
        row.map(User::try_from).transpose()
    }
}
