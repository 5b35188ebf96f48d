//! Freshdesk's CTI framework: `POST …/integrations/cti/pop` (screen pop) and
//! `GET …/integrations/cti/details` (call details), on the same Call every other dialect writes.
//! The call is found again by its `call_reference_id` (source `freshdesk`).
//!
//! Request handling follows the framework article (see `docs/decisions/0007-freshdesk-cti.md`
//! for how "online" is decided and where the article leaves room):
//!
//! - `new_ticket: true` always creates a ticket and ties the call to it, replacing an earlier
//!   association of the same reference (a forwarded call).
//! - An offline responder: the call is tied at once, to `ticket_id` as a private note when
//!   given, else to a new ticket.
//! - An online responder with the admin's "New Ticket" option: a new ticket at once.
//! - An online responder otherwise: only the pop (the ticket when `ticket_id` is given, else the
//!   requester); the call is tied later, when a pop brings the recording (`call_url`).
//! - A recording for a call that is already tied is added to its ticket as a private note.
//! - The first pop of a new call tickets the agent's earlier calls that are still untied (the
//!   widget was still open: "API invoked before call dispose").
//!
//! Everything a request names is checked before anything is written, so a rejected pop leaves
//! no call, user or ticket behind.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, Direction, ExternalRef, NewCallEvent};
use ctihub_domain::phone::{CallerLevel, CallerNumber, PhoneKind};
use ctihub_domain::ticket::{Channel, NewComment, NewTicket, Via, VoicePart};
use ctihub_domain::time::{Millis, format_millis, now_millis};
use ctihub_domain::user::{Email, NewUser, Role, User};
use ctihub_store::{Presence, Store, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::{FreshdeskError, Problems};
use super::{FreshdeskAgent, json_object, json_response};
use crate::hub::kinds;
use crate::{AppState, routing};

/// The source name under which `call_reference_id`s are kept, so other dialects can find the call.
pub(crate) const SOURCE: &str = "freshdesk";

/// The settings document holding the admin's CTI options.
pub const CONFIG_SETTING: &str = "freshdesk_cti";

/// Keys in `CallData::details` this dialect owns.
const TIMER_STARTED: &str = "freshdesk_timer_started_at";
const TIMER_STOPPED: &str = "freshdesk_timer_stopped_at";
const NOTE_ID: &str = "freshdesk_note_id";
const LINKED_TICKET: &str = "freshdesk_linked_ticket_id";
const CALL_INFO: &str = "freshdesk_call_info";
/// The agent's notepad while the call is not tied yet; becomes a private note when it is.
pub(super) const NOTEPAD: &str = "freshdesk_notepad";

/// The admin's Freshdesk CTI options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FreshdeskCtiConfig {
    /// The "New Ticket" option: a call to an online agent gets a new ticket as it comes in, and
    /// the agent cannot link it elsewhere.
    pub new_ticket: bool,
}

pub async fn load_config(store: &Store) -> StoreResult<FreshdeskCtiConfig> {
    Ok(store.get_setting(CONFIG_SETTING).await?.unwrap_or_default())
}

pub async fn save_config(store: &Store, config: &FreshdeskCtiConfig) -> StoreResult<()> {
    store.put_setting(CONFIG_SETTING, config).await
}

type Body = Result<Bytes, BytesRejection>;

/// A screen-pop request as sent, each field parsed leniently: ids and booleans also come as
/// strings (the article's own sample sends `"requester_id": "5014967434"`, `"new_ticket": "true"`).
#[derive(Debug, Default)]
struct PopInput {
    requester_id: Option<Id>,
    requester_phone: Option<String>,
    requester_email: Option<Email>,
    responder_id: Option<Id>,
    responder_phone: Option<String>,
    responder_email: Option<Email>,
    call_reference_id: String,
    ticket_id: Option<Id>,
    new_ticket: bool,
    call_url: Option<String>,
    call_info: Vec<(String, Value)>,
}

fn read_id(body: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Id> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => {
            let id = v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).filter(|n| *n > 0);
            if id.is_none() {
                problems.mismatch(key, "It should be a/an Positive Integer");
            }
            id
        }
    }
}

