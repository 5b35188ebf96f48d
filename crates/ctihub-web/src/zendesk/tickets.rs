//! Zendesk's tickets API as telephony integrations use it: create (with a comment or a voice
//! comment), show, update (call metrics into custom fields and tags, a recording as a voice
//! comment), list, comments, and the `ticket_fields` definitions. Create and update answer
//! with an `audit` beside the ticket, as real Zendesk does; zenpy returns a `TicketAudit` then.
//!
//! Every id a body names is checked before anything is written, so a refused request leaves
//! no half-made user or ticket behind.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::custom_field::{CustomField, FieldTarget};
use ctihub_domain::ticket::{
    Channel, NewComment, NewTicket, Priority, Ticket, TicketPatch, TicketStatus, TicketType, Via,
};
use ctihub_domain::user::{Email, NewUser, Role, User};
use serde_json::{Map, Value, json};

use super::error::{Problems, ZendeskError};
use super::paging::{ListUrl, list_envelope};
use super::users::{optional_id, optional_text, tags};
use super::voice_comment::VoiceCommentInput;
use super::{ZendeskAgent, base_url, envelope, json_object, json_response, path_id, render};
use crate::{AppState, routing};

type Body = Result<Bytes, BytesRejection>;

/// The comment a create or update adds.
struct CommentInput {
    body: String,
    public: bool,
    author_id: Option<Id>,
}

/// `requester: {name, email, phone}`: the requester by e-mail address, created when new.
struct RequesterInput {
    name: Option<String>,
    email: Option<Email>,
    phone: Option<String>,
}

/// What a ticket body says, checked. `None` leaves an attribute alone.
#[derive(Default)]
pub(crate) struct TicketInput {
    subject: Option<String>,
    description: Option<String>,
    comment: Option<CommentInput>,
    pub(crate) voice_comment: Option<VoiceCommentInput>,
    status: Option<TicketStatus>,
    priority: Option<Option<Priority>>,
    ticket_type: Option<Option<TicketType>>,
    requester_id: Option<Id>,
    requester: Option<RequesterInput>,
    submitter_id: Option<Id>,
    assignee_id: Option<Option<Id>>,
    group_id: Option<Option<Id>>,
    organization_id: Option<Option<Id>>,
    tags: Option<Vec<String>>,
    additional_tags: Vec<String>,
    remove_tags: Vec<String>,
    custom_fields: BTreeMap<String, Value>,
    external_id: Option<Option<String>>,
}

/// An enum attribute (`status`, `priority`, `type`): `Some(None)` for `null`.
fn enum_value<T>(
    object: &Map<String, Value>,
    key: &str,
    parse: impl Fn(&str) -> Result<T, ctihub_domain::DomainError>,
    problems: &mut Problems,
) -> Option<Option<T>> {
    match optional_text(object, key, problems)? {
        None => Some(None),
        Some(text) => match parse(&text) {
            Ok(value) => Some(Some(value)),
            Err(e) => {
                problems.invalid(key, e.message);
                None
            }
        },
    }
}

