//! The Freshdesk dialect: Freshdesk's CTI framework (screen pop and call details) at the paths
//! real Freshdesk uses, so a telephony integration written for Freshdesk works against ctihub by
//! changing only its base URL.
//!
//! Also the REST subset integrations use to find a caller and log a call (`rest`).
//!
//! Routes are served under `/freshdesk/api/v2` (Freshdesk's REST paths clash with Zendesk's at
//! `/api/v2`); the two CTI paths clash with nothing and are also served at root `/api/v2`.
//! Wire conventions shared by every Freshdesk route live here: `application/json; charset=utf-8`
//! on every answer, bodies parsed by us so a malformed one gets a Freshdesk-shaped error, and the
//! agent-only extractor (API key as the Basic user name, any password).

mod cti;
mod error;
mod rest;
pub(crate) mod widget;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use ctihub_domain::user::User;
use serde_json::{Map, Value};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
pub use cti::{CONFIG_SETTING, FreshdeskCtiConfig, load_config, save_config};
pub(crate) use error::FreshdeskError;

pub(crate) fn router() -> Router<AppState> {
    let pop = || with_fallback(post(cti::pop));
    let details = || with_fallback(get(cti::details));
    Router::new()
        .route("/api/v2/integrations/cti/pop", pop())
        .route("/api/v2/integrations/cti/details", details())
        .route("/freshdesk/api/v2/integrations/cti/pop", pop())
        .route("/freshdesk/api/v2/integrations/cti/details", details())
        .route("/freshdesk/api/v2/contacts", with_fallback(get(rest::list_contacts).post(rest::create_contact)))
        .route("/freshdesk/api/v2/contacts/{id}", with_fallback(get(rest::show_contact)))
        .route("/freshdesk/api/v2/search/contacts", with_fallback(get(rest::search_contacts)))
        .route("/freshdesk/api/v2/tickets", with_fallback(post(rest::create_ticket)))
        .route("/freshdesk/api/v2/tickets/{id}", with_fallback(get(rest::show_ticket)))
        .route("/freshdesk/api/v2/tickets/{id}/notes", with_fallback(post(rest::create_note)))
        .route("/freshdesk/api/v2/agents", with_fallback(get(rest::list_agents)))
        .route("/freshdesk/api/v2/agents/me", with_fallback(get(rest::me)))
        // Any other Freshdesk path: a Freshdesk-shaped 404 with a JSON body.
        .route("/freshdesk/{*rest}", any(async || FreshdeskError::not_found()))
}

/// A method the route does not take answers in Freshdesk's shape, with a JSON body.
fn with_fallback(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(async || FreshdeskError::not_found())
}

/// Every answer is JSON with an explicit charset: freshdesk-api parses a body only when the
/// content type is missing or JSON.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

/// A request body as a JSON object. An empty body reads as `{}` so the field rules say what is
/// missing; anything that is not an object is refused as Freshdesk refuses it.
pub(crate) fn json_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, FreshdeskError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            FreshdeskError::from(ApiError::PayloadTooLarge)
        } else {
            FreshdeskError::invalid_json()
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(FreshdeskError::invalid_json()),
    }
}

/// An agent or admin. Freshdesk answers bad credentials with 401 and end-users with 403.
pub(crate) struct FreshdeskAgent(pub User);

impl FromRequestParts<AppState> for FreshdeskAgent {
    type Rejection = FreshdeskError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match AuthUser::from_request_parts(parts, state).await {
            Ok(AuthUser(user)) if user.role.is_staff() => Ok(FreshdeskAgent(user)),
            Ok(_) => Err(FreshdeskError::forbidden()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_leniently_and_refused_in_freshdesk_shape() {
        assert!(json_object(Ok(Bytes::from_static(b""))).unwrap().is_empty());
        assert!(json_object(Ok(Bytes::from_static(b" \n"))).unwrap().is_empty());
        for bad in [&b"{\"a\":"[..], b"[1]", b"\"\""] {
            let e = json_object(Ok(Bytes::from(bad))).unwrap_err();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
            assert_eq!(e.body()["code"], "invalid_json");
        }
    }
}
