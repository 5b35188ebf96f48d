//! The sipgate.io dialect: the push API's webhooks (`/api/v1/sipgate/:token/in` and `…/out`),
//! as Zammad's sipgate integration accepts them, answered in sipgate's XML.
//!
//! Checks run in Zammad's order: integration disabled (422), not configured (422), wrong token
//! (401). Then the signature, when a public key is configured (401), and the direction (422;
//! Zammad answers 500 there). sipgate only sends `answer` and `hangup` to the URLs a `newCall`
//! answer names in `onAnswer`/`onHangup`, so every OK answer names this endpoint again.

pub(crate) mod xml;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ctihub_domain::Id;
use ctihub_domain::call::{Direction, ExternalRef, NewCallEvent};
use ctihub_domain::cti::{RemoteUser, SipgateConfig};
use ctihub_domain::journal::SignalKind;
use ctihub_domain::time::now_millis;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use sha2::Sha256;

use self::xml::{ReadRequest, XmlError, check_access, read_request, response_document, xml_ok};
use crate::AppState;
use crate::cti::params::Params;
use crate::cti::{Admission, Decision, EventConfig, EventHandling, IncomingEvent, generic};

pub(crate) const SOURCE: &str = "sipgate";
const SIGNATURE_HEADER: &str = "x-sipgate-signature";

pub(crate) fn router() -> Router<AppState> {
    // Zammad's routes end in a slash; admins copy URLs either way.
    Router::new()
        .route("/api/v1/sipgate/{token}/in", post(event))
        .route("/api/v1/sipgate/{token}/out", post(event))
        .route("/api/v1/sipgate/{token}/in/", post(event))
        .route("/api/v1/sipgate/{token}/out/", post(event))
}

async fn event(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Result<Response, XmlError> {
    let read = read_request(&state, request).await;
    let mut handling = EventHandling::start(&state).await?;
    let (decision, follow_up) = loop {
        let mut follow_up = None;
        let admission = admit(&state, handling.config(), &token, &read, &mut follow_up).await;
        if let Some(decision) = handling.settle(admission).await? {
            break (decision, follow_up);
        }
    };
    Ok(xml_ok(match &follow_up {
        Some(url) => response_document(&[("onHangup", url), ("onAnswer", url)], &decision),
        None => response_document(&[], &decision),
    }))
}

/// The event, if the configuration lets it in, in Zammad's order of checks; `follow_up` is
/// where sipgate should send the call's next events (none after digits).
async fn admit(
    state: &AppState,
    config: &EventConfig,
    token: &str,
    read: &ReadRequest,
    follow_up: &mut Option<String>,
) -> Result<Admission, XmlError> {
    let sipgate = &config.sipgate;
    check_access(sipgate.enabled, sipgate.token.as_deref(), token)?;
    let (headers, body, params) = read.as_ref().map_err(XmlError::clone)?;
    if let Some(pem) = sipgate.public_key_pem.as_deref().filter(|p| !p.trim().is_empty()) {
        verify_signature(pem, headers, body)?;
    }
    let params = params.as_ref().map_err(XmlError::clone)?;
    // sipgate sends `dtmf` (after a `<Gather>`) with nothing but the digits and the call id.
    if params.get("event") == Some("dtmf") {
        // Recorded straight away, so only once sure the integration is on as it is now.
        if config.unconfirmed().is_some() {
            return Ok(Admission::NeedsFreshConfig);
        }
        record_dtmf(state, params).await?;
        return Ok(Admission::Decided(Decision::Continue));
    }
    let direction = match params.get("direction") {
        Some("in") => Direction::Inbound,
        Some("out") => Direction::Outbound,
        _ => return Err(XmlError::unprocessable("Invalid 'direction'!")),
    };
    *follow_up = Some(follow_up_url(headers, token, direction));
    Ok(Admission::Ingest(parse_event(sipgate, params, direction)?))
}

fn parse_event(config: &SipgateConfig, params: &Params, direction: Direction) -> Result<IncomingEvent, XmlError> {
    let mut event = generic::parse_event(params, SOURCE, direction, "newCall, answer, hangup or dtmf")
        .map_err(XmlError::unprocessable)?;
    // On answer, `userId` names the one sipgate user who picked up; on newCall the list of
    // users who ring is not an answer.
    if event.signal.kind == SignalKind::Answer {
        event.answering_agent = mapped_user(&config.user_remote_map, params);
    }
    Ok(event)
}

/// The ctihub user a sipgate user id is mapped to. Admins may have entered the short id (`w0`)
/// or the full one (`1234567w0`); sipgate sends both.
fn mapped_user(map: &[RemoteUser], params: &Params) -> Option<Id> {
    let sent: Vec<String> = params.all("userId").into_iter().chain(params.all("fullUserId")).collect();
    sent.iter().find_map(|id| map.iter().find(|m| m.remote_id.trim() == id).map(|m| m.user_id))
}

/// Digits keyed in after a `<Gather>`: kept with the call they belong to. They change nothing in
/// the journal. For a call id ctihub does not know yet they are parked until the call appears:
/// sipgate was told they arrived, so they are not dropped.
async fn record_dtmf(state: &AppState, params: &Params) -> Result<(), XmlError> {
    let call_ref = generic::call_ref(params).map_err(XmlError::unprocessable)?;
    let event = NewCallEvent {
        source: SOURCE.to_owned(),
        kind: "dtmf".to_owned(),
        payload: params.to_json(),
        occurred_at: now_millis(),
    };
    match state.store.find_call_by_ref(SOURCE, call_ref).await? {
        Some(call) => {
            state.store.append_call_event(call.id, &event).await?;
        }
        None => state.store.park_call_event(&ExternalRef::new(SOURCE, call_ref), &event).await?,
    }
    Ok(())
}

/// Where sipgate should send this call's `answer` and `hangup`: the URL this request came to,
/// as the client addressed it (a reverse proxy tells the scheme in `X-Forwarded-Proto`).
fn follow_up_url(headers: &HeaderMap, token: &str, direction: Direction) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v == "https" || v == "http")
        .unwrap_or_else(|| "http".to_owned());
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let suffix = if direction == Direction::Outbound { "out" } else { "in" };
    format!("{scheme}://{host}/api/v1/sipgate/{}/{suffix}", encode_path_segment(token))
}

