//! The Talk Partner Edition Calls API: `POST /api/v2/calls`, `GET`/`PATCH /api/v2/calls/{id}`
//! and `POST /api/v2/calls/{id}/comments`, on the same Call every other dialect writes.
//!
//! Everything a request names is checked before anything is written, so a rejected request
//! leaves no half-made call, user or ticket behind.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, ExternalRef, NewCallEvent};
use ctihub_domain::phone::{CallerNumber, PhoneKind};
use ctihub_domain::ticket::{Channel, Comment, NewComment, NewTicket, Via};
use ctihub_domain::time::now_millis;
use ctihub_domain::user::{NewUser, Role, User};
use ctihub_store::StoreError;
use serde_json::{Map, Value, json};

use super::error::{Problems, ZendeskError};
use super::tpe::{self, CallInput, FieldValue, Mode};
use super::{ZendeskAgent, base_url, envelope, json_object, json_response, path_id};
use crate::hub::kinds;
use crate::{AppState, routing};

/// The source name under which TPE `external_id`s are kept, so other dialects can find the call.
const SOURCE: &str = "tpe";

type Body = Result<Bytes, BytesRejection>;

pub(crate) async fn create(
    State(state): State<AppState>,
    ZendeskAgent(integration): ZendeskAgent,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let call_object = envelope(&body, "call", &mut problems);
    let input = tpe::parse_call(&call_object, Mode::Create, &mut problems);
    let comment = match body.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(CommentInput::read(c, &mut problems)),
        Some(_) => {
            problems.invalid("comment", "must be an object");
            None
        }
    };
    check_references(&state, &input, &mut problems).await?;
    if let Some(c) = &comment {
        c.check_references(&state, &mut problems).await?;
    }
    problems.into_result()?;

    let store = &state.store;
    let mut data = tpe::new_call(&input);
    if data.end_user_id.is_none() {
        data.end_user_id = comment.as_ref().and_then(|c| c.end_user_id);
    }
    // A ticket needs a requester; a bare call is only identified, never gives rise to a user.
    if comment.is_some() {
        ensure_requester(&state, &mut data).await?;
    } else if data.end_user_id.is_none()
        && let Some(found) = store.identify_caller(data.customer_line()).await?.into_iter().next()
    {
        data.end_user_id = Some(found.user.id);
    }
    fill_organization(&state, &mut data, input.has("organization_id")).await?;
    routing::note_business_hours(store, &mut data).await?;

    let event = event("create", Value::Object(body.clone()));
    let external_id = text_value(&input, "external_id");
    let mut call = create_call(&state, &data, external_id.as_deref(), &event).await?;
    if let Some(c) = &comment {
        let (linked, comment) = add_voice_comment(&state, call, c, &integration, None).await?;
        call = linked;
        pop_ticket(&state, &call, comment.ticket_id, c.display_to_agent).await?;
    }
    state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": call.id})).await?;

    let mut response = json_response(StatusCode::CREATED, &json!({"call": tpe::render(&call)}));
    let location = format!("{}/api/v2/calls/{}.json", base_url(&headers), call.id);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

