//! The Talk Partner Edition voice channel: `POST /api/v2/channels/voice/tickets` (tickets from
//! calls and voicemails, optionally shown to an agent) and the two display endpoints that open a
//! ticket or a user's profile in an agent's console.
//!
//! "Delivered to an agent's browser" means the agent has a console open: a signed-in console
//! whose live stream was seen within the last minute or so (it says so every 30 s). An agent
//! without one gets `409 AgentOffline` from the display endpoints, and nothing is queued for
//! later; a pop that reaches a console whose stream is reconnecting is replayed to it
//! (decision 0009).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::ticket::Channel;
use ctihub_domain::user::User;
use ctihub_store::StoreError;
use serde_json::{Map, Value, json};

use super::error::{Problems, ZendeskError};
use super::ticket_input::TicketInput;
use super::tickets::{create_ticket, ticket_fields_of};
use super::{ZendeskAgent, envelope, json_object, json_response, path_id};
use crate::AppState;
use crate::hub::kinds;

type Body = Result<Bytes, BytesRejection>;

/// `display_to_agent`: an agent's id, or nothing (`null`, `""` as zenpy sends for no agent).
async fn display_agent(
    state: &AppState,
    body: &Map<String, Value>,
    problems: &mut Problems,
) -> Result<Option<Id>, ZendeskError> {
    let id = match body.get("display_to_agent") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(value) => value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok())),
    };
    let Some(id) = id.filter(|id| *id > 0) else {
        problems.invalid("display_to_agent", format!("{} is not an agent id", body["display_to_agent"]));
        return Ok(None);
    };
    if agent(state, id).await?.is_none() {
        problems.invalid("display_to_agent", format!("{id} is not an agent"));
        return Ok(None);
    }
    Ok(Some(id))
}

/// The active agent or admin with this id.
async fn agent(state: &AppState, id: Id) -> Result<Option<User>, ZendeskError> {
    match state.store.get_user(id).await {
        Ok(user) if user.role.is_staff() && user.active => Ok(Some(user)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The channel a `via_id` names; the voice channel takes only its own three.
fn voice_channel(ticket: &Map<String, Value>, problems: &mut Problems) -> Channel {
    let via_id =
        ticket.get("via_id").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
    match via_id.map(Channel::from_via_id) {
        Some(Ok(channel @ (Channel::Voicemail | Channel::PhoneInbound | Channel::PhoneOutbound))) => channel,
        None if ticket.get("via_id").is_none_or(Value::is_null) => {
            problems.blank("via_id");
            Channel::PhoneInbound
        }
        _ => {
            problems.invalid("via_id", "must be 44 (voicemail), 45 (inbound call) or 46 (outbound call)");
            Channel::PhoneInbound
        }
    }
}

/// Open `screen` in the agent's console. The pop is stored and replayed like every hub event.
async fn pop(state: &AppState, agent: Id, payload: Value) -> Result<(), ZendeskError> {
    state.hub.publish(kinds::SCREEN_POP, Some(&[agent]), payload).await?;
    Ok(())
}

fn ticket_pop(ticket_id: Id) -> Value {
    json!({"call_id": null, "screen": "ticket", "ticket_id": ticket_id, "url": format!("/console/tickets/{ticket_id}")})
}

pub(crate) async fn create_voice_ticket(
    State(state): State<AppState>,
    ZendeskAgent(acting): ZendeskAgent,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let display_to = display_agent(&state, &body, &mut problems).await?;
    let object = envelope(&body, "ticket", &mut problems);
    let channel = voice_channel(&object, &mut problems);
    let fields = ticket_fields_of(&state).await?;
    let input = TicketInput::read(&object, &fields, &mut problems);
    if channel == Channel::Voicemail && input.voice_comment.is_none() {
        problems.add("voice_comment", "BlankValue", "is required for a voicemail ticket (via_id 44)");
    }
    if !object.contains_key("comment")
        && !object.contains_key("description")
        && input.voice_comment.is_none()
        && channel != Channel::Voicemail
    {
        problems.add("description", "BlankValue", "cannot be blank");
    }
    input.check(&state, &mut problems).await?;
    problems.into_result()?;

    let (ticket, response) = create_ticket(&state, &acting, input, channel, &headers, &fields).await?;
    if let Some(agent) = display_to {
        pop(&state, agent, ticket_pop(ticket.id)).await?;
    }
    Ok(response)
}

/// Deliver a pop to an agent with an open console, else say there is none.
async fn display(state: &AppState, agent: Id, payload: Value) -> Result<Response, ZendeskError> {
    if !crate::cluster::has_open_console(&state.store, agent).await? {
        return Err(ZendeskError::new(
            StatusCode::CONFLICT,
            "AgentOffline",
            format!("Agent {agent} has no console open; nothing was displayed"),
        ));
    }
    pop(state, agent, payload).await?;
    Ok(json_response(StatusCode::OK, &json!({})))
}

pub(crate) async fn display_ticket(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path((agent_id, ticket_id)): Path<(String, String)>,
) -> Result<Response, ZendeskError> {
    let agent_id = path_id(&agent_id)?;
    let ticket_id = path_id(&ticket_id)?;
    if agent(&state, agent_id).await?.is_none() {
        return Err(ZendeskError::not_found());
    }
    state.store.get_ticket(ticket_id).await?;
    display(&state, agent_id, ticket_pop(ticket_id)).await
}

pub(crate) async fn display_user(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path((agent_id, user_id)): Path<(String, String)>,
) -> Result<Response, ZendeskError> {
    let agent_id = path_id(&agent_id)?;
    let user_id = path_id(&user_id)?;
    if agent(&state, agent_id).await?.is_none() {
        return Err(ZendeskError::not_found());
    }
    state.store.get_user(user_id).await?;
    let payload = json!({
        "call_id": null,
        "screen": "user_profile",
        "user_id": user_id,
        "url": format!("/console/users/{user_id}"),
    });
    display(&state, agent_id, payload).await
}
