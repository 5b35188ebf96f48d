//! The Zendesk dialect: the subset of Zendesk's REST API that telephony integrations call, at the
//! paths real Zendesk uses, so an integration works against ctihub by changing only its host.
//!
//! Served: search, users and `user_fields`, tickets and `ticket_fields`, the voice channel
//! (`channels/voice/...`) and the Talk Partner Edition Calls API (`calls`). Conventions shared by every
//! Zendesk route live here: the optional `.json` suffix, `application/json; charset=utf-8` on
//! every answer, bodies parsed by us so that even a malformed one gets a Zendesk-shaped error,
//! and the agent-only extractor.

mod attributes;
mod audit;
mod calls;
mod error;
mod fields;
mod paging;
mod render;
mod requests;
mod search;
mod ticket_input;
mod tickets;
// Reports export calls with the call object's fields.
pub(crate) mod tpe;
mod users;
mod voice;
mod voice_comment;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use ctihub_domain::Id;
use ctihub_domain::user::User;
use serde_json::{Map, Value};

use error::Problems;

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
pub(crate) use error::ZendeskError;

pub(crate) fn router() -> Router<AppState> {
    let routes: Vec<(&str, MethodRouter<AppState>)> = vec![
        ("/api/v2/calls", post(calls::create)),
        // `{id}` also matches `123.json`: axum cannot put a literal after a parameter in one
        // segment, so the handlers strip the suffix.
        ("/api/v2/calls/{id}", get(calls::show).patch(calls::update).put(calls::update)),
        ("/api/v2/calls/{id}/comments", post(calls::comment)),
        ("/api/v2/search", get(search::search)),
        ("/api/v2/users", get(users::list).post(users::create)),
        ("/api/v2/users/me", get(users::me)),
        ("/api/v2/requests", get(requests::list)),
        ("/api/v2/requests/{id}", get(requests::show)),
        ("/api/v2/requests/{id}/comments", get(requests::comments)),
        ("/api/v2/users/search", get(search::search_users)),
        ("/api/v2/users/{id}", get(users::show).put(users::update)),
        ("/api/v2/users/{id}/tickets/requested", get(users::requested)),
        ("/api/v2/user_fields", get(fields::list_user_fields).post(fields::create_user_field)),
        ("/api/v2/user_fields/{id}", get(fields::show_user_field)),
        ("/api/v2/tickets", get(tickets::list).post(tickets::create)),
        ("/api/v2/tickets/{id}", get(tickets::show).put(tickets::update)),
        ("/api/v2/tickets/{id}/comments", get(tickets::comments)),
        ("/api/v2/ticket_fields", get(fields::list_ticket_fields).post(fields::create_ticket_field)),
        ("/api/v2/ticket_fields/{id}", get(fields::show_ticket_field)),
        ("/api/v2/channels/voice/tickets", post(voice::create_voice_ticket)),
        ("/api/v2/channels/voice/agents/{agent_id}/tickets/{ticket_id}/display", post(voice::display_ticket)),
        ("/api/v2/channels/voice/agents/{agent_id}/users/{user_id}/display", post(voice::display_user)),
    ];
    let mut router = Router::new();
    for (path, methods) in routes {
        let methods = with_fallback(methods);
        // Routes ending in a parameter take the suffix in the parameter; the others get a
        // second route with `.json`.
        if !path.ends_with('}') {
            router = router.route(&format!("{path}.json"), methods.clone());
        }
        router = router.route(path, methods);
    }
    // Any other path under /api/v2 is Zendesk's to answer, in its shape (`/api/v2/users/` with
    // an empty id, a misspelled resource), not ctihub's native 404. Routes of other dialects
    // under /api/v2 (Freshdesk's CTI paths) are more specific and still win.
    router.route("/api/v2/{*rest}", axum::routing::any(async || ZendeskError::invalid_endpoint()))
}

/// A method the route does not take answers like an unknown route, in Zendesk's shape.
fn with_fallback(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(async || ZendeskError::invalid_endpoint())
}