impl TicketInput {
    pub(crate) fn read(object: &Map<String, Value>, fields: &[CustomField], problems: &mut Problems) -> TicketInput {
        let mut input = TicketInput {
            subject: optional_text(object, "subject", problems).flatten(),
            description: optional_text(object, "description", problems).flatten(),
            ..Default::default()
        };
        input.comment = match object.get("comment") {
            None | Some(Value::Null) => None,
            Some(Value::String(body)) => Some(CommentInput { body: body.clone(), public: true, author_id: None }),
            Some(Value::Object(comment)) => {
                let body = comment
                    .get("body")
                    .or_else(|| comment.get("html_body"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                if body.is_empty() {
                    problems.blank("comment");
                }
                let public = match comment.get("public") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        problems.invalid("comment", "`public` must be true or false");
                        true
                    }
                };
                let author_id = optional_id(comment, "author_id", problems).flatten();
                Some(CommentInput { body, public, author_id })
            }
            Some(_) => {
                problems.invalid("comment", "must be an object with a body");
                None
            }
        };
        input.voice_comment = match object.get("voice_comment") {
            None | Some(Value::Null) => None,
            Some(Value::Object(voice)) => Some(VoiceCommentInput::read(voice, problems)),
            Some(_) => {
                problems.invalid("voice_comment", "must be an object");
                None
            }
        };
        input.status = enum_value(object, "status", TicketStatus::parse, problems).flatten();
        input.priority = enum_value(object, "priority", Priority::parse, problems);
        input.ticket_type = enum_value(object, "type", TicketType::parse, problems);
        input.requester_id = optional_id(object, "requester_id", problems).flatten();
        input.requester = match object.get("requester") {
            Some(Value::Object(r)) => {
                let email = optional_text(r, "email", problems).flatten();
                let email = match email.map(|e| Email::parse(&e)) {
                    Some(Ok(email)) => Some(email),
                    Some(Err(e)) => {
                        problems.invalid("requester", e.message);
                        None
                    }
                    None => None,
                };
                let phone = optional_text(r, "phone", problems).flatten();
                let name = optional_text(r, "name", problems).flatten();
                if email.is_none() && phone.is_none() && name.is_none() {
                    problems.invalid("requester", "needs a name, an email or a phone");
                }
                Some(RequesterInput { name, email, phone })
            }
            None | Some(Value::Null) => None,
            Some(_) => {
                problems.invalid("requester", "must be an object");
                None
            }
        };
        input.submitter_id = optional_id(object, "submitter_id", problems).flatten();
        input.assignee_id = optional_id(object, "assignee_id", problems);
        input.group_id = optional_id(object, "group_id", problems);
        input.organization_id = optional_id(object, "organization_id", problems);
        input.tags = tags(object, "tags", problems);
        input.additional_tags = tags(object, "additional_tags", problems).unwrap_or_default();
        input.remove_tags = tags(object, "remove_tags", problems).unwrap_or_default();
        input.external_id = optional_text(object, "external_id", problems);
        input.custom_fields = custom_field_values(object, fields, problems);
        input
    }

    /// Every id the body names must exist, with the right role.
    pub(crate) async fn check(&self, state: &AppState, problems: &mut Problems) -> Result<(), ZendeskError> {
        let store = &state.store;
        let user_role = async |id: Id| -> Result<Option<Role>, ZendeskError> {
            match store.get_user(id).await {
                Ok(user) => Ok(Some(user.role)),
                Err(ctihub_store::StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            }
        };
        if let Some(id) = self.requester_id
            && user_role(id).await?.is_none()
        {
            problems.invalid("requester_id", format!("user {id} does not exist"));
        }
        if let Some(id) = self.submitter_id
            && user_role(id).await?.is_none()
        {
            problems.invalid("submitter_id", format!("user {id} does not exist"));
        }
        if let Some(Some(id)) = self.assignee_id
            && !user_role(id).await?.is_some_and(|r| r.is_staff())
        {
            problems.invalid("assignee_id", format!("{id} is not an agent"));
        }
        if let Some(Some(id)) = self.group_id
            && store.get_group(id).await.is_err()
        {
            problems.invalid("group_id", format!("group {id} does not exist"));
        }
        if let Some(Some(id)) = self.organization_id
            && store.get_organization(id).await.is_err()
        {
            problems.invalid("organization_id", format!("organization {id} does not exist"));
        }
        if let Some(comment) = &self.comment
            && let Some(id) = comment.author_id
            && user_role(id).await?.is_none()
        {
            problems.invalid("comment", format!("author {id} does not exist"));
        }
        if let Some(voice) = &self.voice_comment
            && let Some(id) = voice.answered_by_id
            && !user_role(id).await?.is_some_and(|r| r.is_staff())
        {
            problems.invalid("voice_comment", format!("answered_by_id {id} is not an agent"));
        }
        Ok(())
    }
}

/// `custom_fields: [{id, value}]` (or a `{id: value}` map) as values by field key.
fn custom_field_values(
    object: &Map<String, Value>,
    fields: &[CustomField],
    problems: &mut Problems,
) -> BTreeMap<String, Value> {
    let pairs: Vec<(Value, Value)> = match object.get("custom_fields").or_else(|| object.get("fields")) {
        None | Some(Value::Null) => return BTreeMap::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                (item.get("id").cloned().unwrap_or(Value::Null), item.get("value").cloned().unwrap_or(Value::Null))
            })
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (Value::from(k.clone()), v.clone())).collect(),
        Some(_) => {
            problems.invalid("custom_fields", "must be a list of {id, value}");
            return BTreeMap::new();
        }
    };
    let mut values = BTreeMap::new();
    for (id, value) in pairs {
        let id_number = id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
        match id_number.and_then(|n| fields.iter().find(|f| f.id == n)) {
            Some(field) => match field.to_stored(&value) {
                Ok(_) => {
                    values.insert(field.key.clone(), value);
                }
                Err(e) => problems.invalid("custom_fields", format!("field {}: {}", field.id, e.message)),
            },
            None => problems.invalid("custom_fields", format!("{id} is not the id of a ticket field")),
        }
    }
    values
}

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

