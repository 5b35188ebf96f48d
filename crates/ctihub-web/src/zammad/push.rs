//! `POST /api/v1/cti/:token`: newCall, answer and hangup from the PBX.
//!
//! Checks run in Zammad's order with its messages: integration disabled (422), not configured
//! (422), wrong token (401), invalid direction (422). Then ctihub is stricter than Zammad where
//! Zammad answers 500: an unknown event or a missing call id is a 422 that says what is wrong.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use ctihub_domain::call::Direction;
use serde_json::{Value, json};

use super::ZammadError;
use crate::AppState;
use crate::cti::config::token_matches;
use crate::cti::generic;
use crate::cti::params::{Params, ParamsError, read_params};
use crate::cti::{Admission, Decision, EventConfig, EventHandling, IncomingEvent};

pub(crate) async fn event(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Result<Json<Value>, ZammadError> {
    // Read first: the request may be admitted twice (`EventHandling`), its body read only once.
    // A body that cannot be read is still refused after the configuration's checks.
    let params = read_params(request, &state).await.map(|(params, _)| params);
    let mut handling = EventHandling::start(&state).await?;
    let decision = loop {
        let admission = admit(handling.config(), &token, &params);
        if let Some(decision) = handling.settle(admission).await? {
            break decision;
        }
    };
    Ok(Json(answer(decision)))
}

/// The event, if the configuration lets it in: the checks in Zammad's order, then the body.
fn admit(config: &EventConfig, token: &str, params: &Result<Params, ParamsError>) -> Result<Admission, ZammadError> {
    if !config.enabled {
        return Err(ZammadError::unprocessable("Feature is disabled, please contact your administrator!"));
    }
    let Some(configured) = config.token.as_deref() else {
        return Err(ZammadError::unprocessable("Feature not configured, please contact your admin!"));
    };
    if !token_matches(token, configured) {
        return Err(ZammadError::new(StatusCode::UNAUTHORIZED, "Invalid token, please contact your admin!"));
    }
    let params = params.as_ref().map_err(|e| ZammadError::new(e.status, e.message.clone()))?;
    Ok(Admission::Ingest(parse_event(params)?))
}

/// The JSON answer a PBX acts on.
pub(crate) fn answer(decision: Decision) -> Value {
    match decision {
        Decision::Continue => json!({}),
        Decision::Reject => json!({"action": "reject", "reason": "busy"}),
        // Zammad sends `caller_id`; its older documentation shows `callerId`. Both, so PBXs
        // built from either work.
        Decision::Dial { caller_id, number } => {
            json!({"action": "dial", "caller_id": caller_id, "callerId": caller_id, "number": number})
        }
    }
}

fn direction(params: &Params) -> Result<Direction, ZammadError> {
    match params.get("direction") {
        Some("in") => Ok(Direction::Inbound),
        Some("out") => Ok(Direction::Outbound),
        _ => Err(ZammadError::unprocessable("Invalid 'direction'!")),
    }
}

fn parse_event(params: &Params) -> Result<IncomingEvent, ZammadError> {
    let direction = direction(params)?;
    generic::parse_event(params, "zammad", direction, "newCall, answer or hangup").map_err(ZammadError::unprocessable)
}