/// Every Zendesk answer is JSON with an explicit charset: node-zendesk parses a body only when
/// the content type says JSON, and zenpy raises on a non-JSON error body.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

/// How Zendesk names a field in messages: `from_line` → `From line`, `end_user_id` → `End user`.
pub(crate) fn field_label(field: &str) -> String {
    let base = field.strip_suffix("_id").unwrap_or(field).replace('_', " ");
    let mut chars = base.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The id in a path segment, with or without the `.json` suffix. Anything else names no record.
pub(crate) fn path_id(segment: &str) -> Result<Id, ZendeskError> {
    let digits = segment.strip_suffix(".json").unwrap_or(segment);
    digits.parse::<Id>().ok().filter(|id| *id > 0).ok_or_else(ZendeskError::not_found)
}

/// A request body as JSON. An empty body reads as `{}`: clients send none where nothing is
/// required, and the field rules then say what is missing.
pub(crate) fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ZendeskError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ZendeskError::from(ApiError::PayloadTooLarge)
        } else {
            ZendeskError::bad_request("BadRequest", rejection.body_text())
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ZendeskError::bad_request("Unparseable JSON", format!("Server could not parse JSON: {e}")))
}

/// The body as a JSON object; anything else cannot be a record.
pub(crate) fn json_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ZendeskError> {
    match json_body(body)? {
        Value::Object(object) => Ok(object),
        _ => Err(ZendeskError::bad_request("BadRequest", "The request body must be a JSON object")),
    }
}

/// `{"user": {...}}`'s inner object. A missing envelope reads as empty, so a create answers
/// with the mandatory fields it lacks and an update changes nothing.
pub(crate) fn envelope(body: &Map<String, Value>, key: &str, problems: &mut Problems) -> Map<String, Value> {
    match body.get(key) {
        Some(Value::Object(inner)) => inner.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            problems.invalid(key, "must be an object");
            Map::new()
        }
    }
}

/// `scheme://host` as the client addressed us, for `Location` and `url` fields: zenpy and
/// node-zendesk only follow URLs on the host they were configured with.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .map(|s| s.split(',').next().unwrap_or("").trim())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// An agent or admin. Zendesk's agent APIs refuse end-users with 403 and bad credentials with
/// 401, each in its own body.
pub(crate) struct ZendeskAgent(pub User);

impl FromRequestParts<AppState> for ZendeskAgent {
    type Rejection = ZendeskError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match AuthUser::from_request_parts(parts, state).await {
            Ok(AuthUser(user)) if user.role.is_staff() => Ok(ZendeskAgent(user)),
            Ok(_) => Err(ZendeskError::forbidden()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Anyone with valid credentials, end-users included (`users/me`).
pub(crate) struct ZendeskCaller(pub User);

impl FromRequestParts<AppState> for ZendeskCaller {
    type Rejection = ZendeskError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        Ok(ZendeskCaller(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_and_without_the_suffix() {
        assert_eq!(path_id("42").unwrap(), 42);
        assert_eq!(path_id("42.json").unwrap(), 42);
        for bad in ["", ".json", "abc", "42.xml", "-1", "0", "42.json.json"] {
            assert_eq!(path_id(bad).unwrap_err().status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }

    #[test]
    fn bodies_are_read_leniently_and_refused_in_zendesk_shape() {
        assert_eq!(json_body(Ok(Bytes::from_static(b""))).unwrap(), serde_json::json!({}));
        assert_eq!(json_body(Ok(Bytes::from_static(b" \n"))).unwrap(), serde_json::json!({}));
        let bad = json_body(Ok(Bytes::from_static(b"{\"call\":"))).unwrap_err();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(bad.body()["error"], "Unparseable JSON");
    }

    #[test]
    fn base_url_follows_the_host_the_client_used() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(base_url(&headers), "http://127.0.0.1:8080");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(base_url(&headers), "https://127.0.0.1:8080");
    }
}
