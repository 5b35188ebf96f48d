//! What an IVR asks about a caller once they are identified: their organizations, their open
//! and latest tickets, a ticket they typed. Narrow rows read by index (`tickets_requester_idx`,
//! primary keys), so a data dip stays a handful of probes however large the helpdesk grows.

use ctihub_domain::Id;
use ctihub_domain::ticket::{Priority, TicketStatus};
use ctihub_domain::time::Millis;

use crate::json::from_text;
use crate::users::id_list;
use crate::{Store, StoreError, StoreResult, on_pool};

/// A ticket as a caller card or an IVR needs it: no description, comments or custom fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketSummary {
    pub id: Id,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: Option<Priority>,
    pub requester_id: Id,
    pub assignee_id: Option<Id>,
    pub group_id: Option<Id>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An organization's name and tags, for routing and greeting.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationSummary {
    pub id: Id,
    pub name: String,
    pub tags: Vec<String>,
}

const SUMMARY_COLUMNS: &str =
    "id, subject, status, priority, requester_id, assignee_id, group_id, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    subject: String,
    status: String,
    priority: Option<String>,
    requester_id: i64,
    assignee_id: Option<i64>,
    group_id: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SummaryRow> for TicketSummary {
    type Error = StoreError;

    fn try_from(row: SummaryRow) -> StoreResult<Self> {
        let corrupt = |e: ctihub_domain::DomainError| StoreError::Corrupt(e.to_string());
        Ok(TicketSummary {
            id: row.id,
            subject: row.subject,
            status: TicketStatus::parse(&row.status).map_err(corrupt)?,
            priority: row.priority.as_deref().map(Priority::parse).transpose().map_err(corrupt)?,
            requester_id: row.requester_id,
            assignee_id: row.assignee_id,
            group_id: row.group_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl Store {
    /// Tickets these users requested that are not solved or closed, most recently updated
    /// first, at most `limit`.
    pub async fn open_tickets_of(&self, requesters: &[Id], limit: i64) -> StoreResult<Vec<TicketSummary>> {
        if requesters.is_empty() {
            return Ok(Vec::new());
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS} FROM tickets WHERE requester_id IN ({}) \
             AND status NOT IN ('solved', 'closed') ORDER BY updated_at DESC, id DESC LIMIT {}",
            id_list(requesters),
            limit.clamp(1, 100)
        ));
        let rows: Vec<SummaryRow> = on_pool!(self, |pool, PG| sqlx::query_as(sql).fetch_all(pool).await?);
        rows.into_iter().map(TicketSummary::try_from).collect()
    }

    /// The ticket these users requested most recently, whatever its status.
    pub async fn latest_ticket_of(&self, requesters: &[Id]) -> StoreResult<Option<TicketSummary>> {
        if requesters.is_empty() {
            return Ok(None);
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS} FROM tickets WHERE requester_id IN ({}) \
             ORDER BY created_at DESC, id DESC LIMIT 1",
            id_list(requesters)
        ));
        let row: Option<SummaryRow> = on_pool!(self, |pool, PG| sqlx::query_as(sql).fetch_optional(pool).await?);
        row.map(TicketSummary::try_from).transpose()
    }

    pub async fn ticket_summary(&self, id: Id) -> StoreResult<Option<TicketSummary>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {SUMMARY_COLUMNS} FROM tickets WHERE id = $1"));
        let row: Option<SummaryRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        row.map(TicketSummary::try_from).transpose()
    }

    /// Names and tags of these organizations, in no particular order; missing ids are left out.
    pub async fn organization_summaries(&self, ids: &[Id]) -> StoreResult<Vec<OrganizationSummary>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT id, name, tags FROM organizations WHERE id IN ({})", id_list(ids)));
        let rows: Vec<(i64, String, String)> = on_pool!(self, |pool, PG| sqlx::query_as(sql).fetch_all(pool).await?);
        rows.into_iter()
            .map(|(id, name, tags)| Ok(OrganizationSummary { id, name, tags: from_text("organizations.tags", &tags)? }))
            .collect()
    }
}