fn read_text(body: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<String> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            problems.mismatch(key, "It should be a/an String");
            None
        }
    }
}

fn read_email(body: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Email> {
    let text = read_text(body, key, problems)?;
    match Email::parse(&text) {
        Ok(email) => Some(email),
        Err(_) => {
            problems.invalid(key, "It should be in the 'valid email address' format");
            None
        }
    }
}

impl PopInput {
    fn read(body: &Map<String, Value>, problems: &mut Problems) -> PopInput {
        let mut input = PopInput {
            requester_id: read_id(body, "requester_id", problems),
            requester_phone: read_text(body, "requester_phone", problems),
            requester_email: read_email(body, "requester_email", problems),
            responder_id: read_id(body, "responder_id", problems),
            responder_phone: read_text(body, "responder_phone", problems),
            responder_email: read_email(body, "responder_email", problems),
            ticket_id: read_id(body, "ticket_id", problems),
            call_url: read_text(body, "call_url", problems),
            ..Default::default()
        };
        match read_text(body, "call_reference_id", problems) {
            Some(reference) => input.call_reference_id = reference,
            None if body.get("call_reference_id").is_none_or(|v| v.is_null() || v.is_string()) => {
                problems.missing("call_reference_id", "It should be a/an String")
            }
            None => {}
        }
        input.new_ticket = match body.get("new_ticket") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if matches!(s.trim(), "true" | "1") => true,
            Some(Value::String(s)) if matches!(s.trim(), "false" | "0" | "") => false,
            Some(Value::Number(n)) if n.as_i64() == Some(1) => true,
            Some(Value::Number(n)) if n.as_i64() == Some(0) => false,
            Some(_) => {
                problems.mismatch("new_ticket", "It should be a/an Boolean");
                false
            }
        };
        match body.get("call_info") {
            None | Some(Value::Null) => {}
            Some(Value::Object(info)) => input.call_info = info.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => problems.mismatch("call_info", "It should be a/an key/value pair"),
        }
        if input.requester_id.is_none()
            && input.requester_phone.is_none()
            && input.requester_email.is_none()
            && !["requester_id", "requester_email"].iter().any(|k| body.get(*k).is_some_and(|v| !v.is_null()))
        {
            problems.missing(
                "requester_id",
                "Please fill at least 1 of requester_id, requester_phone, requester_email fields",
            );
        }
        if input.responder_id.is_none()
            && input.responder_phone.is_none()
            && input.responder_email.is_none()
            && !["responder_id", "responder_email"].iter().any(|k| body.get(*k).is_some_and(|v| !v.is_null()))
        {
            problems.missing(
                "responder_id",
                "Please fill at least 1 of responder_id, responder_phone, responder_email fields",
            );
        }
        input
    }
}

/// Who the requester is, as far as can be told without writing.
enum Requester {
    Found(Box<User>),
    /// Nobody has the number: a new user named by it.
    NewByPhone(String),
    /// Nobody has the e-mail address: a new user with it.
    NewByEmail(Email),
}

/// The first user whose phone fields hold `number`: a match on a "Phone" field before one on a
/// "Mobile" field before one on any other phone field; within each, the order caller
/// identification gives everywhere else (newest user first). Numbers only found in text a
/// customer wrote do not count.
async fn find_by_phone(store: &Store, number: &str, staff: bool) -> Result<Option<User>, FreshdeskError> {
    let CallerNumber::Number(key) = store.phones().normalize(number) else { return Ok(None) };
    let mut matches: Vec<User> = store
        .identify_caller(number)
        .await?
        .into_iter()
        .filter(|m| m.level == CallerLevel::Known && (!staff || m.user.role.is_staff()))
        .map(|m| m.user)
        .collect();
    let rank = |user: &User| {
        let kinds: Vec<PhoneKind> =
            user.phones.iter().filter(|p| p.key.as_ref() == Some(&key)).map(|p| p.kind).collect();
        if kinds.contains(&PhoneKind::Phone) {
            0
        } else if kinds.contains(&PhoneKind::Mobile) {
            1
        } else {
            2
        }
    };
    matches.sort_by_key(rank);
    Ok(matches.into_iter().next())
}

