//! Console sign-in: a random token in an HttpOnly cookie, its SHA-256 in the store, a sliding
//! idle expiry, and CSRF protection for every form.
//!
//! CSRF: every signed-in form carries a per-session token in a hidden `csrf` field (scripts send
//! it as `X-CSRF-Token`), checked on every POST. The token is derived from the session token
//! (SHA-256 with a domain prefix), so it needs no storage, differs per session, and cannot be
//! computed from what the database stores. The sign-in form, which has no session yet, uses a
//! double-submit cookie instead. SameSite=Lax on the session cookie is a second line.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::time::{Millis, now_millis};
use ctihub_domain::user::{Role, User};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::secrets;

pub(crate) const SESSION_COOKIE: &str = "ctihub_session";
pub(crate) const LOGIN_COOKIE: &str = "ctihub_login";
/// Idle time after which an agent signs in again: one long shift.
pub(crate) const SESSION_TTL_MS: Millis = 12 * 3600 * 1000;
/// Extending the expiry is a write; do it at most this often per session.
const EXTEND_EVERY_MS: Millis = 5 * 60 * 1000;
/// Scripts mark their requests so failures come back as status codes, not sign-in redirects.
pub(crate) const FETCH_HEADER: &str = "x-ctihub-fetch";

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value. `secure` when the browser talks TLS (behind a TLS-terminating proxy,
/// or an https public URL, see [`crate::client::Network::secure_cookies`]); on plain HTTP (a
/// single box on a LAN) a Secure cookie would never come back.
pub(crate) fn set_cookie(
    secure: bool,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).expect("cookie values are URL-safe base64")
}

pub(crate) fn csrf_for(session_token: &str) -> String {
    hex::encode(Sha256::digest(format!("ctihub console csrf\0{session_token}").as_bytes()))
}

pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = (secrets::hash_token(a), secrets::hash_token(b));
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A signed-in agent or admin.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub user: User,
    pub csrf: String,
    pub token_hash: String,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }
}

/// Why a console request was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Not signed in (or the session expired): pages go to the sign-in form.
    SignIn {
        next: Option<String>,
    },
    /// Not signed in, from a script or the event stream: a bare 401 the script acts on.
    Unauthorized,
    Forbidden(&'static str),
    NotFound(String),
    BadCsrf,
    BadForm(String),
    Internal(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn { next } => {
                let target = match next {
                    Some(next) => format!("/console/login?next={}", urlencode(&next)),
                    None => "/console/login".to_owned(),
                };
                Redirect::to(&target).into_response()
            }
            Refusal::Unauthorized => (StatusCode::UNAUTHORIZED, "sign in again").into_response(),
            Refusal::Forbidden(why) => super::error_page(StatusCode::FORBIDDEN, why),
            Refusal::NotFound(what) => {
                super::error_page(StatusCode::NOT_FOUND, &format!("That {what} does not exist."))
            }
            Refusal::BadCsrf => super::error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from the console. Go back, reload the page and try again.",
            ),
            Refusal::BadForm(why) => super::error_page(StatusCode::UNPROCESSABLE_ENTITY, &why),
            Refusal::Internal(why) => {
                tracing::error!(error = %why, "console request failed");
                super::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong; the server log has details.",
                )
            }
        }
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    serde_html_form::to_string([("", s)]).map(|e| e.trim_start_matches('=').to_owned()).unwrap_or_default()
}

