//! Zammad's caller-log API: `GET /api/v1/cti/log`, `POST /api/v1/cti/done/:id` and
//! `POST /api/v1/cti/done/bulk`, with Zammad's JSON shapes so Zammad-side scripts keep working.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use ctihub_domain::Id;
use ctihub_domain::call::{CallState, Direction};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::time::format_millis_precise;
use ctihub_domain::user::User;
use ctihub_store::{CallerMatch, Store};
use serde_json::{Value, json};

use super::ZammadError;
use crate::AppState;
use crate::auth::AuthUser;
use crate::cti::params::read_params;
use crate::cti::shared_config;
use crate::cti::view::{self, JournalEntry, visible_to};

/// An agent, as Zammad's `cti.agent` permission: anyone else gets 403, as in Zammad.
pub(crate) struct ZammadAgent(User);

impl FromRequestParts<AppState> for ZammadAgent {
    type Rejection = ZammadError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match AuthUser::from_request_parts(parts, state).await {
            Ok(AuthUser(user)) if user.role.is_staff() => Ok(ZammadAgent(user)),
            Ok(_) => Err(ZammadError::new(StatusCode::FORBIDDEN, "Not authorized (user)!")),
            Err(_) => Err(ZammadError::new(StatusCode::FORBIDDEN, "Authentication required")),
        }
    }
}

fn zammad_state(state: CallState) -> &'static str {
    match state {
        CallState::Ringing => "newCall",
        CallState::InProgress => "answer",
        CallState::Ended => "hangup",
    }
}

fn caller_ids(matches: &[CallerMatch], number: &str, store: &Store) -> Vec<Value> {
    let caller_id = store.phones().normalize(number).key().map(|k| k.as_str().trim_start_matches('+').to_owned());
    matches
        .iter()
        .map(|m| {
            json!({
                "caller_id": caller_id,
                "comment": null,
                "level": m.level.as_str(),
                "object": "User",
                "o_id": m.user.id,
                "user_id": m.user.id,
            })
        })
        .collect()
}

/// One `cti_logs` row as Zammad renders it.
fn log_item(entry: &JournalEntry, store: &Store) -> Value {
    let call = &entry.call;
    let data = &call.data;
    let phones = store.phones();
    let (from_pretty, to_pretty) = (phones.pretty(&data.from_line), phones.pretty(&data.to_line));
    let call_id = call
        .external_refs
        .iter()
        .find(|r| r.source == "zammad")
        .or(call.external_refs.first())
        .map(|r| r.external_id.clone())
        .unwrap_or_else(|| call.id.to_string());
    let mut preferences = serde_json::Map::new();
    if !entry.from_matches.is_empty() {
        preferences.insert("from".into(), Value::from(caller_ids(&entry.from_matches, &data.from_line, store)));
    }
    if !entry.to_matches.is_empty() {
        preferences.insert("to".into(), Value::from(caller_ids(&entry.to_matches, &data.to_line, store)));
    }
    preferences.insert("from_pretty".into(), json!(from_pretty));
    preferences.insert("to_pretty".into(), json!(to_pretty));
    json!({
        "id": call.id,
        "direction": if data.direction == Direction::Outbound { "out" } else { "in" },
        "state": zammad_state(data.state),
        "from": data.from_line,
        "to": data.to_line,
        "from_comment": entry.from_comment(),
        "to_comment": entry.to_comment(),
        "queue": data.queue_name,
        "call_id": call_id,
        "comment": data.hangup_cause,
        "initialized_at": format_millis_precise(data.started_at),
        "start_at": data.answered_at.map(format_millis_precise),
        "end_at": data.ended_at.map(format_millis_precise),
        "duration_waiting_time": data.wait_time,
        "duration_talking_time": data.talk_time,
        "done": data.done,
        "preferences": preferences,
        "created_at": format_millis_precise(call.created_at),
        "updated_at": format_millis_precise(call.updated_at),
        "from_pretty": from_pretty,
        "to_pretty": to_pretty,
    })
}