async fn resolve_requester(
    state: &AppState,
    input: &PopInput,
    problems: &mut Problems,
) -> Result<Option<Requester>, FreshdeskError> {
    let store = &state.store;
    if let Some(id) = input.requester_id {
        return match store.get_user(id).await {
            Ok(user) if user.active => Ok(Some(Requester::Found(Box::new(user)))),
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                problems.invalid("requester_id", "There is no contact matching the given requester_id");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        };
    }
    if let Some(phone) = &input.requester_phone {
        // A withheld number or a word would make a new, unfindable user on every call.
        if !matches!(store.phones().normalize(phone), CallerNumber::Number(_)) {
            problems.invalid("requester_phone", "It should be a phone number");
            return Ok(None);
        }
        return Ok(Some(match find_by_phone(store, phone, false).await? {
            Some(user) => Requester::Found(Box::new(user)),
            None => Requester::NewByPhone(phone.clone()),
        }));
    }
    if let Some(email) = &input.requester_email {
        return Ok(Some(match store.find_user_by_email(email.as_str()).await?.filter(|u| u.active) {
            Some(user) => Requester::Found(Box::new(user)),
            None => Requester::NewByEmail(email.clone()),
        }));
    }
    Ok(None)
}

/// The agent the call is for: by id, else phone, else e-mail. No active agent → a problem.
async fn resolve_responder(
    state: &AppState,
    input: &PopInput,
    problems: &mut Problems,
) -> Result<Option<User>, FreshdeskError> {
    let store = &state.store;
    let is_agent = |u: &User| u.active && u.role.is_staff();
    let (field, found) = if let Some(id) = input.responder_id {
        let found = match store.get_user(id).await {
            Ok(user) => Some(user),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        ("responder_id", found)
    } else if let Some(phone) = &input.responder_phone {
        ("responder_phone", find_by_phone(store, phone, true).await?)
    } else if let Some(email) = &input.responder_email {
        ("responder_email", store.find_user_by_email(email.as_str()).await?)
    } else {
        return Ok(None);
    };
    match found.filter(is_agent) {
        Some(agent) => Ok(Some(agent)),
        None => {
            problems.invalid(field, format!("There is no agent matching the given {field}"));
            Ok(None)
        }
    }
}

/// Online: the agent has the console open (a console page holding its live stream) and has not
/// set themselves away or do-not-disturb. See decision 0007.
pub(crate) async fn is_online(store: &Store, agent: Id) -> Result<bool, FreshdeskError> {
    let presence = store.list_presence().await?.into_iter().find(|(id, _)| *id == agent).map(|(_, p)| p);
    if !matches!(presence, None | Some(Presence::Available)) {
        return Ok(false);
    }
    Ok(crate::cluster::has_open_console(store, agent).await?)
}

/// What a pop (or the console's widget) ties the call to.
pub(super) enum Target {
    /// A new ticket; the widget may name its subject.
    NewTicket(Option<String>),
    Existing(Id),
}

pub(crate) async fn pop(
    State(state): State<AppState>,
    FreshdeskAgent(_integration): FreshdeskAgent,
    body: Body,
) -> Result<Response, FreshdeskError> {
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let input = PopInput::read(&body, &mut problems);
    let requester = resolve_requester(&state, &input, &mut problems).await?;
    let responder = resolve_responder(&state, &input, &mut problems).await?;
    if let Some(id) = input.ticket_id {
        match state.store.get_ticket(id).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => {
                problems.invalid("ticket_id", "There is no ticket matching the given ticket_id")
            }
            Err(e) => return Err(e.into()),
        }
    }
    problems.into_result()?;
    let (Some(requester), Some(responder)) = (requester, responder) else {
        // Both are present whenever no problem was recorded.
        return Err(FreshdeskError::from(crate::error::ApiError::internal("pop without requester or responder")));
    };

    let store = &state.store;
    let requester = match requester {
        Requester::Found(user) => *user,
        Requester::NewByPhone(number) => {
            let mut new = NewUser::new(Role::EndUser, number.clone());
            new.phones = vec![(PhoneKind::Phone, number)];
            store.create_user(new).await?
        }
        Requester::NewByEmail(email) => {
            let mut new = NewUser::new(Role::EndUser, email.as_str());
            new.email = Some(email);
            store.create_user(new).await?
        }
    };

    let now = now_millis();
    let event =
        NewCallEvent { source: SOURCE.into(), kind: "pop".into(), payload: Value::Object(body), occurred_at: now };
    let existing = store.find_call_by_ref(SOURCE, &input.call_reference_id).await?;
    if existing.is_none() {
        dispose_previous_calls(&state, &responder, &input.call_reference_id).await?;
    }
    let (call, earlier_recording) = match existing {
        Some(call) => {
            let data = call_data(Some(&call.data), &input, &requester, &responder, now);
            (store.update_call(call.id, &data, Some(&event)).await?, call.data.recording_url)
        }
        None => {
            let data = call_data(None, &input, &requester, &responder, now);
            let refs = [ExternalRef::new(SOURCE, &input.call_reference_id)];
            match store.create_call(&data, &refs, Some(&event)).await {
                Ok(call) => (call, None),
                // Another pop for the same reference was first: this one updates its call.
                Err(StoreError::Conflict { .. }) => {
                    let call = store
                        .find_call_by_ref(SOURCE, &input.call_reference_id)
                        .await?
                        .ok_or_else(|| FreshdeskError::from(StoreError::not_found("call")))?;
                    let data = call_data(Some(&call.data), &input, &requester, &responder, now);
                    (store.update_call(call.id, &data, Some(&event)).await?, call.data.recording_url)
                }
                Err(e) => return Err(e.into()),
            }
        }
    };

    let parts = NoteParts::of_pop(&input);
    let online = is_online(store, responder.id).await?;
    let config = load_config(store).await?;
    let tied = call.data.ticket_id.is_some();
    let linked = input.ticket_id.or_else(|| linked_ticket(&call.data));
    let target = if input.new_ticket {
        Some(Target::NewTicket(None))
    } else if tied {
        None
    } else if !online {
        Some(linked.map_or(Target::NewTicket(None), Target::Existing))
    } else if config.new_ticket {
        Some(Target::NewTicket(None))
    } else if input.call_url.is_some() {
        Some(linked.map_or(Target::NewTicket(None), Target::Existing))
    } else {
        None
    };

    let call = match target {
        Some(target) => associate(&state, call, target, &requester, &responder, &parts).await?,
        None => {
            // A recording that arrives for a call already tied is added to its ticket.
            if let (Some(ticket_id), Some(url)) = (call.data.ticket_id, &input.call_url)
                && earlier_recording.as_deref() != Some(url.as_str())
            {
                add_note(store, &call, ticket_id, &responder, &parts).await?;
            }
            call
        }
    };

    screen_pop(&state, &call, requester.id, responder.id, &input.call_reference_id, input.ticket_id).await?;
    state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": call.id})).await?;
    Ok(json_response(StatusCode::CREATED, &render_pop(&call, &input)))
}

