//! The placetel dialect: the Call Control / Notify API's webhooks (`/api/v1/placetel/:token`),
//! mapped onto the shared CTI pipeline as Zammad's placetel driver maps them, answered in XML.
//!
//! Checks run in Zammad's order: integration disabled (422), not configured (422), wrong token
//! (401); then the HMAC signature when a secret is configured (401), the event (422) and the
//! direction (422).

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use ctihub_domain::Id;
use ctihub_domain::call::Direction;
use ctihub_domain::cti::PlacetelConfig;
use ctihub_domain::journal::{CallSignal, SignalKind};
use ctihub_domain::time::now_millis;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::AppState;
use crate::cti::params::Params;
use crate::cti::view::display_name;
use crate::cti::{Admission, EventConfig, EventHandling, IncomingEvent};
use crate::sipgate::xml::{ReadRequest, XmlError, check_access, read_request, response_document, xml_ok};

const SOURCE: &str = "placetel";
/// Zammad caps call ids at 250 characters; placetel's are 64 hex digits.
const MAX_CALL_ID: usize = 250;
const SIGNATURE_HEADER: &str = "x-placetel-signature";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/placetel/{token}", post(event))
}

async fn event(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Result<Response, XmlError> {
    let read = read_request(&state, request).await;
    let mut handling = EventHandling::start(&state).await?;
    let decision = loop {
        let admission = admit(&state, handling.config(), &token, &read).await;
        if let Some(decision) = handling.settle(admission).await? {
            break decision;
        }
    };
    Ok(xml_ok(response_document(&[], &decision)))
}

/// The event, if the configuration lets it in, in Zammad's order of checks.
async fn admit(state: &AppState, config: &EventConfig, token: &str, read: &ReadRequest) -> Result<Admission, XmlError> {
    let placetel = &config.placetel;
    check_access(placetel.enabled, placetel.token.as_deref(), token)?;
    let (headers, body, params) = read.as_ref().map_err(XmlError::clone)?;
    if let Some(secret) = placetel.secret.as_deref().filter(|s| !s.is_empty()) {
        verify_signature(secret, headers, body)?;
    }
    let params = params.as_ref().map_err(XmlError::clone)?;
    Ok(Admission::Ingest(parse_event(state, placetel, params).await?))
}

async fn parse_event(state: &AppState, config: &PlacetelConfig, params: &Params) -> Result<IncomingEvent, XmlError> {
    let (kind, implied) = match params.get("event") {
        Some("IncomingCall") => (SignalKind::NewCall, Some(Direction::Inbound)),
        Some("OutgoingCall") => (SignalKind::NewCall, Some(Direction::Outbound)),
        Some("CallAccepted") => (SignalKind::Answer, None),
        Some("HungUp") => (SignalKind::Hangup, None),
        Some(other) => {
            return Err(XmlError::unprocessable(format!(
                "Unknown event \"{other}\"; expected IncomingCall, OutgoingCall, CallAccepted or HungUp"
            )));
        }
        None => {
            return Err(XmlError::unprocessable(
                "Attribute 'event' required (IncomingCall, OutgoingCall, CallAccepted or HungUp)!",
            ));
        }
    };
    let call_ref = params
        .first_of(&["call_id", "callId"])
        .ok_or_else(|| XmlError::unprocessable("Attribute 'call_id' required!"))?;
    if call_ref.chars().count() > MAX_CALL_ID {
        return Err(XmlError::unprocessable(format!("Attribute 'call_id' is longer than {MAX_CALL_ID} characters!")));
    }
    // The event name says the direction of a new call; the later events often do not say it
    // at all, and then the call they belong to does.
    let direction = match (implied, params.get("direction")) {
        (Some(direction), _) => direction,
        (None, Some("in")) => Direction::Inbound,
        (None, Some("out")) => Direction::Outbound,
        (None, Some(_)) => return Err(XmlError::unprocessable("Invalid 'direction'!")),
        (None, None) => match state.store.find_call_by_ref(SOURCE, call_ref).await? {
            Some(call) if call.data.direction == Direction::Outbound => Direction::Outbound,
            _ => Direction::Inbound,
        },
    };
    let from = params.get("from").unwrap_or("");
    let to = params.get("to").unwrap_or("");
    if kind == SignalKind::NewCall {
        for (name, value) in [("from", from), ("to", to)] {
            if value.is_empty() {
                return Err(XmlError::unprocessable(format!("Attribute '{name}' required!")));
            }
        }
    }

    // The SIP user on the agent's side: the calling device of an internal outbound call sits in
    // `from`; otherwise `peer` names it (the calling device, or the one that answered).
    let device = match (direction, from.contains('@')) {
        (Direction::Outbound, true) => Some(from),
        _ => params.get("peer"),
    };
    let agent = device.and_then(|d| mapped_user(config, d));
    let mut users = params.all("user");
    if users.is_empty()
        && let Some(id) = agent
        && let Ok(user) = state.store.get_user(id).await
    {
        users.push(display_name(&user).to_owned());
    }
    Ok(IncomingEvent {
        source: SOURCE,
        call_ref: call_ref.to_owned(),
        signal: CallSignal {
            kind,
            direction,
            from: from.to_owned(),
            to: to.to_owned(),
            users,
            queue: None,
            cause: params.get("type").map(cause),
            at: now_millis(),
        },
        answering_number: None,
        answering_agent: if kind == SignalKind::Answer { agent } else { None },
        payload: params.to_json(),
    })
}

/// A `HungUp` `type` as a Zammad hangup cause. Zammad maps the first four; the outbound-only
/// types placetel added later get the sipgate cause that means the same. Anything newer is
/// kept as sent, so it still shows in the journal.
fn cause(placetel_type: &str) -> String {
    match placetel_type {
        "missed" | "canceled" => "cancel",
        "voicemail" => "voicemail",
        "blocked" => "blocked",
        "accepted" => "normalClearing",
        "busy" => "busy",
        "unavailable" => "notFound",
        "congestion" => "congestion",
        other => other,
    }
    .to_owned()
}

fn mapped_user(config: &PlacetelConfig, device: &str) -> Option<Id> {
    config.user_device_map.iter().find(|m| m.remote_id.trim() == device).map(|m| m.user_id)
}

/// placetel signs the raw body: `X-PLACETEL-SIGNATURE` is hex(HMAC-SHA256(secret, body)).
fn verify_signature(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), XmlError> {
    let Some(header) = headers.get(SIGNATURE_HEADER) else {
        return Err(XmlError::unauthorized("Signature missing, the X-PLACETEL-SIGNATURE header is required!"));
    };
    let invalid = || XmlError::unauthorized("Invalid signature, X-PLACETEL-SIGNATURE does not match the body!");
    let presented = header.to_str().ok().and_then(|s| hex::decode(s.trim()).ok()).ok_or_else(invalid)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&presented).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hangup_type_has_a_cause() {
        let pairs = [
            ("missed", "cancel"),
            ("voicemail", "voicemail"),
            ("blocked", "blocked"),
            ("accepted", "normalClearing"),
            ("busy", "busy"),
            ("canceled", "cancel"),
            ("unavailable", "notFound"),
            ("congestion", "congestion"),
            ("somethingNew", "somethingNew"),
        ];
        for (placetel, zammad) in pairs {
            assert_eq!(cause(placetel), zammad);
        }
    }

    #[test]
    fn signatures_are_hex_hmac_sha256_in_either_case() {
        // RFC 4231 test case 2.
        let body = b"what do ya want for nothing?";
        let hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let headers = |sig: &str| {
            let mut h = HeaderMap::new();
            h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
            h
        };
        assert!(verify_signature("Jefe", &headers(hex), body).is_ok());
        assert!(verify_signature("Jefe", &headers(&hex.to_uppercase()), body).is_ok());
        assert!(verify_signature("Jefe", &headers(&hex[..62]), body).is_err());
        assert!(verify_signature("jefe", &headers(hex), body).is_err());
        assert!(verify_signature("Jefe", &headers("zz"), body).is_err());
        assert!(verify_signature("Jefe", &HeaderMap::new(), body).is_err());
    }
}
