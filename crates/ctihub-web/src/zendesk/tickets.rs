//! Zendesk's tickets API as telephony integrations use it: create (with a comment or a voice
//! comment), show, update (call metrics into custom fields and tags, a recording as a voice
//! comment), list and comments. The body is read by `ticket_input`; create and update answer
//! with an `audit` beside the ticket (`audit`), as real Zendesk does.
//!
//! Every id a body names is checked before anything is written, so a refused request leaves
//! no half-made user or ticket behind.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use ctihub_domain::custom_field::{CustomField, FieldTarget};
use ctihub_domain::ticket::{Channel, NewComment, NewTicket, Ticket, TicketPatch, TicketStatus, Via};
use ctihub_domain::user::{NewUser, Role, User};
use serde_json::{Map, Value, json};

use super::audit::{Change, answer_with_audit};
use super::error::{Problems, ZendeskError};
use super::paging::{ListUrl, list_envelope};
use super::ticket_input::TicketInput;
use super::voice_comment::VoiceCommentInput;
use super::{ZendeskAgent, base_url, envelope, json_object, json_response, path_id, render};
use crate::{AppState, routing};

type Body = Result<Bytes, BytesRejection>;

/// The requester a new ticket gets: named by id, found or made from `requester`, else the
/// person creating it.
async fn resolve_requester(state: &AppState, input: &TicketInput, acting: &User) -> Result<User, ZendeskError> {
    let store = &state.store;
    if let Some(id) = input.requester_id {
        return Ok(store.get_user(id).await?);
    }
    let Some(requester) = &input.requester else { return Ok(acting.clone()) };
    if let Some(email) = &requester.email
        && let Some(user) = store.find_user_by_email(email.as_str()).await?
    {
        return Ok(user);
    }
    if requester.email.is_none()
        && let Some(phone) = &requester.phone
        && let Some(found) = store.identify_caller(phone).await?.into_iter().next()
    {
        return Ok(found.user);
    }
    let name = requester
        .name
        .clone()
        .or_else(|| requester.email.as_ref().map(|e| e.as_str().to_owned()))
        .or_else(|| requester.phone.as_ref().map(|p| format!("Caller: {p}")))
        .unwrap_or_default();
    let mut new = NewUser::new(Role::EndUser, name);
    new.email = requester.email.clone();
    if let Some(phone) = &requester.phone {
        new.phones = vec![(ctihub_domain::phone::PhoneKind::Phone, phone.clone())];
    }
    Ok(store.create_user(new).await?)
}

pub(crate) async fn ticket_fields_of(state: &AppState) -> Result<Vec<CustomField>, ZendeskError> {
    Ok(state.store.list_custom_fields(FieldTarget::Ticket).await?)
}

/// Create a ticket from a checked input: what `POST /tickets` and the voice channel share.
/// `channel` is the ticket's `via`; the voice channel passes its `via_id`'s.
pub(crate) async fn create_ticket(
    state: &AppState,
    acting: &User,
    input: TicketInput,
    channel: Channel,
    headers: &HeaderMap,
    fields: &[CustomField],
) -> Result<(Ticket, Response), ZendeskError> {
    let requester = resolve_requester(state, &input, acting).await?;
    let author = input.comment.as_ref().and_then(|c| c.author_id).unwrap_or(acting.id);
    // The first comment: the comment, else the description, else (a voicemail, say) the voice
    // comment itself, so the ticket does not open with a copy of its own call details.
    let plain = |body: String, public: bool| NewComment { ticket_id: 0, author_id: author, body, public, voice: None };
    let (voice_call, first_comment) = match (&input.comment, &input.description, &input.voice_comment) {
        (Some(comment), _, _) => (None, plain(comment.body.clone(), comment.public)),
        (None, Some(description), _) => (None, plain(description.clone(), true)),
        (None, None, Some(voice)) => {
            let (call, comment) = voice.first_comment(state, channel, requester.id, author).await?;
            (Some(call), comment)
        }
        (None, None, None) => (None, plain(String::new(), true)),
    };
    let subject = input
        .subject
        .clone()
        .or_else(|| input.voice_comment.as_ref().filter(|_| voice_call.is_some()).map(|v| v.title(channel)))
        .unwrap_or_else(|| first_line(&first_comment.body));
    let assignee = input.assignee_id.flatten();
    let mut tags = input.tags.clone().unwrap_or_default();
    tags.extend(input.additional_tags.iter().cloned());
    let via_source = match &input.voice_comment {
        Some(voice) => json!({"from": {"phone": voice.from}, "to": {"phone": voice.to}}),
        None => Value::Null,
    };
    let mut new = NewTicket {
        subject,
        description: first_comment.body.clone(),
        status: input.status.or(assignee.map(|_| TicketStatus::Open)),
        priority: input.priority.flatten(),
        ticket_type: input.ticket_type.flatten(),
        requester_id: requester.id,
        submitter_id: Some(acting.id),
        assignee_id: assignee,
        group_id: input.group_id.flatten(),
        organization_id: input.organization_id.flatten().or(requester.organization_id),
        tags,
        custom_fields: input.custom_fields.clone(),
        via: Via { channel, source: via_source },
        external_id: input.external_id.clone().flatten(),
        first_comment: Some(first_comment),
    };
    if matches!(channel, Channel::Voicemail | Channel::PhoneInbound | Channel::PhoneOutbound) {
        // A ticket about a call is routed like those every dialect makes from its calls.
        let (dialed, at) = match &input.voice_comment {
            Some(voice) => (voice.dialed(channel), voice.started_at),
            None => ("", ctihub_domain::time::now_millis()),
        };
        routing::route_ticket(&state.store, dialed, at, &mut new).await?;
    }
    let ticket = state.store.create_ticket(new).await?;
    let mut comment_events: Vec<Value> =
        state.store.list_comments(ticket.id).await?.iter().map(render::comment).collect();
    match (voice_call, &input.voice_comment) {
        (Some(call), _) => VoiceCommentInput::link(state, call, ticket.id).await?,
        (None, Some(voice)) => {
            let comment = voice.store(state, &ticket, author, channel).await?;
            comment_events.push(render::comment(&comment));
        }
        (None, None) => {}
    }
    let ticket = state.store.get_ticket(ticket.id).await?;
    let response = answer_with_audit(
        state,
        StatusCode::CREATED,
        headers,
        Change { ticket: &ticket, before: None, author, comments: &comment_events },
        fields,
    )
    .await?;
    Ok((ticket, response))
}