/// The call as this pop leaves it: a new one (the time entry starts now), or `earlier` with the
/// pop's requester, responder, ticket link, recording and call info.
fn call_data(
    earlier: Option<&CallData>,
    input: &PopInput,
    requester: &User,
    responder: &User,
    now: Millis,
) -> CallData {
    let mut data = match earlier {
        Some(data) => data.clone(),
        None => {
            let mut data = CallData::new(
                Direction::Inbound,
                input.requester_phone.clone().unwrap_or_default(),
                input.responder_phone.clone().unwrap_or_default(),
                now,
            );
            data.details.insert(TIMER_STARTED.into(), json!(now));
            data
        }
    };
    // A later pop may bring the numbers the first one lacked.
    if let Some(phone) = input.requester_phone.as_ref().filter(|_| data.from_line.is_empty()) {
        data.from_line = phone.clone();
    }
    if let Some(phone) = input.responder_phone.as_ref().filter(|_| data.to_line.is_empty()) {
        data.to_line = phone.clone();
    }
    data.agent_id = Some(responder.id);
    data.to_name = Some(responder.name.clone());
    data.end_user_id = Some(requester.id);
    data.organization_id = requester.organization_id;
    if let Some(id) = input.ticket_id {
        data.details.insert(LINKED_TICKET.into(), json!(id));
    }
    if !input.call_info.is_empty() {
        let info: Map<String, Value> = input.call_info.iter().cloned().collect();
        data.details.insert(CALL_INFO.into(), Value::Object(info));
    }
    if input.call_url.is_some() {
        data.recording_url = input.call_url.clone();
    }
    data
}

