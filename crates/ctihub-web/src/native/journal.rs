//! The caller journal for the console: newest first, filtered, paginated, marked done one by
//! one or all at once. With a notify map, each agent sees the queues mapped to them.

use axum::Json;
use axum::extract::State;

use crate::extract::Query;
use ctihub_domain::Id;
use ctihub_domain::call::Direction;
use ctihub_domain::time::{format_millis, parse_timestamp};
use ctihub_domain::user::Role;
use ctihub_store::{CallerMatch, JournalFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::StaffUser;
use crate::cti::shared_config;
use crate::cti::view::{self, JournalEntry};
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::hub::kinds;

#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JournalQuery {
    /// `open` (needs a callback) or `done`.
    pub(crate) status: Option<String>,
    /// `inbound`/`in` or `outbound`/`out`.
    pub(crate) direction: Option<String>,
    /// Calls answered by this agent.
    pub(crate) agent_id: Option<Id>,
    pub(crate) queue: Option<String>,
    /// Calls that started at or after this time (ISO 8601).
    pub(crate) since: Option<String>,
    /// Calls that started before this time (ISO 8601).
    pub(crate) until: Option<String>,
    /// Page size; defaults to the configured view limit (60), at most 500.
    pub(crate) limit: Option<i64>,
    /// The next page: calls older than this id (`next_before_id` of the previous page).
    pub(crate) before_id: Option<Id>,
    /// Admins only: ignore the notify map and see every queue.
    pub(crate) all: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallerDto {
    /// `known` or `maybe`.
    level: String,
    user_id: Id,
    name: String,
    organization_id: Option<Id>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JournalEntryDto {
    id: Id,
    direction: String,
    /// `ringing`, `in_progress` or `ended`.
    state: String,
    from: String,
    from_pretty: String,
    to: String,
    to_pretty: String,
    /// Who called: identified users (inbound) or the names the PBX sent (outbound).
    from_comment: Option<String>,
    to_comment: Option<String>,
    from_callers: Vec<CallerDto>,
    to_callers: Vec<CallerDto>,
    queue: Option<String>,
    done: bool,
    /// The PBX's hangup cause, as sent.
    cause: Option<String>,
    completion_status: Option<String>,
    started_at: String,
    answered_at: Option<String>,
    ended_at: Option<String>,
    wait_time: Option<i64>,
    talk_time: Option<i64>,
    agent_id: Option<Id>,
    end_user_id: Option<Id>,
    ticket_id: Option<Id>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JournalPage {
    entries: Vec<JournalEntryDto>,
    /// Pass as `before_id` for the next page; absent on the last page.
    next_before_id: Option<Id>,
    /// Entries needing a callback, over all pages, within the same view.
    open_count: i64,
}

fn callers(matches: &[CallerMatch]) -> Vec<CallerDto> {
    matches
        .iter()
        .map(|m| CallerDto {
            level: m.level.as_str().to_owned(),
            user_id: m.user.id,
            name: view::display_name(&m.user).to_owned(),
            organization_id: m.user.organization_id,
        })
        .collect()
}

fn dto(entry: &JournalEntry, phones: &ctihub_domain::phone::PhoneNormalizer) -> JournalEntryDto {
    let data = &entry.call.data;
    JournalEntryDto {
        id: entry.call.id,
        direction: data.direction.as_str().to_owned(),
        state: data.state.as_str().to_owned(),
        from: data.from_line.clone(),
        from_pretty: phones.pretty(&data.from_line),
        to: data.to_line.clone(),
        to_pretty: phones.pretty(&data.to_line),
        from_comment: entry.from_comment(),
        to_comment: entry.to_comment(),
        from_callers: callers(&entry.from_matches),
        to_callers: callers(&entry.to_matches),
        queue: data.queue_name.clone(),
        done: data.done,
        cause: data.hangup_cause.clone(),
        completion_status: data.completion_status.map(|c| c.as_str().to_owned()),
        started_at: format_millis(data.started_at),
        answered_at: data.answered_at.map(format_millis),
        ended_at: data.ended_at.map(format_millis),
        wait_time: data.wait_time,
        talk_time: data.talk_time,
        agent_id: data.agent_id,
        end_user_id: data.end_user_id,
        ticket_id: data.ticket_id,
    }
}

/// Turn query parameters into a filter limited to what `user` may see.
pub(crate) async fn filter_for(
    state: &AppState,
    user: &ctihub_domain::user::User,
    q: &JournalQuery,
) -> Result<JournalFilter, ApiError> {
    let config = shared_config(&state.store).await?;
    let mut filter = if q.all == Some(true) {
        if user.role != Role::Admin {
            return Err(ApiError::forbidden("only admins may ignore the notify map"));
        }
        JournalFilter::default()
    } else {
        crate::cti::view::visible_to(&config, &state.store, user)
    };
    filter.done = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some("open") => Some(false),
        Some("done") => Some(true),
        Some(other) => return Err(ApiError::invalid("status", format!("`{other}` is not one of open, done, all"))),
    };
    filter.direction = match q.direction.as_deref() {
        None | Some("") => None,
        Some("in") => Some(Direction::Inbound),
        Some("out") => Some(Direction::Outbound),
        Some(other) => Some(Direction::parse(other)?),
    };
    filter.agent_id = q.agent_id;
    filter.queue = q.queue.clone().filter(|s| !s.trim().is_empty());
    let time = |field: &str, value: &Option<String>| -> Result<Option<i64>, ApiError> {
        value
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                parse_timestamp(s, &jiff::tz::TimeZone::UTC)
                    .map(|t| t.as_millisecond())
                    .ok_or_else(|| ApiError::invalid(field, format!("`{s}` is not an ISO 8601 time")))
            })
            .transpose()
    };
    filter.since = time("since", &q.since)?;
    filter.until = time("until", &q.until)?;
    filter.before_id = q.before_id;
    Ok(filter)
}

