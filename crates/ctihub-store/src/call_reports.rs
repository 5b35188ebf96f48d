//! Reading many calls without holding them: report rows folded one at a time, and whole calls
//! streamed for export. Both walk `calls_started_at_idx` over a time range and pull rows from
//! the database as they are consumed, so a year of calls costs a cursor, not a year in memory.

use ctihub_domain::call::{Call, CallState, CompletionStatus, Direction, ExternalRef};
use ctihub_domain::report::CallMetrics;
use ctihub_domain::time::Millis;
use futures::channel::mpsc;
use futures::{SinkExt, TryStreamExt};

use crate::calls::{CALL_COLUMNS, CallRow};
use crate::{Store, StoreError, StoreResult, on_pool};

/// Rows in flight between the database cursor and an export's reader.
const EXPORT_BUFFER: usize = 256;

/// Calls started in `[since, until)`, optionally of one direction.
#[derive(Debug, Clone, Copy)]
pub struct CallRange {
    pub since: Millis,
    pub until: Millis,
    pub direction: Option<Direction>,
}

#[derive(sqlx::FromRow)]
struct MetricsRow {
    direction: String,
    state: String,
    completion_status: Option<String>,
    voicemail: bool,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    agent_id: Option<i64>,
    queue_name: Option<String>,
    from_line: String,
    to_line: String,
    dnis: Option<String>,
    time_to_answer: Option<i64>,
    wait_time: Option<i64>,
    talk_time: Option<i64>,
    hold_time: Option<i64>,
}

impl TryFrom<MetricsRow> for CallMetrics {
    type Error = StoreError;

    fn try_from(row: MetricsRow) -> StoreResult<Self> {
        let corrupt = |e: ctihub_domain::DomainError| StoreError::Corrupt(e.to_string());
        Ok(CallMetrics {
            direction: Direction::parse(&row.direction).map_err(corrupt)?,
            state: CallState::parse(&row.state).map_err(corrupt)?,
            completion_status: row
                .completion_status
                .as_deref()
                .map(CompletionStatus::parse)
                .transpose()
                .map_err(corrupt)?,
            voicemail: row.voicemail,
            started_at: row.started_at,
            answered_at: row.answered_at,
            ended_at: row.ended_at,
            agent_id: row.agent_id,
            queue_name: row.queue_name,
            from_line: row.from_line,
            to_line: row.to_line,
            dnis: row.dnis,
            time_to_answer: row.time_to_answer,
            wait_time: row.wait_time,
            talk_time: row.talk_time,
            hold_time: row.hold_time,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    #[sqlx(flatten)]
    call: CallRow,
    first_ref_source: Option<String>,
    first_ref_id: Option<String>,
}

impl CallRange {
    /// The WHERE clause: `$1`, `$2` are the bounds, `$3` the direction when there is one.
    fn condition(&self) -> &'static str {
        match self.direction {
            Some(_) => "started_at >= $1 AND started_at < $2 AND direction = $3",
            None => "started_at >= $1 AND started_at < $2",
        }
    }
}

impl Store {
    /// Hand every call in `range` to `each` as report metrics, oldest first; returns how many.
    pub async fn fold_call_metrics(
        &self,
        range: CallRange,
        mut each: impl FnMut(CallMetrics) + Send,
    ) -> StoreResult<u64> {
        let mut count = 0;
        on_pool!(self, |pool, PG| {
            // `voicemail` is a TPE detail kept in the JSON column; each backend reads JSON its way.
            let voicemail = if PG {
                "COALESCE((details::jsonb -> 'voicemail') = 'true'::jsonb, FALSE)"
            } else {
                "COALESCE(json_extract(details, '$.voicemail') = 1, FALSE)"
            };
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT direction, state, completion_status, {voicemail} AS voicemail, started_at, answered_at, \
                 ended_at, agent_id, queue_name, from_line, to_line, dnis, time_to_answer, wait_time, talk_time, \
                 hold_time FROM calls WHERE {} ORDER BY started_at, id",
                range.condition()
            ));
            let mut query = sqlx::query_as::<_, MetricsRow>(sql).bind(range.since).bind(range.until);
            if let Some(direction) = range.direction {
                query = query.bind(direction.as_str());
            }
            let mut rows = query.fetch(pool);
            while let Some(row) = rows.try_next().await? {
                each(CallMetrics::try_from(row)?);
                count += 1;
            }
        });
        Ok(count)
    }

    /// Every call in `range`, oldest first, as a stream fed from a database cursor by a
    /// background task: it reads ahead at most a few hundred rows and stops when the stream is
    /// dropped (a client that went away). A call's first external ref (by source, then id) comes
    /// with it; the others are left out, as an export shows one external id.
    pub fn stream_calls(&self, range: CallRange) -> impl futures::Stream<Item = StoreResult<Call>> + Send + 'static {
        let (mut tx, rx) = mpsc::channel::<StoreResult<Call>>(EXPORT_BUFFER);
        let store = self.clone();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CALL_COLUMNS}, \
             (SELECT r.source FROM call_refs r WHERE r.call_id = calls.id ORDER BY r.source, r.external_id LIMIT 1) \
             AS first_ref_source, \
             (SELECT r.external_id FROM call_refs r WHERE r.call_id = calls.id ORDER BY r.source, r.external_id LIMIT 1) \
             AS first_ref_id \
             FROM calls WHERE {} ORDER BY started_at, id",
            range.condition()
        ));
        tokio::spawn(async move {
            let outcome: StoreResult<()> = async {
                on_pool!(store, |pool, PG| {
                    let mut query = sqlx::query_as::<_, ExportRow>(sql).bind(range.since).bind(range.until);
                    if let Some(direction) = range.direction {
                        query = query.bind(direction.as_str());
                    }
                    let mut rows = query.fetch(pool);
                    while let Some(row) = rows.try_next().await? {
                        let refs = match (row.first_ref_source, row.first_ref_id) {
                            (Some(source), Some(id)) => vec![ExternalRef::new(source, id)],
                            _ => Vec::new(),
                        };
                        if tx.send(row.call.into_call(refs)).await.is_err() {
                            return Ok(()); // the reader is gone
                        }
                    }
                });
                Ok(())
            }
            .await;
            if let Err(e) = outcome {
                let _ = tx.send(Err(e)).await;
            }
        });
        rx
    }
}
