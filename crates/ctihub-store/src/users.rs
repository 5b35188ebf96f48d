//! Users, their phones (through the caller index), tags and custom field values.

use std::collections::{BTreeMap, HashMap, HashSet};

use ctihub_domain::custom_field::FieldType;
use ctihub_domain::custom_field::{CustomField, FieldTarget};
use ctihub_domain::phone::{CallerLevel, PhoneKey, PhoneKind};
use ctihub_domain::time::now_millis;
use ctihub_domain::user::{NewUser, Role, User, UserPatch, UserPhone, validate_name};
use ctihub_domain::{Id, normalize_tags};

use crate::caller_index::index_caller_key;
use crate::error::map_unique;
use crate::ids::{next_id, reserve_ids};
use crate::json::{from_text, to_text};
use crate::owner_index::{clear_owner_indexes, write_owner_indexes};
use crate::reader::InOrder;
use crate::sql::{Param, bind_params, insert_rows, placeholders};
use crate::{Store, StoreError, StoreResult, on_pool};

pub(crate) const USER_COLUMNS: &str = "id, role, name, email, organization_id, external_id, phones, tags, custom_fields, \
     active, password_hash, agent_id, extension, created_at, updated_at";

pub(crate) const ACTIVE_STAFF_SQL: &str =
    "SELECT id FROM users WHERE role IN ('agent', 'admin') AND active ORDER BY id";

pub(crate) const ACTIVE_ADMINS_SQL: &str = "SELECT id FROM users WHERE role = 'admin' AND active ORDER BY id";