/// `via_id` on a plain ticket create: any channel Zendesk numbers, `api` when absent.
fn requested_channel(object: &Map<String, Value>, problems: &mut Problems) -> Channel {
    match object.get("via_id") {
        None | Some(Value::Null) => Channel::Api,
        Some(value) => match value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok())) {
            Some(id) => Channel::from_via_id(id).unwrap_or_else(|e| {
                problems.invalid("via_id", e.message);
                Channel::Api
            }),
            None => {
                problems.invalid("via_id", format!("{value} is not a via id"));
                Channel::Api
            }
        },
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    line.chars().take(150).collect()
}

pub(crate) async fn create(
    State(state): State<AppState>,
    ZendeskAgent(acting): ZendeskAgent,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let object = envelope(&body, "ticket", &mut problems);
    let fields = ticket_fields_of(&state).await?;
    let input = TicketInput::read(&object, &fields, &mut problems);
    if input.comment.is_none() && input.description.is_none() && input.voice_comment.is_none() {
        problems.add("description", "BlankValue", "cannot be blank");
    }
    let channel = requested_channel(&object, &mut problems);
    input.check(&state, &mut problems).await?;
    problems.into_result()?;
    let (_, response) = create_ticket(&state, &acting, input, channel, &headers, &fields).await?;
    Ok(response)
}

pub(crate) async fn show(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    let ticket = state.store.get_ticket(path_id(&id)?).await?;
    let fields = ticket_fields_of(&state).await?;
    Ok(json_response(StatusCode::OK, &json!({"ticket": render::ticket(&base_url(&headers), &ticket, &fields)})))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    ZendeskAgent(acting): ZendeskAgent,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    let current = state.store.get_ticket(path_id(&id)?).await?;
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let object = envelope(&body, "ticket", &mut problems);
    let fields = ticket_fields_of(&state).await?;
    let input = TicketInput::read(&object, &fields, &mut problems);
    input.check(&state, &mut problems).await?;
    problems.into_result()?;

    let base = base_url(&headers);
    let before = render::ticket(&base, &current, &fields);
    let tags = if input.tags.is_some() || !input.additional_tags.is_empty() || !input.remove_tags.is_empty() {
        let mut tags = input.tags.clone().unwrap_or_else(|| current.tags.clone());
        for tag in &input.additional_tags {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        tags.retain(|t| !input.remove_tags.contains(t));
        Some(tags)
    } else {
        None
    };
    let patch = TicketPatch {
        subject: input.subject.clone(),
        status: input.status,
        priority: input.priority,
        ticket_type: input.ticket_type,
        requester_id: input.requester_id,
        assignee_id: input.assignee_id,
        group_id: input.group_id,
        organization_id: input.organization_id,
        tags,
        custom_fields: input.custom_fields.clone(),
        external_id: input.external_id.clone(),
    };
    state.store.update_ticket(current.id, patch).await?;
    let mut comment_events = Vec::new();
    let author = input.comment.as_ref().and_then(|c| c.author_id).unwrap_or(acting.id);
    if let Some(comment) = &input.comment {
        let added = state
            .store
            .add_comment(NewComment {
                ticket_id: current.id,
                author_id: author,
                body: comment.body.clone(),
                public: comment.public,
                voice: None,
            })
            .await?;
        comment_events.push(render::comment(&added));
    }
    if let Some(voice) = &input.voice_comment {
        let comment = voice.store(&state, &current, acting.id, current.via.channel).await?;
        comment_events.push(render::comment(&comment));
    }
    let ticket = state.store.get_ticket(current.id).await?;
    let change = Change { ticket: &ticket, before: Some(&before), author, comments: &comment_events };
    answer_with_audit(&state, StatusCode::OK, &headers, change, &fields).await
}

/// `GET /api/v2/tickets`, oldest first as Zendesk lists them.
pub(crate) async fn list(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ZendeskError> {
    let url = ListUrl::new(&headers, &uri);
    let paging = url.paging();
    let (tickets, total) = state.store.list_tickets(paging.offset(), paging.limit()).await?;
    let fields = ticket_fields_of(&state).await?;
    let base = url.base();
    let items = tickets.iter().map(|t| render::ticket(base, t, &fields)).collect();
    Ok(json_response(StatusCode::OK, &list_envelope("tickets", items, total, &paging, &url)))
}

/// `GET /api/v2/tickets/{id}/comments`, voice comments with their call data.
pub(crate) async fn comments(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
) -> Result<Response, ZendeskError> {
    let ticket = state.store.get_ticket(path_id(&id)?).await?;
    let comments = state.store.list_comments(ticket.id).await?;
    Ok(json_response(StatusCode::OK, &render::comments_page(comments.iter())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_default_to_the_first_line() {
        assert_eq!(first_line("\n  Call from +1 555\nmore"), "Call from +1 555");
    }
}