/// What happened to a ticket, as the audit beside it lists.
fn audit(audit_id: Id, author: Id, before: Option<&Value>, after: &Value, comments: &[Value], via: &Value) -> Value {
    const WATCHED: &[&str] = &[
        "subject",
        "status",
        "priority",
        "type",
        "requester_id",
        "assignee_id",
        "group_id",
        "organization_id",
        "tags",
        "external_id",
    ];
    let mut events = Vec::new();
    let mut next_id = audit_id * 10;
    let mut event_id = || {
        next_id += 1;
        next_id
    };
    for name in WATCHED {
        let value = &after[*name];
        match before {
            None if !value.is_null() && value != &json!([]) => {
                events.push(json!({"id": event_id(), "type": "Create", "field_name": name, "value": value}));
            }
            Some(old) if &old[*name] != value => events.push(json!({
                "id": event_id(), "type": "Change", "field_name": name, "value": value, "previous_value": old[*name],
            })),
            _ => {}
        }
    }
    let old_fields = before.map(|b| b["custom_fields"].clone()).unwrap_or(Value::Null);
    for field in after["custom_fields"].as_array().into_iter().flatten() {
        let previous = old_fields.as_array().and_then(|list| list.iter().find(|f| f["id"] == field["id"]));
        let previous_value = previous.map(|f| f["value"].clone()).unwrap_or(Value::Null);
        if field["value"] != previous_value {
            let kind = if before.is_some() { "Change" } else { "Create" };
            events.push(json!({
                "id": event_id(), "type": kind, "field_name": field["id"].to_string(),
                "value": field["value"], "previous_value": previous_value,
            }));
        }
    }
    events.extend(comments.iter().cloned());
    json!({
        "id": audit_id,
        "ticket_id": after["id"],
        "created_at": after["updated_at"],
        "author_id": author,
        "metadata": {"system": {}, "custom": {}},
        "via": via,
        "events": events,
    })
}

/// One write to a ticket, as its audit reports it.
struct Change<'a> {
    ticket: &'a Ticket,
    /// The ticket as it was rendered before an update; `None` for a create.
    before: Option<&'a Value>,
    author: Id,
    comments: &'a [Value],
}

/// The ticket and its audit, as create and update answer.
async fn answer_with_audit(
    state: &AppState,
    status: StatusCode,
    headers: &HeaderMap,
    change: Change<'_>,
    fields: &[CustomField],
) -> Result<Response, ZendeskError> {
    let base = base_url(headers);
    let rendered = render::ticket(&base, change.ticket, fields);
    let audit_id = state.store.allocate_id().await?;
    let via = json!({"channel": "api", "source": {"from": {}, "to": {}, "rel": null}});
    let audit = audit(audit_id, change.author, change.before, &rendered, change.comments, &via);
    let mut response = json_response(status, &json!({"ticket": rendered, "audit": audit}));
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("{base}/api/v2/tickets/{}.json", change.ticket.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
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
    let comments: Vec<Value> = state.store.list_comments(ticket.id).await?.iter().map(render::comment).collect();
    let count = comments.len();
    Ok(json_response(
        StatusCode::OK,
        &json!({"comments": comments, "next_page": null, "previous_page": null, "count": count}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctihub_domain::time::format_millis;

    #[test]
    fn audits_list_what_changed() {
        let before = json!({"id": 5, "status": "new", "tags": [], "custom_fields": [{"id": 9, "value": null}]});
        let after = json!({"id": 5, "status": "open", "tags": ["vip"], "custom_fields": [{"id": 9, "value": 42}], "updated_at": "t"});
        let a = audit(100, 2, Some(&before), &after, &[json!({"type": "Comment"})], &json!({}));
        let events = a["events"].as_array().unwrap();
        let kinds: Vec<(&str, &str)> =
            events.iter().map(|e| (e["type"].as_str().unwrap(), e["field_name"].as_str().unwrap_or(""))).collect();
        assert_eq!(kinds, vec![("Change", "status"), ("Change", "tags"), ("Change", "9"), ("Comment", "")]);
        assert_eq!(events[0]["previous_value"], "new");
        assert_eq!(a["ticket_id"], 5);
        assert_eq!(format_millis(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn subjects_default_to_the_first_line() {
        assert_eq!(first_line("\n  Call from +1 555\nmore"), "Call from +1 555");
    }
}