/// The caller journal, newest first.
#[utoipa::path(get, path = "/api/hub/journal", tag = "journal", params(JournalQuery),
    responses((status = 200, body = JournalPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    Query(q): Query<JournalQuery>,
) -> Result<Json<JournalPage>, ApiError> {
    let config = shared_config(&state.store).await?;
    let limit = q.limit.unwrap_or(config.view_limit);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    let filter = filter_for(&state, &user, &q).await?;
    let calls = state.store.list_journal(&filter, limit + 1).await?;
    let more = calls.len() as i64 > limit;
    let calls: Vec<_> = calls.into_iter().take(limit as usize).collect();
    let next_before_id = if more { calls.last().map(|c| c.id) } else { None };
    let open = JournalFilter { done: Some(false), before_id: None, ..filter };
    let open_count = state.store.count_journal(&open).await?;
    let entries = view::identify(&state.store, calls).await?;
    let phones = state.store.phones();
    Ok(Json(JournalPage { entries: entries.iter().map(|e| dto(e, phones)).collect(), next_before_id, open_count }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarkDone {
    ids: Vec<Id>,
    /// `false` puts the calls back on the callback list.
    #[serde(default = "yes")]
    done: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Marked {
    updated: u64,
}

/// Mark calls done, or back to needing a callback.
#[utoipa::path(post, path = "/api/hub/journal/done", tag = "journal", request_body = MarkDone,
    responses((status = 200, body = Marked), (status = 403, body = ErrorBody)))]
pub(crate) async fn mark(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    JsonBody(body): JsonBody<MarkDone>,
) -> Result<Json<Marked>, ApiError> {
    let updated = mark_calls(&state, &user, &body.ids, body.done).await?;
    Ok(Json(Marked { updated }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct MarkAll {
    #[serde(default = "yes")]
    done: bool,
    #[serde(flatten)]
    #[schema(inline)]
    filter: JournalQuery,
}

/// Mark everything matching the filters ("mark all seen").
#[utoipa::path(post, path = "/api/hub/journal/done-all", tag = "journal", request_body = MarkAll,
    responses((status = 200, body = Marked), (status = 403, body = ErrorBody)))]
pub(crate) async fn mark_all(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    JsonBody(body): JsonBody<MarkAll>,
) -> Result<Json<Marked>, ApiError> {
    let updated = mark_matching(&state, &user, &body.filter, body.done).await?;
    Ok(Json(Marked { updated }))
}

/// Mark calls done (or back to needing a callback) if `user` may see them all in their journal;
/// consoles are told when anything changed.
pub(crate) async fn mark_calls(
    state: &AppState,
    user: &ctihub_domain::user::User,
    ids: &[Id],
    done: bool,
) -> Result<u64, ApiError> {
    let config = shared_config(&state.store).await?;
    let visible = crate::cti::view::visible_to(&config, &state.store, user);
    if let Some(queues) = &visible.queues
        && user.role != Role::Admin
    {
        for call in state.store.get_calls(ids).await? {
            if !call.data.queue_name.as_ref().is_some_and(|q| queues.contains(q)) {
                return Err(ApiError::forbidden(format!("call {} is not in your journal", call.id)));
            }
        }
    }
    let updated = state.store.set_calls_done(ids, done).await?;
    if updated > 0 {
        state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_ids": ids})).await?;
    }
    Ok(updated)
}

/// Mark everything matching `query` within `user`'s journal ("mark all seen").
pub(crate) async fn mark_matching(
    state: &AppState,
    user: &ctihub_domain::user::User,
    query: &JournalQuery,
    done: bool,
) -> Result<u64, ApiError> {
    let mut filter = filter_for(state, user, query).await?;
    filter.before_id = None;
    let ids = state.store.set_done_matching(&filter, done).await?;
    if !ids.is_empty() {
        state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_ids": ids})).await?;
    }
    Ok(ids.len() as u64)
}
