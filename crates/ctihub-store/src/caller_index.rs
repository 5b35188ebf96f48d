//! Caller identification: a number in any spelling → the users it belongs to, by one probe of
//! the `caller_index` table on its normalized key.

use ctihub_domain::phone::{CallerLevel, CallerNumber};
use ctihub_domain::user::User;

use crate::users::UserRow;
use crate::{Store, StoreError, StoreResult, on_pool};

/// Index one number for a user inside the caller's transaction:
/// `index_caller_key!(tx, key, user_id, level, source_id, now)`; `source_id` is the ticket a
/// maybe-number was found in (`None::<i64>` for the user's own fields).
macro_rules! index_caller_key {
    ($tx:expr, $key:expr, $user_id:expr, $level:expr, $source_id:expr, $now:expr) => {{
        let key: &ctihub_domain::phone::PhoneKey = $key;
        let level: ctihub_domain::phone::CallerLevel = $level;
        sqlx::query(
            "INSERT INTO caller_index (phone_key, phone_tail, user_id, level, extension, source_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.as_str())
        .bind(key.tail())
        .bind($user_id)
        .bind(level.as_str())
        .bind(key.extension())
        .bind($source_id)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use index_caller_key;

/// The users a normalized key (`$1`) belongs to. One row per user: a user with the same number
/// in two fields, or known and maybe, is listed once at the best level. Grouping by the primary
/// key alone is enough: the other columns depend on it (PostgreSQL accepts that, too).
pub(crate) const IDENTIFY_SQL: &str = "SELECT MIN(ci.level) AS level, u.id, u.role, u.name, u.email, u.organization_id, u.external_id, \
     u.phones, u.tags, u.custom_fields, u.active, u.password_hash, u.agent_id, u.extension, \
     u.created_at, u.updated_at \
     FROM caller_index ci JOIN users u ON u.id = ci.user_id \
     WHERE ci.phone_key = $1 AND u.active \
     GROUP BY u.id \
     ORDER BY MIN(ci.level), u.id DESC LIMIT 20";

pub(crate) fn caller_match(level: &str, user: UserRow) -> StoreResult<CallerMatch> {
    let level =
        CallerLevel::parse(level).ok_or_else(|| StoreError::Corrupt(format!("caller_index.level `{level}`")))?;
    Ok(CallerMatch { level, user: User::try_from(user)? })
}

/// A user a number belongs to, and how sure the index is.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerMatch {
    pub level: CallerLevel,
    pub user: User,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MatchRow {
    pub(crate) level: String,
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
}

impl Store {
    /// Who is calling from `number`? Known matches come first, then maybe-matches; within a
    /// level the newest user first; at most 20, as Zammad lists them. Inactive users, withheld
    /// numbers and non-numbers match nobody.
    pub async fn identify_caller(&self, number: &str) -> StoreResult<Vec<CallerMatch>> {
        let CallerNumber::Number(key) = self.phones.normalize(number) else {
            return Ok(Vec::new());
        };
        if let Some(reader) = &self.reader {
            return reader.read_here(|conn| identify_on(conn, key.as_str())).await;
        }
        let rows: Vec<MatchRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(IDENTIFY_SQL).bind(key.as_str()).fetch_all(pool).await?);
        rows.into_iter().map(|row| caller_match(&row.level, row.user)).collect()
    }
}

/// [`IDENTIFY_SQL`] on an SQLite connection of our own: the reader's, or the ledger writer's
/// inside its batch. Through sqlx each of the up to twenty user rows was handed over on its own.
pub(crate) fn identify_on(conn: &rusqlite::Connection, key: &str) -> StoreResult<Vec<CallerMatch>> {
    let mut query = conn.prepare_cached(IDENTIFY_SQL)?;
    let rows = query
        .query_map([key], |row| Ok((row.get::<_, String>(0)?, UserRow::from_sqlite_at(row, 1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|(level, user)| caller_match(&level, user)).collect()
}
