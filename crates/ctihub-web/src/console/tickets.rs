//! Tickets in the console: the ticket page, the new-ticket form a pop prefills, and filing a
//! call (new ticket for the caller, or linking it to a ticket) with the agent's notepad.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::Id;
use ctihub_domain::call::{Call, Direction};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::{Channel, NewComment, NewTicket, Priority, TicketPatch, TicketStatus, Via, VoicePart};
use ctihub_domain::user::{NewUser, Role};
use serde::Deserialize;
use serde_json::json;

use super::pages::{CardUser, card_user};
use super::session::{Agent, ConsoleForm, Refusal};
use super::{Layout, iso, staff};
use crate::AppState;
use crate::cti::view::display_name;
use crate::freshdesk::widget;
use crate::hub::kinds;

/// A voice comment's call part, from the call as it stands. PBXs that report only talk time
/// still show a length.
fn voice_part(call: &Call) -> VoicePart {
    let of_call = VoicePart::of_call(call);
    VoicePart { duration: call.data.duration.or(call.data.talk_time), location: None, ..of_call }
}

fn call_summary(call: &Call) -> String {
    let data = &call.data;
    match data.direction {
        Direction::Outbound => format!("Call to {}", data.to_line.trim()),
        _ => format!("Call from {}", data.from_line.trim()),
    }
}

/// The call as a private voice comment: the customer is not written to about their own call.
fn voice_comment(agent: &Agent, call: &Call, ticket_id: Id, body: String) -> NewComment {
    NewComment { ticket_id, author_id: agent.user.id, body, public: false, voice: Some(voice_part(call)) }
}

/// Add the notepad as a private note and link the call to the ticket; with `voice`, also record
/// the call as a voice comment (a new ticket from a call already starts with one).
async fn attach_call(
    state: &AppState,
    agent: &Agent,
    call: &Call,
    ticket_id: Id,
    note: &str,
    voice: bool,
) -> Result<(), Refusal> {
    let store = &state.store;
    if voice {
        store.add_comment(voice_comment(agent, call, ticket_id, call_summary(call))).await?;
    }
    add_note(state, agent, ticket_id, note).await?;
    let mut data = call.data.clone();
    data.ticket_id = Some(ticket_id);
    // As when a dialect makes the ticket: the call learns whether it came outside its line's hours.
    crate::routing::note_business_hours(store, &mut data).await?;
    store.update_call(call.id, &data, None).await?;
    state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": call.id})).await?;
    Ok(())
}

async fn add_note(state: &AppState, agent: &Agent, ticket_id: Id, note: &str) -> Result<(), Refusal> {
    if note.trim().is_empty() {
        return Ok(());
    }
    let comment =
        NewComment { ticket_id, author_id: agent.user.id, body: note.trim().to_owned(), public: false, voice: None };
    state.store.add_comment(comment).await?;
    Ok(())
}

/// A new ticket by `agent` for `requester`, assigned to the agent; from a call, it comes in
/// through the phone channel.
async fn open_ticket(
    state: &AppState,
    agent: &Agent,
    requester: Id,
    subject: &str,
    description: &str,
    priority: Option<Priority>,
    call: Option<&Call>,
) -> Result<Id, Refusal> {
    let via = match call {
        Some(c) => Via {
            channel: if c.data.direction == Direction::Outbound {
                Channel::PhoneOutbound
            } else {
                Channel::PhoneInbound
            },
            source: json!({"from": c.data.from_line, "to": c.data.to_line}),
        },
        None => Via { channel: Channel::Web, source: serde_json::Value::Null },
    };
    let subject = subject.trim();
    let description = match description.trim() {
        "" => call.map(call_summary).unwrap_or_else(|| subject.to_owned()),
        d => d.to_owned(),
    };
    let mut new = NewTicket {
        subject: subject.to_owned(),
        description: description.clone(),
        priority,
        requester_id: requester,
        submitter_id: Some(agent.user.id),
        assignee_id: Some(agent.user.id),
        via,
        first_comment: Some(match call {
            Some(call) => voice_comment(agent, call, 0, description),
            None => NewComment { ticket_id: 0, author_id: agent.user.id, body: description, public: true, voice: None },
        }),
        ..Default::default()
    };
    if let Some(call) = call {
        // The routing rules fill what the agent left open; `attach_call` then records the
        // line's business hours on the call itself.
        crate::routing::apply(&state.store, &mut call.data.clone(), &mut new).await?;
    }
    Ok(state.store.create_ticket(new).await?.id)
}

