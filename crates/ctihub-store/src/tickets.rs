//! Tickets and comments.

use ctihub_domain::custom_field::FieldTarget;
use ctihub_domain::phone::CallerLevel;
use ctihub_domain::ticket::{
    Comment, NewComment, NewTicket, Priority, Ticket, TicketPatch, TicketStatus, TicketType, Via, VoicePart,
};
use ctihub_domain::time::now_millis;
use ctihub_domain::user::Role;
use ctihub_domain::{Id, normalize_tags};

use crate::caller_index::index_caller_key;
use crate::ids::next_id;
use crate::json::{from_text, to_text};
use crate::owner_index::{clear_owner_indexes, write_owner_indexes};
use crate::users::custom_values;
use crate::{Store, StoreError, StoreResult, on_pool};

pub(crate) const TICKET_COLUMNS: &str = "id, subject, description, status, priority, ticket_type, requester_id, submitter_id, \
     assignee_id, group_id, organization_id, tags, custom_fields, via, external_id, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct TicketRow {
    id: i64,
    subject: String,
    description: String,
    status: String,
    priority: Option<String>,
    ticket_type: Option<String>,
    requester_id: i64,
    submitter_id: i64,
    assignee_id: Option<i64>,
    group_id: Option<i64>,
    organization_id: Option<i64>,
    tags: String,
    custom_fields: String,
    via: String,
    external_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(row: TicketRow) -> StoreResult<Self> {
        let corrupt = |e: ctihub_domain::DomainError| StoreError::Corrupt(e.to_string());
        Ok(Ticket {
            id: row.id,
            subject: row.subject,
            description: row.description,
            status: TicketStatus::parse(&row.status).map_err(corrupt)?,
            priority: row.priority.as_deref().map(Priority::parse).transpose().map_err(corrupt)?,
            ticket_type: row.ticket_type.as_deref().map(TicketType::parse).transpose().map_err(corrupt)?,
            requester_id: row.requester_id,
            submitter_id: row.submitter_id,
            assignee_id: row.assignee_id,
            group_id: row.group_id,
            organization_id: row.organization_id,
            tags: from_text("tickets.tags", &row.tags)?,
            custom_fields: from_text("tickets.custom_fields", &row.custom_fields)?,
            via: from_text::<Via>("tickets.via", &row.via)?,
            external_id: row.external_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: i64,
    ticket_id: i64,
    author_id: i64,
    body: String,
    public: bool,
    voice: Option<String>,
    created_at: i64,
}

impl TryFrom<CommentRow> for Comment {
    type Error = StoreError;

    fn try_from(row: CommentRow) -> StoreResult<Self> {
        Ok(Comment {
            id: row.id,
            ticket_id: row.ticket_id,
            author_id: row.author_id,
            body: row.body,
            public: row.public,
            voice: row.voice.as_deref().map(|v| from_text("comments.voice", v)).transpose()?,
            created_at: row.created_at,
        })
    }
}

macro_rules! insert_comment {
    ($tx:expr, $pg:expr, $comment:expr, $now:expr) => {{
        let id = next_id!($tx, $pg);
        sqlx::query(
            "INSERT INTO comments (id, ticket_id, author_id, body, public, voice, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind($comment.ticket_id)
        .bind($comment.author_id)
        .bind(&$comment.body)
        .bind($comment.public)
        .bind($comment.voice.as_ref().map(to_text))
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        id
    }};
}

impl Store {
    /// Check the people and group a ticket points at exist and may play their part.
    async fn check_ticket_refs(
        &self,
        requester_id: Id,
        assignee_id: Option<Id>,
        group_id: Option<Id>,
    ) -> StoreResult<()> {
        self.get_user(requester_id)
            .await
            .map_err(|_| StoreError::invalid("requester_id", format!("user {requester_id} does not exist")))?;
        if let Some(assignee) = assignee_id {
            let user = self
                .get_user(assignee)
                .await
                .map_err(|_| StoreError::invalid("assignee_id", format!("user {assignee} does not exist")))?;
            if !user.role.is_staff() {
                return Err(StoreError::invalid("assignee_id", "tickets can only be assigned to agents"));
            }
        }
        if let Some(group) = group_id {
            self.get_group(group)
                .await
                .map_err(|_| StoreError::invalid("group_id", format!("group {group} does not exist")))?;
        }
        Ok(())
    }

    pub async fn create_ticket(&self, new: NewTicket) -> StoreResult<Ticket> {
        let description = if new.description.trim().is_empty() {
            new.first_comment.as_ref().map(|c| c.body.clone()).unwrap_or_default()
        } else {
            new.description.clone()
        };
        let subject = match new.subject.trim() {
            "" => description.lines().next().unwrap_or("").chars().take(80).collect::<String>(),
            s => s.to_owned(),
        };
        if subject.trim().is_empty() {
            return Err(StoreError::invalid("subject", "a ticket needs a subject or a description"));
        }
        self.check_ticket_refs(new.requester_id, new.assignee_id, new.group_id).await?;
        let requester = self.get_user(new.requester_id).await?;
        let organization_id = match new.organization_id {
            Some(org) => Some(self.get_organization(org).await?.id),
            None => requester.organization_id,
        };
        let submitter_id = new.submitter_id.unwrap_or(new.requester_id);
        let defs = self.list_custom_fields(FieldTarget::Ticket).await?;
        let (custom_json, field_rows) = custom_values(new.custom_fields.clone(), &defs)?;
        let tags = normalize_tags(&new.tags);
        let status =
            new.status.unwrap_or(if new.assignee_id.is_some() { TicketStatus::Open } else { TicketStatus::New });
        let mut comment = new.first_comment.clone().unwrap_or(NewComment {
            ticket_id: 0,
            author_id: submitter_id,
            body: description.clone(),
            public: true,
            voice: None,
        });
        // Numbers a customer wrote in their first message (a signature, "call me on …") are
        // `maybe` caller ids for them; text agents write is not the customer's.
        let maybe_keys = if comment.author_id == requester.id && requester.role == Role::EndUser {
            self.phones.extract_numbers(&comment.body)
        } else {
            Vec::new()
        };
        let now = now_millis();
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO tickets (id, subject, description, status, priority, ticket_type, requester_id, \
                 submitter_id, assignee_id, group_id, organization_id, tags, custom_fields, via, external_id, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
            )
            .bind(id)
            .bind(&subject)
            .bind(&description)
            .bind(status.as_str())
            .bind(new.priority.map(|p| p.as_str()))
            .bind(new.ticket_type.map(|t| t.as_str()))
            .bind(new.requester_id)
            .bind(submitter_id)
            .bind(new.assignee_id)
            .bind(new.group_id)
            .bind(organization_id)
            .bind(to_text(&tags))
            .bind(to_text(&custom_json))
            .bind(to_text(&new.via))
            .bind(&new.external_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            write_owner_indexes!(tx, id, &tags, &field_rows);
            comment.ticket_id = id;
            insert_comment!(tx, PG, comment, now);
            for key in &maybe_keys {
                index_caller_key!(tx, key, requester.id, CallerLevel::Maybe, Some(id), now);
            }
            tx.commit().await?;
            id
        });
        self.get_ticket(id).await
    }

    pub async fn get_ticket(&self, id: Id) -> StoreResult<Ticket> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"));
        let row: Option<TicketRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        row.map(Ticket::try_from).transpose()?.ok_or(StoreError::not_found("ticket"))
    }

    pub async fn update_ticket(&self, id: Id, patch: TicketPatch) -> StoreResult<Ticket> {
        let current = self.get_ticket(id).await?;
        let requester_id = patch.requester_id.unwrap_or(current.requester_id);
        let assignee_id = patch.assignee_id.unwrap_or(current.assignee_id);
        let group_id = patch.group_id.unwrap_or(current.group_id);
        self.check_ticket_refs(requester_id, assignee_id, group_id).await?;
        let subject = match patch.subject {
            Some(s) if s.trim().is_empty() => return Err(StoreError::invalid("subject", "cannot be empty")),
            Some(s) => s.trim().to_owned(),
            None => current.subject,
        };
        let mut custom = current.custom_fields.clone();
        custom.extend(patch.custom_fields);
        let defs = self.list_custom_fields(FieldTarget::Ticket).await?;
        let (custom_json, field_rows) = custom_values(custom, &defs)?;
        let tags = normalize_tags(patch.tags.as_deref().unwrap_or(&current.tags));
        let status = patch.status.unwrap_or(current.status);
        if current.status == TicketStatus::Closed && status != TicketStatus::Closed {
            return Err(StoreError::invalid("status", "a closed ticket cannot be reopened"));
        }
        let now = now_millis().max(current.updated_at);
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            sqlx::query(
                "UPDATE tickets SET subject = $2, status = $3, priority = $4, ticket_type = $5, requester_id = $6, \
                 assignee_id = $7, group_id = $8, organization_id = $9, tags = $10, custom_fields = $11, \
                 external_id = $12, updated_at = $13 WHERE id = $1",
            )
            .bind(id)
            .bind(&subject)
            .bind(status.as_str())
            .bind(patch.priority.unwrap_or(current.priority).map(|p| p.as_str()))
            .bind(patch.ticket_type.unwrap_or(current.ticket_type).map(|t| t.as_str()))
            .bind(requester_id)
            .bind(assignee_id)
            .bind(group_id)
            .bind(patch.organization_id.unwrap_or(current.organization_id))
            .bind(to_text(&tags))
            .bind(to_text(&custom_json))
            .bind(patch.external_id.unwrap_or(current.external_id))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            clear_owner_indexes!(tx, id);
            write_owner_indexes!(tx, id, &tags, &field_rows);
            tx.commit().await?;
        });
        self.get_ticket(id).await
    }

    /// Tickets a user requested, most recent first.
    pub async fn tickets_requested_by(&self, user_id: Id, offset: i64, limit: i64) -> StoreResult<(Vec<Ticket>, i64)> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE requester_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ));
        let (rows, total): (Vec<TicketRow>, i64) = on_pool!(self, |pool, PG| {
            let rows = sqlx::query_as(sql).bind(user_id).bind(limit).bind(offset).fetch_all(pool).await?;
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE requester_id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Ticket::try_from).collect::<StoreResult<_>>()?, total))
    }

    pub async fn list_tickets(&self, offset: i64, limit: i64) -> StoreResult<(Vec<Ticket>, i64)> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets ORDER BY id LIMIT $1 OFFSET $2"));
        let (rows, total): (Vec<TicketRow>, i64) = on_pool!(self, |pool, PG| {
            let rows = sqlx::query_as(sql).bind(limit).bind(offset).fetch_all(pool).await?;
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Ticket::try_from).collect::<StoreResult<_>>()?, total))
    }

    /// Add a comment and touch the ticket, in one transaction.
    pub async fn add_comment(&self, comment: NewComment) -> StoreResult<Comment> {
        self.get_ticket(comment.ticket_id).await?;
        self.get_user(comment.author_id)
            .await
            .map_err(|_| StoreError::invalid("author_id", format!("user {} does not exist", comment.author_id)))?;
        if comment.body.trim().is_empty() && comment.voice.is_none() {
            return Err(StoreError::invalid("body", "a comment needs a body"));
        }
        let now = now_millis();
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = insert_comment!(tx, PG, comment, now);
            sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1")
                .bind(comment.ticket_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            id
        });
        self.get_comment(id).await
    }

    /// Replace a comment's voice part (a call it shows was updated) and touch its ticket, in one
    /// transaction. The body and author stay as written.
    pub async fn update_comment_voice(&self, comment_id: Id, voice: &VoicePart) -> StoreResult<Comment> {
        let now = now_millis();
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let ticket_id: Option<i64> =
                sqlx::query_scalar("UPDATE comments SET voice = $2 WHERE id = $1 RETURNING ticket_id")
                    .bind(comment_id)
                    .bind(to_text(voice))
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(ticket_id) = ticket_id else {
                return Err(StoreError::not_found("comment"));
            };
            sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1")
                .bind(ticket_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        self.get_comment(comment_id).await
    }

    pub async fn get_comment(&self, id: Id) -> StoreResult<Comment> {
        let row: Option<CommentRow> = on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT id, ticket_id, author_id, body, public, voice, created_at FROM comments WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(Comment::try_from).transpose()?.ok_or(StoreError::not_found("comment"))
    }

    /// A ticket's comments, oldest first.
    pub async fn list_comments(&self, ticket_id: Id) -> StoreResult<Vec<Comment>> {
        let rows: Vec<CommentRow> = on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT id, ticket_id, author_id, body, public, voice, created_at FROM comments \
                 WHERE ticket_id = $1 ORDER BY id",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(Comment::try_from).collect()
    }
}
