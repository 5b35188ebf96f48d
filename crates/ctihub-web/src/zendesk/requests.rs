//! Zendesk's Requests API: the end-user's view of the tickets they asked for. Anyone signed in
//! sees their own requests, and only those: someone else's request is "not found", as in
//! Zendesk, so an end-user cannot even learn which ticket ids exist. Agents work tickets through
//! the Tickets API; here they too see only what they requested.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use ctihub_domain::custom_field::FieldTarget;
use ctihub_domain::ticket::Ticket;
use ctihub_domain::user::User;
use serde_json::{Map, Value, json};

use super::error::ZendeskError;
use super::paging::{ListUrl, list_envelope};
use super::{ZendeskCaller, base_url, json_response, path_id, render};
use crate::AppState;

/// What a request shows of its ticket: Zendesk's request object leaves out what only agents see
/// (tags, internal fields, the audit trail).
const REQUEST_FIELDS: &[&str] = &[
    "id",
    "subject",
    "description",
    "status",
    "priority",
    "type",
    "requester_id",
    "organization_id",
    "assignee_id",
    "group_id",
    "via",
    "due_at",
    "custom_fields",
    "created_at",
    "updated_at",
];

fn request(base: &str, ticket: &Ticket, fields: &[ctihub_domain::custom_field::CustomField]) -> Value {
    let full = render::ticket(base, ticket, fields);
    let mut object: Map<String, Value> =
        REQUEST_FIELDS.iter().filter_map(|k| full.get(*k).map(|v| ((*k).to_owned(), v.clone()))).collect();
    object.insert("url".into(), json!(format!("{base}/api/v2/requests/{}.json", ticket.id)));
    object.insert("is_public".into(), json!(true));
    object.insert("can_be_solved_by_me".into(), json!(false));
    Value::Object(object)
}

/// The ticket `id` if `caller` requested it; anything else is not found.
async fn own_ticket(state: &AppState, caller: &User, id: &str) -> Result<Ticket, ZendeskError> {
    let ticket = state.store.get_ticket(path_id(id)?).await?;
    if ticket.requester_id != caller.id {
        return Err(ZendeskError::not_found());
    }
    Ok(ticket)
}

/// `GET /api/v2/requests`: the caller's requests, most recent first.
pub(crate) async fn list(
    State(state): State<AppState>,
    ZendeskCaller(caller): ZendeskCaller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ZendeskError> {
    let url = ListUrl::new(&headers, &uri);
    let paging = url.paging();
    let (tickets, total) = state.store.tickets_requested_by(caller.id, paging.offset(), paging.limit()).await?;
    let fields = state.store.list_custom_fields(FieldTarget::Ticket).await?;
    let items = tickets.iter().map(|t| request(url.base(), t, &fields)).collect();
    Ok(json_response(StatusCode::OK, &list_envelope("requests", items, total, &paging, &url)))
}

/// `GET /api/v2/requests/{id}`: one of the caller's requests.
pub(crate) async fn show(
    State(state): State<AppState>,
    ZendeskCaller(caller): ZendeskCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    let ticket = own_ticket(&state, &caller, &id).await?;
    let fields = state.store.list_custom_fields(FieldTarget::Ticket).await?;
    Ok(json_response(StatusCode::OK, &json!({"request": request(&base_url(&headers), &ticket, &fields)})))
}

/// `GET /api/v2/requests/{id}/comments`: the public conversation; internal notes stay with the
/// agents.
pub(crate) async fn comments(
    State(state): State<AppState>,
    ZendeskCaller(caller): ZendeskCaller,
    Path(id): Path<String>,
) -> Result<Response, ZendeskError> {
    let ticket = own_ticket(&state, &caller, &id).await?;
    let comments = state.store.list_comments(ticket.id).await?;
    Ok(json_response(StatusCode::OK, &render::comments_page(comments.iter().filter(|c| c.public))))
}