/// The requester a form names: a user id, or `new` for an unknown caller, who becomes an
/// end-user known by their number.
async fn requester(state: &AppState, chosen: &str, call: Option<&Call>) -> Result<Id, Refusal> {
    match (chosen.trim(), call) {
        ("" | "new", Some(call)) => {
            let number = call.data.customer_line().trim().to_owned();
            if number.is_empty() {
                return Err(Refusal::BadForm("the caller's number is unknown; pick a customer".into()));
            }
            let mut new = NewUser::new(Role::EndUser, state.store.phones().pretty(&number));
            new.phones = vec![(PhoneKind::Phone, number)];
            Ok(state.store.create_user(new).await?.id)
        }
        ("", None) => Err(Refusal::BadForm("pick a customer".into())),
        (id, _) => {
            let id: Id = id.parse().map_err(|_| Refusal::BadForm(format!("`{id}` is not a user id")))?;
            Ok(state.store.get_user(id).await?.id)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct FileForm {
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    subject: String,
    /// A ticket picked from the card's list, or typed in.
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    ticket_number: String,
}

/// The caller card's buttons: "New ticket for caller" and "Link call to ticket".
pub(crate) async fn file_call(
    State(state): State<AppState>,
    Path(call_id): Path<Id>,
    ConsoleForm(agent, form): ConsoleForm<FileForm>,
) -> Result<Response, Refusal> {
    let call = state.store.get_call(call_id).await?;
    if widget::reference(&call).is_some() {
        return file_freshdesk_call(&state, &agent, call, form).await;
    }
    let ticket_id = match form.action.as_str() {
        "create" => {
            let requester = requester(&state, &form.customer, Some(&call)).await?;
            let subject = match form.subject.trim() {
                "" => call_summary(&call),
                s => s.to_owned(),
            };
            let id = open_ticket(&state, &agent, requester, &subject, "", None, Some(&call)).await?;
            attach_call(&state, &agent, &call, id, &form.note, false).await?;
            id
        }
        "link" => {
            let id = chosen_ticket(&form)?;
            state.store.get_ticket(id).await?;
            attach_call(&state, &agent, &call, id, &form.note, true).await?;
            id
        }
        other => return Err(Refusal::BadForm(format!("unknown action `{other}`"))),
    };
    Ok(Redirect::to(&format!("/console/tickets/{ticket_id}")).into_response())
}

/// The ticket typed in, else the one picked from the card's list.
fn chosen_ticket(form: &FileForm) -> Result<Id, Refusal> {
    let chosen = [form.ticket_number.trim(), form.ticket.trim()].into_iter().find(|t| !t.is_empty());
    let Some(chosen) = chosen else {
        return Err(Refusal::BadForm("pick a ticket to link the call to".into()));
    };
    chosen.trim_start_matches('#').parse().map_err(|_| Refusal::BadForm(format!("`{chosen}` is not a ticket number")))
}

/// A Freshdesk call is tied the way its pops tie calls (the details API then reports it, the
/// time entry stops, the note carries the reference, recording and call info).
async fn file_freshdesk_call(state: &AppState, agent: &Agent, call: Call, form: FileForm) -> Result<Response, Refusal> {
    // The pop named the requester; the agent may pick another of the caller's matches.
    let requester = match (form.customer.trim(), call.data.end_user_id) {
        ("", Some(id)) => id,
        _ => requester(state, &form.customer, Some(&call)).await?,
    };
    let requester = state.store.get_user(requester).await?;
    let target = match form.action.as_str() {
        "create" => widget::Tie::New { subject: Some(form.subject.clone()) },
        "link" => widget::Tie::Existing(chosen_ticket(&form)?),
        other => return Err(Refusal::BadForm(format!("unknown action `{other}`"))),
    };
    let call = widget::tie(state, call, target, &requester, &agent.user, &form.note).await?;
    let ticket_id = call.data.ticket_id.ok_or_else(|| Refusal::Internal("a tied call without a ticket".into()))?;
    Ok(Redirect::to(&format!("/console/tickets/{ticket_id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewParams {
    call_id: Option<Id>,
    customer_id: Option<Id>,
    title: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/ticket_new.html")]
pub(crate) struct NewTicketPage {
    layout: Layout,
    call_id: Option<Id>,
    call_title: String,
    subject: String,
    /// Each possible customer and whether it is preselected.
    customers: Vec<(CardUser, bool)>,
}

/// The new-ticket form; from a pop (`?call_id=`) it is prefilled with the caller and a title.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    agent: Agent,
    Query(params): Query<NewParams>,
) -> Result<NewTicketPage, Refusal> {
    let layout = Layout::new(&state, &agent, "New ticket", "").await?;
    let mut customers = Vec::new();
    let mut call_title = String::new();
    let mut customer_id = params.customer_id;
    if let Some(call_id) = params.call_id {
        let call = state.store.get_call(call_id).await?;
        call_title = call_summary(&call);
        for m in state.store.identify_caller(call.data.customer_line()).await? {
            customers.push(card_user(&state, &m.user, m.level == ctihub_domain::phone::CallerLevel::Maybe).await?);
        }
        customer_id = customer_id.or(call.data.end_user_id);
    }
    if let Some(id) = customer_id
        && !customers.iter().any(|c| c.id == id)
    {
        let user = state.store.get_user(id).await?;
        customers.insert(0, card_user(&state, &user, false).await?);
    }
    let subject = params.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| call_title.clone());
    let chosen = customer_id.or(customers.first().map(|c| c.id));
    let customers = customers.into_iter().map(|c| (Some(c.id) == chosen, c)).map(|(on, c)| (c, on)).collect();
    Ok(NewTicketPage { layout, call_id: params.call_id, call_title, subject, customers })
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    call_id: Option<Id>,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    ConsoleForm(agent, form): ConsoleForm<CreateForm>,
) -> Result<Response, Refusal> {
    let call = match form.call_id {
        Some(id) => Some(state.store.get_call(id).await?),
        None => None,
    };
    let requester = requester(&state, &form.customer, call.as_ref()).await?;
    let priority = match form.priority.trim() {
        "" => None,
        p => Some(Priority::parse(p).map_err(|e| Refusal::BadForm(e.message))?),
    };
    let id = open_ticket(&state, &agent, requester, &form.subject, &form.description, priority, call.as_ref()).await?;
    match &call {
        Some(call) => attach_call(&state, &agent, call, id, &form.note, false).await?,
        None => add_note(&state, &agent, id, &form.note).await?,
    }
    Ok(Redirect::to(&format!("/console/tickets/{id}")).into_response())
}

pub(crate) struct VoiceView {
    pub from: String,
    pub to: String,
    pub started_at: String,
    pub duration: String,
    pub answered_by: String,
    pub location: String,
    pub call_id: Option<Id>,
    pub fields: Vec<(String, String)>,
    pub recording: String,
    /// Only mp3 and wav get a player; other formats get a link.
    pub playable: bool,
    pub transcript: String,
}

pub(crate) struct CommentView {
    pub id: Id,
    pub author: String,
    pub public: bool,
    pub body: String,
    pub created_at: String,
    pub voice: Option<VoiceView>,
}

/// Only web links are shown; anything else (`javascript:`, `data:`) is dropped.
fn web_url(url: Option<&str>) -> String {
    match url.map(str::trim) {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/') => u.to_owned(),
        _ => String::new(),
    }
}

fn playable(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
    path.ends_with(".mp3") || path.ends_with(".wav")
}

fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/ticket.html")]
pub(crate) struct TicketPage {
    layout: Layout,
    id: Id,
    subject: String,
    status: &'static str,
    priority: &'static str,
    ticket_type: &'static str,
    channel: &'static str,
    requester: (Id, String),
    /// The requester's numbers, as click-to-dial links.
    requester_phones: Vec<String>,
    organization: String,
    tags: Vec<String>,
    custom_fields: Vec<(String, String)>,
    created_at: String,
    comments: Vec<CommentView>,
    statuses: Vec<(&'static str, bool)>,
    priorities: Vec<(&'static str, bool)>,
    staff: Vec<(Id, String, bool)>,
    groups: Vec<(Id, String, bool)>,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<Id>,
) -> Result<TicketPage, Refusal> {
    let store = &state.store;
    let ticket = store.get_ticket(id).await?;
    let layout = Layout::new(&state, &agent, format!("#{} {}", ticket.id, ticket.subject), "").await?;
    let requester = store.get_user(ticket.requester_id).await?;
    let comments = store.list_comments(id).await?;
    let mut author_ids: Vec<Id> = comments.iter().map(|c| c.author_id).collect();
    author_ids.extend(comments.iter().filter_map(|c| c.voice.as_ref().and_then(|v| v.answered_by_id)));
    author_ids.sort_unstable();
    author_ids.dedup();
    let names: std::collections::HashMap<Id, String> =
        store.get_users(&author_ids).await?.iter().map(|u| (u.id, display_name(u).to_owned())).collect();
    let name_of = |id: Id| names.get(&id).cloned().unwrap_or_else(|| format!("user {id}"));
    let phones = store.phones();
    let comments = comments
        .into_iter()
        .map(|c| {
            let voice = c.voice.as_ref().map(|v| {
                let recording = web_url(v.recording_url.as_deref());
                VoiceView {
                    from: v.from.as_deref().map(|n| phones.pretty(n)).unwrap_or_default(),
                    to: v.to.as_deref().map(|n| phones.pretty(n)).unwrap_or_default(),
                    started_at: v.started_at.map(iso).unwrap_or_default(),
                    duration: v.duration.map(|s| format!("{}:{:02}", s / 60, s % 60)).unwrap_or_default(),
                    answered_by: v.answered_by_id.map(name_of).unwrap_or_default(),
                    location: v.location.clone().unwrap_or_default(),
                    call_id: v.call_id,
                    fields: v.call_fields.iter().map(|(k, val)| (k.clone(), field_text(val))).collect(),
                    playable: playable(&recording),
                    recording,
                    transcript: v.transcript.clone().unwrap_or_default(),
                }
            });
            CommentView {
                id: c.id,
                author: name_of(c.author_id),
                public: c.public,
                body: c.body,
                created_at: iso(c.created_at),
                voice,
            }
        })
        .collect();
    let organization = match ticket.organization_id {
        Some(org) => store.get_organization(org).await.map(|o| o.name).unwrap_or_default(),
        None => String::new(),
    };
    let groups =
        store.list_groups().await?.into_iter().map(|g| (g.id, g.name, Some(g.id) == ticket.group_id)).collect();
    let staff = staff(&state).await?.into_iter().map(|(id, name)| (id, name, Some(id) == ticket.assignee_id)).collect();
    Ok(TicketPage {
        layout,
        id: ticket.id,
        subject: ticket.subject.clone(),
        status: ticket.status.as_str(),
        priority: ticket.priority.map_or("", |p| p.as_str()),
        ticket_type: ticket.ticket_type.map_or("", |t| t.as_str()),
        channel: ticket.via.channel.as_str(),
        requester: (requester.id, display_name(&requester).to_owned()),
        requester_phones: requester.phones.iter().map(|p| p.raw.clone()).collect(),
        organization,
        tags: ticket.tags.clone(),
        custom_fields: ticket.custom_fields.iter().map(|(k, v)| (k.clone(), field_text(v))).collect(),
        created_at: iso(ticket.created_at),
        comments,
        statuses: TicketStatus::ALL.iter().map(|s| (s.as_str(), *s == ticket.status)).collect(),
        priorities: Priority::ALL.iter().map(|p| (p.as_str(), Some(*p) == ticket.priority)).collect(),
        staff,
        groups,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct UpdateForm {
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    assignee_id: String,
    #[serde(default)]
    group_id: String,
}

fn optional_id(field: &str, value: &str) -> Result<Option<Id>, Refusal> {
    match value.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|_| Refusal::BadForm(format!("{field}: `{v}` is not an id"))),
    }
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<Id>,
    ConsoleForm(_agent, form): ConsoleForm<UpdateForm>,
) -> Result<Response, Refusal> {
    let bad = |e: ctihub_domain::DomainError| Refusal::BadForm(e.message);
    let patch = TicketPatch {
        status: Some(TicketStatus::parse(&form.status).map_err(bad)?),
        priority: Some(match form.priority.trim() {
            "" => None,
            p => Some(Priority::parse(p).map_err(bad)?),
        }),
        assignee_id: Some(optional_id("assignee", &form.assignee_id)?),
        group_id: Some(optional_id("group", &form.group_id)?),
        ..Default::default()
    };
    state.store.update_ticket(id, patch).await?;
    Ok(Redirect::to(&format!("/console/tickets/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommentForm {
    body: String,
    /// `public` (a reply the customer sees) or `private` (an internal note).
    visibility: String,
}

pub(crate) async fn comment(
    State(state): State<AppState>,
    Path(id): Path<Id>,
    ConsoleForm(agent, form): ConsoleForm<CommentForm>,
) -> Result<Response, Refusal> {
    let public = match form.visibility.as_str() {
        "public" => true,
        "private" => false,
        other => return Err(Refusal::BadForm(format!("`{other}` is not public or private"))),
    };
    let comment = NewComment { ticket_id: id, author_id: agent.user.id, body: form.body, public, voice: None };
    state.store.add_comment(comment).await?;
    Ok(Redirect::to(&format!("/console/tickets/{id}#comments")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_recordings_are_linked_and_only_mp3_and_wav_play() {
        assert_eq!(web_url(Some("javascript:alert(1)")), "");
        assert_eq!(web_url(Some(" https://pbx.example/r/1.MP3?sig=x ")), "https://pbx.example/r/1.MP3?sig=x");
        assert!(playable("https://pbx.example/r/1.MP3?sig=x"));
        assert!(playable("/rec/2.wav"));
        assert!(!playable("https://pbx.example/r/1.ogg"));
        assert!(!playable(""));
    }
}