fn refuse_unauthenticated(parts: &Parts) -> Refusal {
    let from_script = parts.headers.contains_key(FETCH_HEADER);
    let stream = parts.uri.path() == "/console/events";
    if parts.method == Method::GET && !from_script && !stream {
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_owned());
        Refusal::SignIn { next }
    } else {
        Refusal::Unauthorized
    }
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(refuse_unauthenticated(parts));
        };
        let token_hash = secrets::hash_token(token);
        let now = now_millis();
        let store = &state.store;
        let session = store.console_session(&token_hash, now).await.map_err(|e| Refusal::Internal(e.to_string()))?;
        let Some(session) = session else { return Err(refuse_unauthenticated(parts)) };
        let user = store.get_user(session.user_id).await.map_err(|e| Refusal::Internal(e.to_string()))?;
        // Demoted or deactivated since signing in: the session ends now.
        if !user.active || !user.role.is_staff() {
            let _ = store.delete_console_session(&token_hash).await;
            return Err(refuse_unauthenticated(parts));
        }
        if now - session.seen_at > EXTEND_EVERY_MS {
            store
                .extend_console_session(session.id, now, now + SESSION_TTL_MS)
                .await
                .map_err(|e| Refusal::Internal(e.to_string()))?;
        }
        Ok(Agent { user, csrf: csrf_for(token), token_hash })
    }
}

/// An admin; agents get a 403 page.
pub(crate) struct Admin(pub Agent);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let agent = Agent::from_request_parts(parts, state).await?;
        if agent.is_admin() { Ok(Admin(agent)) } else { Err(Refusal::Forbidden("This page is for admins only.")) }
    }
}

/// A form POSTed by a signed-in agent, its CSRF token checked. The handler's form type never
/// sees the `csrf` field (serde ignores unknown fields).
pub(crate) struct ConsoleForm<T>(pub Agent, pub T);

#[derive(serde::Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for ConsoleForm<T> {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let agent = Agent::from_request_parts(&mut parts, state).await?;
        let form = checked_form(parts, body, &agent, state).await?;
        Ok(ConsoleForm(agent, form))
    }
}

/// A form only admins may post. The role is checked before the body is even read, so an agent
/// gets the same 403 whatever the form holds.
pub(crate) struct AdminForm<T>(pub Agent, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let agent = Agent::from_request_parts(&mut parts, state).await?;
        if !agent.is_admin() {
            return Err(Refusal::Forbidden("This page is for admins only."));
        }
        let form = checked_form(parts, body, &agent, state).await?;
        Ok(AdminForm(agent, form))
    }
}

/// The form in the body, once its CSRF token (field or `X-CSRF-Token`) matches the session's.
async fn checked_form<T: DeserializeOwned>(
    parts: Parts,
    body: axum::body::Body,
    agent: &Agent,
    state: &AppState,
) -> Result<T, Refusal> {
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|e| Refusal::BadForm(e.body_text()))?;
    let presented = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| serde_html_form::from_bytes::<CsrfField>(&bytes).ok().and_then(|f| f.csrf));
    if !presented.is_some_and(|p| same_secret(&p, &agent.csrf)) {
        return Err(Refusal::BadCsrf);
    }
    serde_html_form::from_bytes::<T>(&bytes).map_err(|e| Refusal::BadForm(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; ctihub_session=T0K; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("T0K"));
        assert_eq!(cookie(&headers, "c"), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("ctihub_session="));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_in_full() {
        assert_ne!(csrf_for("a"), csrf_for("b"));
        assert_ne!(csrf_for("a"), secrets::hash_token("a"));
        assert!(same_secret(&csrf_for("a"), &csrf_for("a")));
        assert!(!same_secret(&csrf_for("a")[..10], &csrf_for("a")));
    }

    #[test]
    fn session_cookies_are_http_only_and_lax() {
        let value = set_cookie(false, SESSION_COOKIE, "T", "/", "Lax", None);
        assert_eq!(value, "ctihub_session=T; Path=/; HttpOnly; SameSite=Lax");
        let value = set_cookie(true, SESSION_COOKIE, "T", "/", "Lax", Some(0));
        assert_eq!(value, "ctihub_session=T; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure");
    }

    #[test]
    fn next_targets_are_url_encoded() {
        assert_eq!(urlencode("/console/journal?status=open&x=1"), "%2Fconsole%2Fjournal%3Fstatus%3Dopen%26x%3D1");
    }
}