/// "API invoked before call dispose": a new call for an agent whose previous call is still
/// open in the widget (not tied to a ticket) tickets that call first, with everything its pops
/// brought, assigned to the agent. The console replaces the widget with the new pop.
async fn dispose_previous_calls(state: &AppState, agent: &User, reference: &str) -> Result<(), FreshdeskError> {
    let store = &state.store;
    for call in store.untied_calls_of_agent(SOURCE, agent.id, 20).await? {
        // A simultaneous first pop of this same call is not a previous call.
        if call.external_refs.iter().any(|r| r.source == SOURCE && r.external_id == reference) {
            continue;
        }
        let Some(requester_id) = call.data.end_user_id else { continue };
        let requester = match store.get_user(requester_id).await {
            Ok(user) => user,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let parts = NoteParts::of_call(&call);
        let call = associate(state, call, Target::NewTicket(None), &requester, agent, &parts).await?;
        state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": call.id})).await?;
    }
    Ok(())
}

pub(super) fn linked_ticket(data: &CallData) -> Option<Id> {
    data.details.get(LINKED_TICKET).and_then(Value::as_i64)
}

/// What the note about a call says: from this pop, or from what earlier pops stored.
pub(super) struct NoteParts {
    reference: String,
    call_url: Option<String>,
    call_info: Vec<(String, Value)>,
}

impl NoteParts {
    fn of_pop(input: &PopInput) -> NoteParts {
        NoteParts {
            reference: input.call_reference_id.clone(),
            call_url: input.call_url.clone(),
            call_info: input.call_info.clone(),
        }
    }

    pub(super) fn of_call(call: &Call) -> NoteParts {
        let reference = call.external_refs.iter().find(|r| r.source == SOURCE).map(|r| r.external_id.clone());
        let call_info = match call.data.details.get(CALL_INFO) {
            Some(Value::Object(info)) => info.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        NoteParts { reference: reference.unwrap_or_default(), call_url: call.data.recording_url.clone(), call_info }
    }
}

/// The private note a call leaves: the recording (as a voice part, which the console shows
/// with an audio player), the reference, and the `call_info` pairs.
fn note(call: &Call, responder: &User, input: &NoteParts) -> (String, Option<VoicePart>) {
    let mut lines = Vec::new();
    if let Some(url) = &input.call_url {
        lines.push(format!("Call recording: {url}"));
    }
    lines.push(format!("Call reference: {}", input.reference));
    for (key, value) in &input.call_info {
        let shown = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
        lines.push(format!("{key}: {shown}"));
    }
    let voice = (input.call_url.is_some() || !input.call_info.is_empty()).then(|| VoicePart {
        from: Some(call.data.from_line.clone()).filter(|s| !s.is_empty()),
        to: Some(call.data.to_line.clone()).filter(|s| !s.is_empty()),
        recording_url: input.call_url.clone(),
        started_at: Some(call.data.started_at),
        answered_by_id: Some(responder.id),
        call_id: Some(call.id),
        call_fields: input.call_info.clone(),
        ..Default::default()
    });
    (lines.join("\n"), voice)
}

async fn add_note(
    store: &Store,
    call: &Call,
    ticket_id: Id,
    responder: &User,
    input: &NoteParts,
) -> Result<Id, FreshdeskError> {
    let (body, voice) = note(call, responder, input);
    let comment =
        store.add_comment(NewComment { ticket_id, author_id: responder.id, body, public: false, voice }).await?;
    Ok(comment.id)
}

/// Tie the call to a new ticket or, as a private note, to an existing one; the time entry stops.
/// The agent's notepad, if any, follows as a private note of its own.
pub(super) async fn associate(
    state: &AppState,
    call: Call,
    target: Target,
    requester: &User,
    responder: &User,
    input: &NoteParts,
) -> Result<Call, FreshdeskError> {
    let store = &state.store;
    let mut data = call.data.clone();
    match target {
        Target::Existing(ticket_id) => {
            let note_id = add_note(store, &call, ticket_id, responder, input).await?;
            data.ticket_id = Some(ticket_id);
            data.details.insert(NOTE_ID.into(), json!(note_id));
        }
        Target::NewTicket(subject) => {
            let (body, voice) = note(&call, responder, input);
            let caller =
                if call.data.from_line.is_empty() { requester.name.clone() } else { call.data.from_line.clone() };
            let mut new_ticket = NewTicket {
                subject: subject.unwrap_or_else(|| format!("Call from {caller}")),
                description: body.clone(),
                requester_id: requester.id,
                submitter_id: Some(responder.id),
                assignee_id: Some(responder.id),
                organization_id: requester.organization_id,
                via: Via {
                    channel: Channel::PhoneInbound,
                    source: json!({
                        "from": {"phone": call.data.from_line},
                        "to": {"phone": call.data.to_line},
                        "rel": "inbound",
                    }),
                },
                first_comment: Some(NewComment { ticket_id: 0, author_id: responder.id, body, public: false, voice }),
                ..Default::default()
            };
            routing::apply(store, &mut data, &mut new_ticket).await?;
            let ticket = store.create_ticket(new_ticket).await?;
            data.ticket_id = Some(ticket.id);
            data.details.remove(NOTE_ID);
        }
    }
    if let Some(Value::String(notes)) = data.details.remove(NOTEPAD)
        && let Some(ticket_id) = data.ticket_id
        && !notes.trim().is_empty()
    {
        let body = notes.trim().to_owned();
        store.add_comment(NewComment { ticket_id, author_id: responder.id, body, public: false, voice: None }).await?;
    }
    data.details.insert(TIMER_STOPPED.into(), json!(now_millis()));
    Ok(store.update_call(call.id, &data, None).await?)
}

/// Open the pop in the responder's console: the call's ticket once it has one, else the ticket
/// the request names, else the requester.
pub(super) async fn screen_pop(
    state: &AppState,
    call: &Call,
    requester: Id,
    responder: Id,
    reference: &str,
    named_ticket: Option<Id>,
) -> Result<(), FreshdeskError> {
    let ticket = call.data.ticket_id.or(named_ticket).or_else(|| linked_ticket(&call.data));
    let mut payload = json!({
        "call_id": call.id,
        "source": SOURCE,
        "call_reference_id": reference,
        "user_id": requester,
        "can_link": call.data.ticket_id.is_none(),
    });
    match ticket {
        Some(ticket_id) => {
            payload["screen"] = json!("ticket");
            payload["ticket_id"] = json!(ticket_id);
            payload["url"] = json!(format!("/console/tickets/{ticket_id}"));
        }
        None => {
            payload["screen"] = json!("user_profile");
            payload["url"] = json!(format!("/console/users/{requester}"));
        }
    }
    state.hub.publish(kinds::SCREEN_POP, Some(&[responder]), payload).await?;
    Ok(())
}

fn detail_id(data: &CallData, key: &str) -> Option<Id> {
    data.details.get(key).and_then(Value::as_i64)
}

fn render_pop(call: &Call, input: &PopInput) -> Value {
    json!({
        "id": call.id,
        "call_reference_id": input.call_reference_id,
        "requester_id": call.data.end_user_id,
        "responder_id": call.data.agent_id,
        "ticket_id": call.data.ticket_id,
        "note_id": detail_id(&call.data, NOTE_ID),
        "new_ticket": input.new_ticket,
        "call_url": call.data.recording_url,
        "created_at": format_millis(call.created_at),
        "updated_at": format_millis(call.updated_at),
    })
}

/// The time entry: from the first pop until the call was tied to a ticket (running until then).
fn time_entry(data: &CallData) -> Value {
    let started: Option<Millis> = detail_id(data, TIMER_STARTED);
    let stopped: Option<Millis> = detail_id(data, TIMER_STOPPED);
    let spent = match (started, stopped) {
        (Some(start), Some(stop)) => {
            let minutes = (stop - start).max(0) / 60_000;
            Some(format!("{:02}:{:02}", minutes / 60, minutes % 60))
        }
        _ => None,
    };
    json!({
        "start_time": started.map(format_millis),
        "end_time": stopped.map(format_millis),
        "timer_running": started.is_some() && stopped.is_none(),
        "time_spent": spent,
        "time_spent_in_seconds": started.zip(stopped).map(|(a, b)| (b - a).max(0) / 1000),
    })
}

pub(crate) async fn details(
    State(state): State<AppState>,
    FreshdeskAgent(_): FreshdeskAgent,
    RawQuery(query): RawQuery,
) -> Result<Response, FreshdeskError> {
    // Unknown parameters and junk are ignored, as Freshdesk does.
    let pairs: Vec<(String, String)> = serde_html_form::from_str(&query.unwrap_or_default()).unwrap_or_default();
    let reference = pairs
        .into_iter()
        .find(|(k, _)| k == "call_reference_id")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let Some(reference) = reference else {
        return Err(FreshdeskError::field("call_reference_id", "missing_field", "It should be a/an String"));
    };
    let call = state.store.find_call_by_ref(SOURCE, &reference).await?.ok_or_else(FreshdeskError::not_found)?;
    let data = &call.data;
    // The article's sample answers a one-element array.
    let answer = json!([{
        "call_reference_id": reference,
        "requester_id": data.end_user_id,
        "responder_id": data.agent_id,
        "ticket_id": data.ticket_id,
        "note_id": detail_id(data, NOTE_ID),
        "call_url": data.recording_url,
        "time_entry": time_entry(data),
        "created_at": format_millis(call.created_at),
        "updated_at": format_millis(call.updated_at),
    }]);
    Ok(json_response(StatusCode::OK, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: Value) -> (PopInput, Problems) {
        let mut problems = Problems::default();
        let input = PopInput::read(body.as_object().unwrap(), &mut problems);
        (input, problems)
    }

    #[test]
    fn the_articles_sample_reads_with_string_ids_and_booleans() {
        let (input, problems) = read(json!({
            "requester_id": "5014967434",
            "responder_email": "saul@freshdesk.com",
            "call_reference_id": 226356,
            "new_ticket": "true",
            "call_info": {"Organisation": "XYZ", "Reason": "Priority issue raised.."},
        }));
        assert!(problems.into_result().is_ok());
        assert_eq!(input.requester_id, Some(5_014_967_434));
        assert_eq!(input.call_reference_id, "226356");
        assert!(input.new_ticket);
        assert_eq!(input.call_info.len(), 2);
    }

    #[test]
    fn bad_types_and_missing_fields_are_each_named() {
        let (_, problems) = read(json!({"requester_id": "abc", "new_ticket": "maybe", "call_info": [1]}));
        let body = FreshdeskError::validation(problems).body().clone();
        let fields: Vec<(&str, &str)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
            .collect();
        assert_eq!(
            fields,
            [
                ("requester_id", "datatype_mismatch"),
                ("call_reference_id", "missing_field"),
                ("new_ticket", "datatype_mismatch"),
                ("call_info", "datatype_mismatch"),
                ("responder_id", "missing_field"),
            ]
        );
    }

    #[test]
    fn the_time_entry_runs_until_the_call_is_tied() {
        let mut data = CallData::new(Direction::Inbound, "1", "2", 0);
        data.details.insert(TIMER_STARTED.into(), json!(1_000));
        assert_eq!(time_entry(&data)["timer_running"], true);
        data.details.insert(TIMER_STOPPED.into(), json!(1_000 + 3_723_000));
        let entry = time_entry(&data);
        assert_eq!(entry["timer_running"], false);
        assert_eq!(entry["time_spent"], "01:02");
        assert_eq!(entry["time_spent_in_seconds"], 3_723);
    }
}