/// Percent-encode everything but RFC 3986's unreserved characters: the token came decoded out
/// of the path and goes back into one.
fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// sipgate signs the raw body with RSA-SHA256 (PKCS#1 v1.5) and sends the signature base64
/// encoded.
fn verify_signature(pem: &str, headers: &HeaderMap, body: &Bytes) -> Result<(), XmlError> {
    let key = public_key(pem).ok_or_else(|| {
        tracing::warn!("the configured sipgate public key is not a PEM RSA public key");
        XmlError::unprocessable(
            "Feature not configured, the sipgate public key cannot be read, please contact your admin!",
        )
    })?;
    let Some(header) = headers.get(SIGNATURE_HEADER) else {
        return Err(XmlError::unauthorized("Signature missing, the X-Sipgate-Signature header is required!"));
    };
    let invalid = || {
        XmlError::unauthorized("Invalid signature, X-Sipgate-Signature does not verify with the configured public key!")
    };
    // Padding is optional so a proxy that strips `=` does not break verification.
    let base64 = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = header.to_str().ok().and_then(|s| base64.decode(s.trim()).ok()).ok_or_else(invalid)?;
    let signature = Signature::try_from(bytes.as_slice()).map_err(|_| invalid())?;
    VerifyingKey::<Sha256>::new(key).verify(body, &signature).map_err(|_| invalid())
}

/// sipgate publishes its key as `BEGIN PUBLIC KEY`; `BEGIN RSA PUBLIC KEY` is accepted too.
fn public_key(pem: &str) -> Option<RsaPublicKey> {
    let pem = pem.trim();
    RsaPublicKey::from_public_key_pem(pem).or_else(|_| RsaPublicKey::from_pkcs1_pem(pem)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_follow_up_url_is_the_one_the_request_came_to() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "hub.example.com:8443".parse().unwrap());
        assert_eq!(
            follow_up_url(&headers, "tok", Direction::Inbound),
            "http://hub.example.com:8443/api/v1/sipgate/tok/in"
        );
        headers.insert("x-forwarded-proto", "HTTPS, http".parse().unwrap());
        assert_eq!(
            follow_up_url(&headers, "a b/c", Direction::Outbound),
            "https://hub.example.com:8443/api/v1/sipgate/a%20b%2Fc/out"
        );
        headers.insert("x-forwarded-proto", "gopher".parse().unwrap());
        assert!(follow_up_url(&headers, "t", Direction::Inbound).starts_with("http://"));
    }

    #[test]
    fn user_ids_map_short_or_full() {
        let map = vec![
            RemoteUser { remote_id: "w1".into(), user_id: 11 },
            RemoteUser { remote_id: "1234567w2".into(), user_id: 12 },
        ];
        let params = |body: &str| Params::from_form(body.as_bytes());
        assert_eq!(mapped_user(&map, &params("userId=w1&fullUserId=1234567w1")), Some(11));
        assert_eq!(mapped_user(&map, &params("userId=w2&fullUserId=1234567w2")), Some(12));
        assert_eq!(mapped_user(&map, &params("userId=w3&fullUserId=1234567w3")), None);
        assert_eq!(mapped_user(&map, &params("")), None);
    }
}
