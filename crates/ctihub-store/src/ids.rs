//! The global id sequence: one id space for every record, so an id alone names a record and
//! ids never collide across tables (tags and custom values are indexed by owner id alone).

/// SQL that takes the next id. PostgreSQL has a real sequence; SQLite, with one writer at a
/// time, counts in a one-row table inside the caller's transaction.
pub(crate) const fn next_id_sql(pg: bool) -> &'static str {
    if pg { "SELECT nextval('id_sequence')" } else { "UPDATE id_sequence SET last_id = last_id + 1 RETURNING last_id" }
}

/// Take the next id inside a transaction: `next_id!(tx, PG)`.
macro_rules! next_id {
    ($tx:expr, $pg:expr) => {{
        let id: i64 = sqlx::query_scalar($crate::ids::next_id_sql($pg)).fetch_one(&mut *$tx).await?;
        debug_assert!(id <= ctihub_domain::MAX_ID);
        id
    }};
}
pub(crate) use next_id;

/// Take `n` consecutive ids at once (bulk imports): `reserve_ids!(tx, PG, n)`.
macro_rules! reserve_ids {
    ($tx:expr, $pg:expr, $n:expr) => {{
        let n: i64 = $n;
        let ids: Vec<i64> = if n == 0 {
            Vec::new()
        } else if $pg {
            sqlx::query_scalar("SELECT nextval('id_sequence') FROM generate_series(1, $1)")
                .bind(n)
                .fetch_all(&mut *$tx)
                .await?
        } else {
            let last: i64 = sqlx::query_scalar("UPDATE id_sequence SET last_id = last_id + $1 RETURNING last_id")
                .bind(n)
                .fetch_one(&mut *$tx)
                .await?;
            (last - n + 1..=last).collect()
        };
        ids
    }};
}
pub(crate) use reserve_ids;

impl crate::Store {
    /// Take one id for something that is named but not stored as a row of its own (a ticket
    /// audit in a Zendesk answer), so clients that cache by id never see it reused.
    pub async fn allocate_id(&self) -> crate::StoreResult<ctihub_domain::Id> {
        Ok(crate::on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            tx.commit().await?;
            id
        }))
    }
}

/// The last id taken, on SQLite.
pub(crate) const LAST_ID_SQL: &str = "SELECT last_id FROM id_sequence";

/// The id sequence during one batch transaction of the SQLite ledger writer (`crate::ledger`).
/// The writer holds SQLite's write lock from `BEGIN IMMEDIATE` to the commit, so nobody else can take an id meanwhile: the counter is
/// read once, handed out from memory and written back once, instead of an `UPDATE` per id
/// (several per event). Ids a rolled-back job took are skipped; ids need not be dense.
pub(crate) struct BatchIds {
    /// The sequence's value when the batch began: its ids are above it.
    before: ctihub_domain::Id,
    last: ctihub_domain::Id,
}

impl BatchIds {
    pub(crate) fn read(conn: &rusqlite::Connection) -> rusqlite::Result<BatchIds> {
        let last = conn.prepare_cached(LAST_ID_SQL)?.query_row([], |row| row.get(0))?;
        Ok(BatchIds { before: last, last })
    }

    /// The ids the batch drew: above the first, up to the second.
    pub(crate) fn drawn(&self) -> (ctihub_domain::Id, ctihub_domain::Id) {
        (self.before, self.last)
    }

    pub(crate) fn next(&mut self) -> ctihub_domain::Id {
        self.last += 1;
        debug_assert!(self.last <= ctihub_domain::MAX_ID);
        self.last
    }

    pub(crate) fn write_back(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        conn.prepare_cached("UPDATE id_sequence SET last_id = ?1")?.execute([self.last])?;
        Ok(())
    }
}