/// A user as Zammad's assets list them.
fn user_asset(user: &User) -> Value {
    let (first, last) = user.name.split_once(' ').unwrap_or((&user.name, ""));
    json!({
        "id": user.id,
        "firstname": first,
        "lastname": last,
        "login": user.email.clone().unwrap_or_else(|| user.id.to_string()),
        "email": user.email,
        "phone": user.phone_of(PhoneKind::Phone).or_else(|| user.phone_of(PhoneKind::Work)).unwrap_or(""),
        "mobile": user.phone_of(PhoneKind::Mobile).unwrap_or(""),
        "organization_id": user.organization_id,
        "active": user.active,
        "role_ids": [],
        "image": null,
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ZammadAgent(user): ZammadAgent,
) -> Result<Json<Value>, ZammadError> {
    let config = shared_config(&state.store).await?;
    let filter = visible_to(&config, &state.store, &user);
    let calls = state.store.list_journal(&filter, config.view_limit).await?;
    let entries = view::identify(&state.store, calls).await?;
    let mut users: BTreeMap<String, Value> = BTreeMap::new();
    for m in entries.iter().flat_map(|e| e.from_matches.iter().chain(&e.to_matches)) {
        users.entry(m.user.id.to_string()).or_insert_with(|| user_asset(&m.user));
    }
    let list: Vec<Value> = entries.iter().map(|e| log_item(e, &state.store)).collect();
    Ok(Json(json!({
        "list": list,
        "assets": { "User": users },
        "backends": [
            {"name": "CTI (generic)", "enabled": config.enabled, "url": "#system/integration/cti"},
            {"name": "sipgate.io", "enabled": config.sipgate.enabled, "url": "#system/integration/sipgate"},
            {"name": "Placetel", "enabled": config.placetel.enabled, "url": "#system/integration/placetel"},
        ],
    })))
}

fn parse_bool(value: Option<&str>) -> Result<bool, ZammadError> {
    match value {
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => {
            Err(ZammadError::unprocessable(format!("Attribute 'done' must be true or false, not '{other}'!")))
        }
        None => Err(ZammadError::unprocessable("Attribute 'done' required!")),
    }
}

/// Refuse calls outside the agent's journal (as Zammad's newer `DoneUpdate` does).
async fn check_visible(state: &AppState, user: &User, ids: &[Id]) -> Result<(), ZammadError> {
    let config = shared_config(&state.store).await?;
    let filter = visible_to(&config, &state.store, user);
    if filter.queues.is_none() {
        return Ok(());
    }
    for call in state.store.get_calls(ids).await? {
        let visible =
            filter.queues.as_ref().is_some_and(|q| call.data.queue_name.as_ref().is_some_and(|n| q.contains(n)));
        if !visible {
            return Err(ZammadError::new(StatusCode::FORBIDDEN, "The call is not in your caller log."));
        }
    }
    Ok(())
}

pub(crate) async fn done(
    State(state): State<AppState>,
    ZammadAgent(user): ZammadAgent,
    // Read as text: a segment that is not an id names no log entry, answered like one that
    // does not exist rather than with axum's plain-text rejection.
    Path(segment): Path<String>,
    request: Request,
) -> Result<Json<Value>, ZammadError> {
    let (params, _) = read_params(request, &state).await.map_err(|e| ZammadError::new(e.status, e.message))?;
    let done = parse_bool(params.get("done"))?;
    let not_found = || ZammadError::new(StatusCode::NOT_FOUND, format!("Couldn't find Cti::Log with 'id'={segment}"));
    let id: Id = segment.parse().map_err(|_| not_found())?;
    if state.store.get_calls(&[id]).await?.is_empty() {
        return Err(not_found());
    }
    check_visible(&state, &user, &[id]).await?;
    state.store.set_calls_done(&[id], done).await?;
    state.hub.publish(crate::hub::kinds::JOURNAL_CHANGED, None, json!({"call_ids": [id]})).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn done_bulk(
    State(state): State<AppState>,
    ZammadAgent(user): ZammadAgent,
    request: Request,
) -> Result<Json<Value>, ZammadError> {
    let (params, _) = read_params(request, &state).await.map_err(|e| ZammadError::new(e.status, e.message))?;
    let ids = params
        .all("ids")
        .iter()
        .map(|s| {
            s.parse::<Id>()
                .map_err(|_| ZammadError::unprocessable(format!("Attribute 'ids' holds '{s}', which is not an id!")))
        })
        .collect::<Result<Vec<Id>, _>>()?;
    check_visible(&state, &user, &ids).await?;
    state.store.set_calls_done(&ids, true).await?;
    if !ids.is_empty() {
        state.hub.publish(crate::hub::kinds::JOURNAL_CHANGED, None, json!({"call_ids": ids})).await?;
    }
    Ok(Json(json!({})))
}