pub(crate) async fn show(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
) -> Result<Response, ZendeskError> {
    let call = state.store.get_call(path_id(&id)?).await?;
    Ok(json_response(StatusCode::OK, &json!({"call": tpe::render(&call)})))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ZendeskError> {
    let id = path_id(&id)?;
    let call = state.store.get_call(id).await?;
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let call_object = envelope(&body, "call", &mut problems);
    let input = tpe::parse_call(&call_object, Mode::Update, &mut problems);
    check_references(&state, &input, &mut problems).await?;
    problems.into_result()?;

    let store = &state.store;
    let mut data = call.data.clone();
    tpe::apply(&mut data, &input, Mode::Update);
    if input.id("end_user_id").is_some() {
        fill_organization(&state, &mut data, input.has("organization_id")).await?;
    }
    let mut updated = store.update_call(id, &data, Some(&event("update", Value::Object(body)))).await?;
    if let Some(external_id) = text_value(&input, "external_id")
        && claim_external_id(&state, updated.id, &external_id).await?
    {
        updated = store.get_call(id).await?;
    }
    let mut tickets = vec![call.data.ticket_id, updated.data.ticket_id];
    tickets.dedup();
    refresh_voice_comments(&state, &updated, tickets.into_iter().flatten()).await?;
    state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": id})).await?;
    Ok(json_response(StatusCode::OK, &json!({"call": tpe::render(&updated)})))
}

pub(crate) async fn comment(
    State(state): State<AppState>,
    ZendeskAgent(integration): ZendeskAgent,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ZendeskError> {
    let call = state.store.get_call(path_id(&id)?).await?;
    let body = json_object(body)?;
    // The documented body is bare; a `{"comment": {...}}` envelope is accepted too.
    let object = match body.get("comment") {
        Some(Value::Object(inner)) if !body.contains_key("title") => inner.clone(),
        _ => body,
    };
    let mut problems = Problems::default();
    let input = CommentInput::read(&object, &mut problems);
    input.check_references(&state, &mut problems).await?;
    problems.into_result()?;

    let event = event("comment", Value::Object(object));
    let had_ticket = call.data.ticket_id;
    let (call, comment) = add_voice_comment(&state, call, &input, &integration, Some(&event)).await?;
    pop_ticket(&state, &call, comment.ticket_id, input.display_to_agent).await?;
    if call.data.ticket_id != had_ticket {
        state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": call.id})).await?;
    }
    let answer = tpe::render_voice_comment(&comment, &call, state.store.phones());
    Ok(json_response(StatusCode::CREATED, &answer))
}

fn event(kind: &str, payload: Value) -> NewCallEvent {
    NewCallEvent { source: SOURCE.into(), kind: kind.into(), payload, occurred_at: now_millis() }
}

fn text_value(input: &CallInput, name: &str) -> Option<String> {
    match input.get(name) {
        Some(Some(FieldValue::Text(text))) => Some(text.clone()),
        _ => None,
    }
}

/// Why user `id` cannot be named here (as an agent when `staff`), if it cannot.
async fn user_problem(state: &AppState, id: Id, staff: bool) -> Result<Option<String>, ZendeskError> {
    match state.store.get_user(id).await {
        Ok(user) if staff && !(user.role.is_staff() && user.active) => Ok(Some(format!("user {id} is not an agent"))),
        Ok(_) => Ok(None),
        Err(StoreError::NotFound { .. }) => Ok(Some(format!("user {id} does not exist"))),
        Err(e) => Err(e.into()),
    }
}

/// The users, organization and ticket a call names must exist.
async fn check_references(state: &AppState, input: &CallInput, problems: &mut Problems) -> Result<(), ZendeskError> {
    for (field, staff) in [("end_user_id", false), ("agent_id", true)] {
        if let Some(id) = input.id(field)
            && let Some(problem) = user_problem(state, id, staff).await?
        {
            problems.invalid(field, problem);
        }
    }
    if let Some(id) = input.id("organization_id") {
        match state.store.get_organization(id).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => {
                problems.invalid("organization_id", format!("organization {id} does not exist"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(id) = input.id("ticket_id") {
        match state.store.get_ticket(id).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => problems.invalid("ticket_id", format!("ticket {id} does not exist")),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A voice comment request: the `comment` of a create, or the bare body of `…/comments`.
#[derive(Debug, Default)]
struct CommentInput {
    title: String,
    subject: Option<String>,
    call_fields: Vec<String>,
    display_to_agent: Option<Id>,
    author_id: Option<Id>,
    end_user_id: Option<Id>,
}

impl CommentInput {
    fn read(object: &Map<String, Value>, problems: &mut Problems) -> CommentInput {
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let mut input = CommentInput {
            title: text("title").unwrap_or_default().to_owned(),
            subject: text("subject").map(str::to_owned),
            ..Default::default()
        };
        if input.title.is_empty() {
            match object.get("title") {
                Some(v) if !v.is_null() && !v.is_string() => problems.invalid("title", "must be a string"),
                _ => problems.blank("title"),
            }
        }
        match object.get("call_fields") {
            None | Some(Value::Null) => {}
            // Names that are not strings are ignored like names that are not fields.
            Some(Value::Array(names)) => {
                input.call_fields = names.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            }
            Some(Value::String(name)) => input.call_fields = vec![name.clone()],
            Some(_) => problems.invalid("call_fields", "must be a list of call field names"),
        }
        let id = |key: &str, problems: &mut Problems| match object.get(key) {
            None | Some(Value::Null) => None,
            // zenpy sends `""` for "no agent".
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => {
                let parsed = v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).filter(|n| *n > 0);
                if parsed.is_none() {
                    problems.invalid(key, "must be a user id");
                }
                parsed
            }
        };
        input.display_to_agent = id("display_to_agent", problems);
        input.author_id = id("author_id", problems);
        input.end_user_id = id("end_user_id", problems);
        input
    }

    async fn check_references(&self, state: &AppState, problems: &mut Problems) -> Result<(), ZendeskError> {
        let users = [("display_to_agent", self.display_to_agent, true), ("author_id", self.author_id, false)];
        for (field, id, staff) in users.into_iter().chain([("end_user_id", self.end_user_id, false)]) {
            if let Some(id) = id
                && let Some(problem) = user_problem(state, id, staff).await?
            {
                problems.invalid(field, problem);
            }
        }
        Ok(())
    }
}

/// The call's customer as a user: the one it names, else the first the caller index finds for
/// the customer's number, else a new end-user with only that number, named as Zendesk's TPE
/// guide suggests.
async fn ensure_requester(state: &AppState, data: &mut CallData) -> Result<User, ZendeskError> {
    let store = &state.store;
    if let Some(id) = data.end_user_id {
        return Ok(store.get_user(id).await?);
    }
    let number = data.customer_line().to_owned();
    if let Some(found) = store.identify_caller(&number).await?.into_iter().next() {
        data.end_user_id = Some(found.user.id);
        return Ok(found.user);
    }
    let new = match store.phones().normalize(&number) {
        CallerNumber::Number(key) => {
            let shown = if key.is_e164() { key.as_str().to_owned() } else { number.trim().to_owned() };
            let mut new = NewUser::new(Role::EndUser, format!("Caller: {shown}"));
            new.phones = vec![(PhoneKind::Phone, shown)];
            new
        }
        _ => NewUser::new(
            Role::EndUser,
            format!("Caller: {}", if number.trim().is_empty() { "unknown" } else { number.trim() }),
        ),
    };
    let user = store.create_user(new).await?;
    data.end_user_id = Some(user.id);
    Ok(user)
}

/// A call's organization defaults to its customer's.
async fn fill_organization(state: &AppState, data: &mut CallData, given: bool) -> Result<(), ZendeskError> {
    if given {
        return Ok(());
    }
    if let Some(id) = data.end_user_id {
        data.organization_id = state.store.get_user(id).await?.organization_id.or(data.organization_id);
    }
    Ok(())
}

/// Store a new call, known to other dialects by its `external_id`. Zendesk does not require
/// external ids to be unique, so a second call with the same one is stored all the same; the
/// id keeps finding the first.
async fn create_call(
    state: &AppState,
    data: &CallData,
    external_id: Option<&str>,
    event: &NewCallEvent,
) -> Result<Call, ZendeskError> {
    let store = &state.store;
    let mut refs = Vec::new();
    if let Some(external_id) = external_id
        && store.find_call_by_ref(SOURCE, external_id).await?.is_none()
    {
        refs.push(ExternalRef::new(SOURCE, external_id));
    }
    match store.create_call(data, &refs, Some(event)).await {
        // Another request took the id in the meantime.
        Err(StoreError::Conflict { .. }) if !refs.is_empty() => Ok(store.create_call(data, &[], Some(event)).await?),
        other => Ok(other?),
    }
}

/// Make `external_id` find this call, unless it already finds another. True when it was added.
async fn claim_external_id(state: &AppState, call_id: Id, external_id: &str) -> Result<bool, ZendeskError> {
    if state.store.find_call_by_ref(SOURCE, external_id).await?.is_some() {
        return Ok(false);
    }
    match state.store.add_call_ref(call_id, &ExternalRef::new(SOURCE, external_id)).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Add the voice comment to the call's ticket, creating the ticket (and linking it to the call)
/// when the call has none. `event` is recorded on the call when the request is the comment
/// itself.
async fn add_voice_comment(
    state: &AppState,
    call: Call,
    input: &CommentInput,
    integration: &User,
    event: Option<&NewCallEvent>,
) -> Result<(Call, Comment), ZendeskError> {
    let store = &state.store;
    let names = tpe::comment_fields(&input.call_fields);
    // The call's customer as it stood before this request: a requester found or created below
    // for a new ticket is not who wrote the comment.
    let author = input.author_id.or(input.end_user_id).or(call.data.end_user_id).unwrap_or(integration.id);
    let ticket = match call.data.ticket_id {
        Some(id) => match store.get_ticket(id).await {
            Ok(ticket) => Some(ticket),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    if let Some(ticket) = ticket {
        if let Some(event) = event {
            store.append_call_event(call.id, event).await?;
        }
        let comment = store
            .add_comment(NewComment {
                ticket_id: ticket.id,
                author_id: author,
                body: input.title.clone(),
                public: false,
                voice: Some(tpe::voice_part(&call, &names)),
            })
            .await?;
        return Ok((call, comment));
    }

    let mut data = call.data.clone();
    let requester = ensure_requester(state, &mut data).await?;
    let first = NewComment {
        ticket_id: 0,
        author_id: author,
        body: input.title.clone(),
        public: false,
        voice: Some(tpe::voice_part(&call, &names)),
    };
    let rel = match tpe::channel(&data) {
        Channel::Voicemail => "voicemail",
        Channel::PhoneOutbound => "outbound",
        _ => "inbound",
    };
    let mut new_ticket = NewTicket {
        subject: input.subject.clone().unwrap_or_else(|| input.title.clone()),
        description: input.title.clone(),
        requester_id: requester.id,
        submitter_id: Some(integration.id),
        organization_id: data.organization_id,
        via: Via {
            channel: tpe::channel(&data),
            source: json!({"from": {"phone": data.from_line}, "to": {"phone": data.to_line}, "rel": rel}),
        },
        first_comment: Some(first),
        ..Default::default()
    };
    routing::apply(store, &mut data, &mut new_ticket).await?;
    let ticket = store.create_ticket(new_ticket).await?;
    data.ticket_id = Some(ticket.id);
    if data.organization_id.is_none() {
        data.organization_id = requester.organization_id;
    }
    let call = store.update_call(call.id, &data, event).await?;
    let comment = store
        .list_comments(ticket.id)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ZendeskError::from(StoreError::not_found("comment")))?;
    Ok((call, comment))
}

/// Re-render the voice comments about `call` on these tickets with its current values, keeping
/// the fields each shows.
async fn refresh_voice_comments(
    state: &AppState,
    call: &Call,
    tickets: impl Iterator<Item = Id>,
) -> Result<(), ZendeskError> {
    for ticket_id in tickets {
        for comment in state.store.list_comments(ticket_id).await? {
            let Some(voice) = comment.voice.as_ref().filter(|v| v.call_id == Some(call.id)) else { continue };
            let names: Vec<String> = voice.call_fields.iter().map(|(name, _)| name.clone()).collect();
            let fresh = tpe::voice_part(call, &names);
            if &fresh != voice {
                state.store.update_comment_voice(comment.id, &fresh).await?;
            }
        }
    }
    Ok(())
}

/// `display_to_agent`: open the ticket in that agent's console.
async fn pop_ticket(state: &AppState, call: &Call, ticket_id: Id, agent: Option<Id>) -> Result<(), ZendeskError> {
    let Some(agent) = agent else { return Ok(()) };
    let payload = json!({
        "call_id": call.id,
        "screen": "ticket",
        "ticket_id": ticket_id,
        "url": format!("/console/tickets/{ticket_id}"),
    });
    state.hub.publish(kinds::SCREEN_POP, Some(&[agent]), payload).await?;
    Ok(())
}