const UNIQUE_RULES: &[(&str, &str, &str)] = &[
    ("email_lower", "email", "is already used by another user"),
    ("agent_id", "agent_id", "is already used by another agent"),
];

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    role: String,
    name: String,
    email: Option<String>,
    organization_id: Option<i64>,
    external_id: Option<String>,
    phones: String,
    tags: String,
    custom_fields: String,
    active: bool,
    password_hash: Option<String>,
    agent_id: Option<String>,
    extension: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    /// The same row read through rusqlite, selected with `USER_COLUMNS` (the whole row).
    pub(crate) fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
        Self::from_sqlite_at(row, 0)
    }

    /// The row's `USER_COLUMNS` from column `first` on.
    pub(crate) fn from_sqlite_at(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<UserRow> {
        let mut columns = InOrder::from(row, first);
        Ok(UserRow {
            id: columns.next("id")?,
            role: columns.next("role")?,
            name: columns.next("name")?,
            email: columns.next("email")?,
            organization_id: columns.next("organization_id")?,
            external_id: columns.next("external_id")?,
            phones: columns.next("phones")?,
            tags: columns.next("tags")?,
            custom_fields: columns.next("custom_fields")?,
            active: columns.next("active")?,
            password_hash: columns.next("password_hash")?,
            agent_id: columns.next("agent_id")?,
            extension: columns.next("extension")?,
            created_at: columns.next("created_at")?,
            updated_at: columns.next("updated_at")?,
        })
    }
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> StoreResult<User> {
        Ok(User {
            id: row.id,
            role: Role::parse(&row.role).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            name: row.name,
            email: row.email,
            phones: from_text("users.phones", &row.phones)?,
            organization_id: row.organization_id,
            external_id: row.external_id,
            tags: from_text("users.tags", &row.tags)?,
            custom_fields: from_text("users.custom_fields", &row.custom_fields)?,
            active: row.active,
            password_hash: row.password_hash,
            agent_id: row.agent_id,
            extension: row.extension,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Which users a listing returns.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub organization_id: Option<Id>,
}

/// The result of importing one row: its new id, or why it was rejected.
pub type UserImportOutcome = Result<Id, StoreError>;

/// A user's values checked and normalized, ready to write.
struct PreparedUser {
    name: String,
    email: Option<String>,
    email_lower: Option<String>,
    phones: Vec<UserPhone>,
    /// Every number this user is known by: phone fields, phone-type custom fields, extension.
    index_keys: Vec<PhoneKey>,
    tags: Vec<String>,
    custom_json: BTreeMap<String, serde_json::Value>,
    field_rows: Vec<(Id, String)>,
}

/// Write the index rows derived from a user: caller index (level `known`), tags and custom
/// field values. The caller has removed the old rows on update.
macro_rules! write_user_indexes {
    ($tx:expr, $id:expr, $prepared:expr, $now:expr) => {{
        for key in &$prepared.index_keys {
            index_caller_key!($tx, key, $id, CallerLevel::Known, None::<i64>, $now);
        }
        write_owner_indexes!($tx, $id, &$prepared.tags, &$prepared.field_rows);
    }};
}

/// When a user gains a number, past calls from it that nobody was identified for now belong to
/// them; when they lose one, calls attributed to them through it are unattributed. The journal
/// itself identifies callers on read from the index, so it is always current; this keeps the
/// stored `end_user_id` (reports, other dialects) in step. One UPDATE per changed number.
macro_rules! reidentify_calls {
    ($tx:expr, $user_id:expr, $old_keys:expr, $new_keys:expr) => {{
        let new_keys: &[PhoneKey] = $new_keys;
        for old in $old_keys.iter().filter(|old| !new_keys.iter().any(|k| k.as_str() == old.as_str())) {
            sqlx::query("UPDATE calls SET end_user_id = NULL WHERE customer_key = $1 AND end_user_id = $2")
                .bind(old)
                .bind($user_id)
                .execute(&mut *$tx)
                .await?;
        }
        for key in new_keys.iter().filter(|k| !$old_keys.iter().any(|old| old.as_str() == k.as_str())) {
            sqlx::query("UPDATE calls SET end_user_id = $2 WHERE customer_key = $1 AND end_user_id IS NULL")
                .bind(key.as_str())
                .bind($user_id)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

const USER_INSERT_COLUMNS: &[&str] = &[
    "id",
    "role",
    "name",
    "email",
    "email_lower",
    "organization_id",
    "external_id",
    "phones",
    "tags",
    "custom_fields",
    "active",
    "password_hash",
    "agent_id",
    "extension",
    "created_at",
    "updated_at",
];

/// Which of `values` already appear in `table.column`, in one query.
macro_rules! existing_values {
    ($tx:expr, $table:literal, $column:literal, $values:expr) => {{
        let values: &[String] = $values;
        let mut found = HashSet::new();
        for batch in values.chunks(1000) {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM {} WHERE {} IN ({})",
                $column,
                $table,
                $column,
                placeholders(1, batch.len())
            ));
            let params: Vec<Param> = batch.iter().map(|v| Param::Text(v.clone())).collect();
            let rows: Vec<String> = bind_params!(sqlx::query_scalar(sql), &params).fetch_all(&mut *$tx).await?;
            found.extend(rows);
        }
        found
    }};
}

/// Remove a user's derived `known` index rows before rewriting them.
macro_rules! clear_user_indexes {
    ($tx:expr, $id:expr) => {{
        sqlx::query("DELETE FROM caller_index WHERE user_id = $1 AND level = 'known'")
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        clear_owner_indexes!($tx, $id);
    }};
}

/// Fail with a clear message when `email` or `agent_id` is taken by someone other than `me`.
macro_rules! check_unique_user_values {
    ($tx:expr, $me:expr, $email_lower:expr, $agent_id:expr) => {{
        if let Some(email) = $email_lower {
            let other: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email_lower = $1")
                .bind(email)
                .fetch_optional(&mut *$tx)
                .await?;
            if other.is_some_and(|o| Some(o) != $me) {
                return Err(StoreError::conflict("email", "is already used by another user"));
            }
        }
        if let Some(agent_id) = $agent_id {
            let other: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE agent_id = $1")
                .bind(agent_id)
                .fetch_optional(&mut *$tx)
                .await?;
            if other.is_some_and(|o| Some(o) != $me) {
                return Err(StoreError::conflict("agent_id", "is already used by another agent"));
            }
        }
    }};
}

macro_rules! check_organization_exists {
    ($tx:expr, $organization_id:expr) => {{
        if let Some(org) = $organization_id {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1")
                .bind(org)
                .fetch_optional(&mut *$tx)
                .await?;
            if found.is_none() {
                return Err(StoreError::invalid("organization_id", format!("organization {org} does not exist")));
            }
        }
    }};
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    fn prepare_user(
        &self,
        name: &str,
        email: Option<&ctihub_domain::user::Email>,
        phones: &[(PhoneKind, String)],
        extension: Option<&str>,
        tags: &[String],
        custom: BTreeMap<String, serde_json::Value>,
        defs: &[CustomField],
    ) -> StoreResult<PreparedUser> {
        let name = validate_name(name)?;
        let phones: Vec<UserPhone> = phones
            .iter()
            .filter(|(_, raw)| !raw.trim().is_empty())
            .map(|(kind, raw)| UserPhone {
                kind: *kind,
                raw: raw.trim().to_owned(),
                key: self.phones.normalize(raw).key().cloned(),
            })
            .collect();
        let (custom_json, field_rows) = custom_values(custom, defs)?;
        let phone_fields = defs
            .iter()
            .filter(|d| d.field_type == FieldType::Phone)
            .filter_map(|d| custom_json.get(&d.key).and_then(|v| v.as_str()));
        let mut index_keys: Vec<PhoneKey> = Vec::new();
        let texts = phones.iter().map(|p| p.raw.as_str()).chain(phone_fields).chain(extension);
        for key in texts.filter_map(|t| self.phones.normalize(t).key().cloned()) {
            if !index_keys.iter().any(|k| k.as_str() == key.as_str()) {
                index_keys.push(key);
            }
        }
        Ok(PreparedUser {
            name,
            email: email.map(|e| e.as_str().to_owned()),
            email_lower: email.map(|e| e.lookup_key()),
            phones,
            index_keys,
            tags: normalize_tags(tags),
            custom_json,
            field_rows,
        })
    }

    pub async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let defs = self.list_custom_fields(FieldTarget::User).await?;
        let prepared = self.prepare_user(
            &new.name,
            new.email.as_ref(),
            &new.phones,
            new.extension.as_deref(),
            &new.tags,
            new.custom_fields.clone(),
            &defs,
        )?;
        let now = now_millis();
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            check_unique_user_values!(tx, None::<i64>, &prepared.email_lower, &new.agent_id);
            check_organization_exists!(tx, new.organization_id);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO users (id, role, name, email, email_lower, organization_id, external_id, phones, tags, \
                 custom_fields, active, password_hash, agent_id, extension, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
            )
            .bind(id)
            .bind(new.role.unwrap_or(Role::EndUser).as_str())
            .bind(&prepared.name)
            .bind(&prepared.email)
            .bind(&prepared.email_lower)
            .bind(new.organization_id)
            .bind(&new.external_id)
            .bind(to_text(&prepared.phones))
            .bind(to_text(&prepared.tags))
            .bind(to_text(&prepared.custom_json))
            .bind(new.active)
            .bind(&new.password_hash)
            .bind(&new.agent_id)
            .bind(&new.extension)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, UNIQUE_RULES))?;
            write_user_indexes!(tx, id, prepared, now);
            reidentify_calls!(tx, id, &[] as &[String], &prepared.index_keys);
            tx.commit().await?;
            id
        });
        self.get_user(id).await
    }

    pub async fn get_user(&self, id: Id) -> StoreResult<User> {
        self.find_user_where("id = $1", id).await?.ok_or(StoreError::not_found("user"))
    }

    pub async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.find_user_where("email_lower = $1", email.trim().to_lowercase()).await
    }

    pub async fn find_user_by_external_id(&self, external_id: &str) -> StoreResult<Option<User>> {
        self.find_user_where("external_id = $1", external_id.to_owned()).await
    }

    /// The agent a PBX knows by this call-center id.
    pub async fn find_agent_by_agent_id(&self, agent_id: &str) -> StoreResult<Option<User>> {
        self.find_user_where("agent_id = $1", agent_id.to_owned()).await
    }

    async fn find_user_where<T>(&self, condition: &'static str, value: T) -> StoreResult<Option<User>>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'q> sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send
            + 'static,
    {
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY id LIMIT 1"));
        let row: Option<UserRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(sql).bind(value).fetch_optional(pool).await?);
        row.map(User::try_from).transpose()
    }

    /// Several users by id, in the order asked (missing ids are left out).
    pub async fn get_users(&self, ids: &[Id]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = id_list(ids);
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id IN ({list})");
        let rows: Vec<UserRow> = match &self.reader {
            Some(reader) => reader.read(move |conn| crate::reader::rows(conn, &sql, [], UserRow::from_sqlite)).await?,
            None => on_pool!(self, |pool, PG| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool).await?),
        };
        let mut users: HashMap<Id, User> = HashMap::with_capacity(rows.len());
        for row in rows {
            let user = User::try_from(row)?;
            users.insert(user.id, user);
        }
        // In the order asked for.
        Ok(ids.iter().filter_map(|id| users.remove(id)).collect())
    }

    pub async fn update_user(&self, id: Id, patch: UserPatch) -> StoreResult<User> {
        let current = self.get_user(id).await?;
        let defs = self.list_custom_fields(FieldTarget::User).await?;
        let email = match patch.email {
            Some(email) => email,
            None => current.email.as_deref().map(ctihub_domain::user::Email::parse).transpose()?,
        };
        let phones: Vec<(PhoneKind, String)> = match patch.phones {
            Some(phones) => phones,
            None => current.phones.iter().map(|p| (p.kind, p.raw.clone())).collect(),
        };
        let mut custom = current.custom_fields.clone();
        for (key, value) in patch.custom_fields {
            custom.insert(key, value);
        }
        let extension = patch.extension.unwrap_or(current.extension);
        let prepared = self.prepare_user(
            patch.name.as_deref().unwrap_or(&current.name),
            email.as_ref(),
            &phones,
            extension.as_deref(),
            patch.tags.as_deref().unwrap_or(&current.tags),
            custom,
            &defs,
        )?;
        let role = patch.role.unwrap_or(current.role);
        let organization_id = patch.organization_id.unwrap_or(current.organization_id);
        let external_id = patch.external_id.unwrap_or(current.external_id);
        let active = patch.active.unwrap_or(current.active);
        let password_hash = patch.password_hash.unwrap_or(current.password_hash);
        let agent_id = patch.agent_id.unwrap_or(current.agent_id);
        let now = now_millis().max(current.updated_at);
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            check_unique_user_values!(tx, Some(id), &prepared.email_lower, &agent_id);
            check_organization_exists!(tx, organization_id);
            sqlx::query(
                "UPDATE users SET role = $2, name = $3, email = $4, email_lower = $5, organization_id = $6, \
                 external_id = $7, phones = $8, tags = $9, custom_fields = $10, active = $11, password_hash = $12, \
                 agent_id = $13, extension = $14, updated_at = $15 WHERE id = $1",
            )
            .bind(id)
            .bind(role.as_str())
            .bind(&prepared.name)
            .bind(&prepared.email)
            .bind(&prepared.email_lower)
            .bind(organization_id)
            .bind(&external_id)
            .bind(to_text(&prepared.phones))
            .bind(to_text(&prepared.tags))
            .bind(to_text(&prepared.custom_json))
            .bind(active)
            .bind(&password_hash)
            .bind(&agent_id)
            .bind(&extension)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, UNIQUE_RULES))?;
            let old_keys: Vec<String> =
                sqlx::query_scalar("SELECT phone_key FROM caller_index WHERE user_id = $1 AND level = 'known'")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            clear_user_indexes!(tx, id);
            write_user_indexes!(tx, id, prepared, now);
            reidentify_calls!(tx, id, &old_keys, &prepared.index_keys);
            tx.commit().await?;
        });
        self.get_user(id).await
    }

    /// Users in id order, `limit` from `offset`, with the total that match.
    pub async fn list_users(&self, filter: &UserFilter, offset: i64, limit: i64) -> StoreResult<(Vec<User>, i64)> {
        let role = filter.role.map(|r| r.as_str());
        // Only the filters given, as plain equalities: `($1 IS NULL OR role = $1)` cannot use an
        // index, so with a million customers listing the 1,000 agents (the console's agent
        // picker, on every journal page) scanned every user twice.
        let condition = match (role.is_some(), filter.organization_id.is_some()) {
            (true, true) => "role = $1 AND organization_id = $2",
            (true, false) => "role = $1 AND $2 IS NULL",
            (false, true) => "$1 IS NULL AND organization_id = $2",
            (false, false) => "$1 IS NULL AND $2 IS NULL",
        };
        let select = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY id LIMIT $3 OFFSET $4"
        ));
        let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM users WHERE {condition}"));
        let (rows, total): (Vec<UserRow>, i64) = on_pool!(self, |pool, PG| {
            let rows = sqlx::query_as(select)
                .bind(role)
                .bind(filter.organization_id)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total = sqlx::query_scalar(count).bind(role).bind(filter.organization_id).fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(User::try_from).collect::<StoreResult<_>>()?, total))
    }

    /// Every active agent and admin with the name to show (their e-mail if the name is blank),
    /// for the console's agent lists: a journal page names a thousand agents, and loading them
    /// whole cost more than the page's calls.
    pub async fn staff_names(&self) -> StoreResult<Vec<(Id, String)>> {
        const SQL: &str = "SELECT id, COALESCE(NULLIF(TRIM(name), ''), email, '') FROM users \
                           WHERE role IN ('agent', 'admin') AND active ORDER BY id";
        Ok(match &self.reader {
            Some(reader) => {
                reader.read(|conn| crate::reader::rows(conn, SQL, [], |r| Ok((r.get(0)?, r.get(1)?)))).await?
            }
            None => on_pool!(self, |pool, PG| sqlx::query_as(SQL).fetch_all(pool).await?),
        })
    }

    /// Every active admin: they supervise every queue.
    pub async fn active_admin_ids(&self) -> StoreResult<Vec<Id>> {
        Ok(on_pool!(self, |pool, PG| sqlx::query_scalar(ACTIVE_ADMINS_SQL).fetch_all(pool).await?))
    }

    /// Every active agent and admin: who "all agents" are when a call is announced.
    pub async fn active_staff_ids(&self) -> StoreResult<Vec<Id>> {
        Ok(on_pool!(self, |pool, PG| sqlx::query_scalar(ACTIVE_STAFF_SQL).fetch_all(pool).await?))
    }

    /// Whether anyone can administer this installation yet.
    pub async fn admin_exists(&self) -> StoreResult<bool> {
        let found: Option<i64> = on_pool!(self, |pool, PG| {
            sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin' AND active LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    /// Import many users. Each row is checked on its own (a bad row is reported, the others are
    /// kept). Rows are written in transactions of a few hundred, each with a handful of
    /// statements (uniqueness checks with `IN`, ids reserved at once, multi-row inserts): a
    /// statement per row per table made 100,000 rows take most of a minute.
    pub async fn import_users(&self, rows: Vec<NewUser>) -> StoreResult<Vec<UserImportOutcome>> {
        const CHUNK: usize = 500;
        let defs = self.list_custom_fields(FieldTarget::User).await?;
        let mut outcomes: Vec<UserImportOutcome> = Vec::with_capacity(rows.len());
        let mut seen_emails: HashSet<String> = HashSet::new();
        let mut seen_agents: HashSet<String> = HashSet::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<NewUser> = rows.by_ref().take(CHUNK).collect();
            let first_outcome = outcomes.len();
            // Checks that need no database, including duplicates within the file.
            let mut accepted: Vec<(usize, NewUser, PreparedUser)> = Vec::new();
            for new in chunk {
                let prepared = self.prepare_user(
                    &new.name,
                    new.email.as_ref(),
                    &new.phones,
                    new.extension.as_deref(),
                    &new.tags,
                    new.custom_fields.clone(),
                    &defs,
                );
                let outcome_index = outcomes.len();
                outcomes.push(Ok(0));
                match prepared {
                    Err(e) => outcomes[outcome_index] = Err(e),
                    Ok(p) if p.email_lower.as_ref().is_some_and(|e| !seen_emails.insert(e.clone())) => {
                        outcomes[outcome_index] = Err(StoreError::conflict("email", "appears twice in this import"))
                    }
                    Ok(_) if new.agent_id.as_ref().is_some_and(|a| !seen_agents.insert(a.clone())) => {
                        outcomes[outcome_index] = Err(StoreError::conflict("agent_id", "appears twice in this import"))
                    }
                    Ok(p) => accepted.push((outcome_index, new, p)),
                }
            }
            if accepted.is_empty() {
                continue;
            }
            let emails: Vec<String> = accepted.iter().filter_map(|(_, _, p)| p.email_lower.clone()).collect();
            let agent_ids: Vec<String> = accepted.iter().filter_map(|(_, n, _)| n.agent_id.clone()).collect();
            let org_ids: Vec<Id> = accepted.iter().filter_map(|(_, n, _)| n.organization_id).collect();
            let now = now_millis();
            on_pool!(self, |pool, PG| {
                let mut tx = crate::begin_write!(pool, PG);
                let taken_emails: HashSet<String> = existing_values!(tx, "users", "email_lower", &emails);
                let taken_agents: HashSet<String> = existing_values!(tx, "users", "agent_id", &agent_ids);
                let known_orgs: HashSet<i64> = if org_ids.is_empty() {
                    HashSet::new()
                } else {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM organizations WHERE id IN ({})",
                        id_list(&org_ids)
                    ));
                    sqlx::query_scalar::<_, i64>(sql).fetch_all(&mut *tx).await?.into_iter().collect()
                };
                accepted.retain(|(i, new, p)| {
                    let rejection = if p.email_lower.as_ref().is_some_and(|e| taken_emails.contains(e)) {
                        Some(StoreError::conflict("email", "is already used by another user"))
                    } else if new.agent_id.as_ref().is_some_and(|a| taken_agents.contains(a)) {
                        Some(StoreError::conflict("agent_id", "is already used by another agent"))
                    } else {
                        new.organization_id.filter(|o| !known_orgs.contains(o)).map(|org| {
                            StoreError::invalid("organization_id", format!("organization {org} does not exist"))
                        })
                    };
                    match rejection {
                        Some(e) => {
                            outcomes[*i] = Err(e);
                            false
                        }
                        None => true,
                    }
                });
                let ids: Vec<i64> = reserve_ids!(tx, PG, accepted.len() as i64);
                let mut user_rows = Vec::with_capacity(accepted.len());
                let mut index_rows = Vec::new();
                let mut tag_rows = Vec::new();
                let mut field_rows = Vec::new();
                let mut new_keys: Vec<String> = Vec::new();
                for ((i, new, p), id) in accepted.iter().zip(&ids) {
                    outcomes[*i] = Ok(*id);
                    user_rows.push(vec![
                        Param::Int(*id),
                        Param::Text(new.role.unwrap_or(Role::EndUser).as_str().into()),
                        Param::Text(p.name.clone()),
                        Param::OptText(p.email.clone()),
                        Param::OptText(p.email_lower.clone()),
                        Param::OptInt(new.organization_id),
                        Param::OptText(new.external_id.clone()),
                        Param::Text(to_text(&p.phones)),
                        Param::Text(to_text(&p.tags)),
                        Param::Text(to_text(&p.custom_json)),
                        Param::Bool(new.active),
                        Param::OptText(new.password_hash.clone()),
                        Param::OptText(new.agent_id.clone()),
                        Param::OptText(new.extension.clone()),
                        Param::Int(now),
                        Param::Int(now),
                    ]);
                    for key in &p.index_keys {
                        new_keys.push(key.as_str().to_owned());
                        index_rows.push(vec![
                            Param::Text(key.as_str().into()),
                            Param::Text(key.tail().into()),
                            Param::Int(*id),
                            Param::Text(CallerLevel::Known.as_str().into()),
                            Param::OptText(key.extension().map(str::to_owned)),
                            Param::Int(now),
                        ]);
                    }
                    for tag in &p.tags {
                        tag_rows.push(vec![Param::Int(*id), Param::Text(tag.clone())]);
                    }
                    for (field_id, value) in &p.field_rows {
                        field_rows.push(vec![Param::Int(*id), Param::Int(*field_id), Param::Text(value.clone())]);
                    }
                }
                insert_rows!(tx, "users", USER_INSERT_COLUMNS, user_rows);
                insert_rows!(
                    tx,
                    "caller_index",
                    &["phone_key", "phone_tail", "user_id", "level", "extension", "created_at"],
                    index_rows
                );
                insert_rows!(tx, "tag_index", &["owner_id", "tag"], tag_rows);
                insert_rows!(tx, "field_values", &["owner_id", "field_id", "value"], field_rows);
                // Calls from these numbers that nobody was identified for now have a caller.
                new_keys.sort();
                new_keys.dedup();
                for keys in new_keys.chunks(1000) {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "UPDATE calls SET end_user_id = (SELECT MAX(ci.user_id) FROM caller_index ci \
                         WHERE ci.phone_key = calls.customer_key AND ci.level = 'known') \
                         WHERE end_user_id IS NULL AND customer_key IN ({})",
                        placeholders(1, keys.len())
                    ));
                    let params: Vec<Param> = keys.iter().map(|k| Param::Text(k.clone())).collect();
                    bind_params!(sqlx::query(sql), &params).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
            debug_assert!(outcomes[first_outcome..].iter().all(|o| !matches!(o, Ok(0))));
        }
        Ok(outcomes)
    }
}

/// Custom values as kept on the row (key → JSON) and as index rows (field id, stored text).
pub(crate) type CheckedCustomValues = (BTreeMap<String, serde_json::Value>, Vec<(Id, String)>);

/// Check custom values against their definitions.
pub(crate) fn custom_values(
    values: BTreeMap<String, serde_json::Value>,
    defs: &[CustomField],
) -> StoreResult<CheckedCustomValues> {
    let mut json = BTreeMap::new();
    let mut rows = Vec::new();
    for (key, value) in values {
        let def = defs
            .iter()
            .find(|d| d.key == key)
            .ok_or_else(|| StoreError::invalid(key.clone(), format!("`{key}` is not a defined custom field")))?;
        if let Some(text) = def.to_stored(&value)? {
            json.insert(key, def.from_stored(&text));
            rows.push((def.id, text));
        }
    }
    Ok((json, rows))
}

/// A comma-separated id list for `IN (…)`. Ids are integers, so this cannot inject SQL.
pub(crate) fn id_list(ids: &[Id]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
