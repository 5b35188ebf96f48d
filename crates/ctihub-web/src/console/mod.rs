//! The agent console under `/console`: server-rendered HTML (askama templates in
//! `templates/console/`), one stylesheet and one hand-written script embedded in the binary,
//! and a live channel (SSE) that reuses the native event stream with cookie sign-in.
//!
//! Every page works without the script; the script adds the live parts (toasts, screen pops,
//! journal refresh, presence) on top.

mod admin;
mod audit_log;
mod board;
mod calls;
mod charts;
mod dial;
mod fields;
mod pages;
mod reports;
mod routing;
mod session;
mod softphone;
mod tickets;
mod users;

use std::sync::OnceLock;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use ctihub_domain::Id;
use ctihub_domain::time::{Millis, format_millis, now_millis};
use ctihub_store::Presence;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::auth::{Credentials, authenticate, secrets};
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::hub::kinds;
use session::{Agent, ConsoleForm, FETCH_HEADER, LOGIN_COOKIE, Refusal, SESSION_COOKIE, SESSION_TTL_MS};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
/// A reconnecting console replays at most this far back: a pop for a call that rang an hour ago
/// is noise, not help.
const REPLAY_WINDOW_MS: Millis = 10 * 60 * 1000;

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/journal") }))
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console/ping", get(ping))
        .route("/console/events", get(events))
        .route("/console/presence", post(set_presence))
        .route("/console/board", get(board::page))
        .route("/console/board/live", get(board::live))
        .route("/console/journal", get(pages::journal))
        .route("/console/journal/rows", get(pages::journal_rows))
        .route("/console/journal/done", post(pages::mark_done))
        .route("/console/journal/done-all", post(pages::mark_all_done))
        .route("/console/pop", get(pages::pop))
        .route("/console/reports", get(reports::page))
        .route("/console/reports/calls.csv", get(reports::export))
        .route("/console/calls/{id}/file", post(tickets::file_call))
        .route("/console/calls/{id}/forward", post(calls::forward))
        .route("/console/calls/{id}/notepad", post(calls::save_notepad))
        .route("/console/users/{id}", get(pages::user_profile))
        .route("/console/tickets", post(tickets::create))
        .route("/console/tickets/new", get(tickets::new_form))
        .route("/console/tickets/{id}", get(tickets::show).post(tickets::update))
        .route("/console/tickets/{id}/comments", post(tickets::comment))
        .route("/console/admin/cti", get(admin::cti_form).post(admin::save_cti))
        .route("/console/admin/cti/token", post(admin::rotate_token))
        .route("/console/admin/cti/freshdesk", post(admin::save_freshdesk))
        .route("/console/admin/softphone", get(softphone::settings_form).post(softphone::save_settings))
        .route("/console/admin/fields", get(fields::list).post(fields::create))
        .route("/console/softphone/number", post(softphone::choose_number))
        .route("/console/dial", post(dial::dial))
        .route("/console/admin/routing", get(routing::form).post(routing::save))
        .route("/console/admin/users", get(users::list).post(users::create))
        .route("/console/admin/users/{id}", get(users::edit_form).post(users::update))
        .route("/console/admin/users/{id}/active", post(users::set_active))
        .route("/console/admin/tokens", get(users::tokens).post(users::create_token))
        .route("/console/admin/tokens/{id}/revoke", post(users::revoke_token))
        .route("/console/admin/audit", get(audit_log::page))
        .route("/console/assets/console.css", get(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route("/console/assets/console.js", get(|| async { asset(JS, "text/javascript; charset=utf-8") }))
        .layer(axum::middleware::map_response_with_state(state, security_headers))
}

/// Changes with the assets' content, so they can be cached for good under a versioned URL.
fn asset_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| hex::encode(&Sha256::digest(format!("{CSS}{JS}").as_bytes())[..6]))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")];
    (headers, body).into_response()
}

/// The console runs no inline script and loads nothing from elsewhere, so a strict policy costs
/// nothing and turns an escaping mistake into a blocked script instead of an exploit.
/// Recordings may live on the PBX's or provider's host; pages may frame the admin's softphone,
/// and nothing else.
async fn security_headers(State(state): State<AppState>, mut response: Response) -> Response {
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let softphone = match is_page {
        true => softphone::load(&state.store).await.ok().and_then(|s| softphone::frame_origin(&s)),
        false => None,
    };
    let frame_src = softphone.map(|origin| format!("frame-src {origin}; ")).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; {frame_src}script-src 'self'; style-src 'self'; img-src 'self' data:; \
         media-src 'self' https: http:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; \
         base-uri 'none'; object-src 'none'"
    );
    let headers = response.headers_mut();
    // An origin that is not a valid header value cannot come from a parsed URL; framing nothing
    // is the safe answer if it ever did.
    let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages show customer data; keep them out of shared caches and the back-forward cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// What every signed-in page's frame shows.
pub(crate) struct Layout {
    pub title: String,
    pub nav: &'static str,
    pub user_name: String,
    pub user_id: Id,
    pub is_admin: bool,
    pub csrf: String,
    pub presence: &'static str,
    pub asset_v: &'static str,
    /// Where the live channel starts when this tab has not seen an event yet.
    pub last_event_id: Id,
    /// The softphone slot, helpdesk numbers and click-to-dial.
    pub phone: softphone::TopBar,
}

impl Layout {
    pub async fn new(
        state: &AppState,
        agent: &Agent,
        title: impl Into<String>,
        nav: &'static str,
    ) -> Result<Self, Refusal> {
        let presence = state
            .store
            .list_presence()
            .await
            .map_err(internal)?
            .into_iter()
            .find(|(id, _)| *id == agent.user.id)
            .map_or(Presence::Available, |(_, p)| p);
        Ok(Layout {
            title: title.into(),
            nav,
            user_name: crate::cti::view::display_name(&agent.user).to_owned(),
            user_id: agent.user.id,
            is_admin: agent.is_admin(),
            csrf: agent.csrf.clone(),
            presence: presence.as_str(),
            asset_v: asset_version(),
            last_event_id: state.store.last_hub_event_id().await.map_err(internal)?,
            phone: softphone::top_bar(&state.store, agent.user.id).await.map_err(internal)?,
        })
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Refusal {
    Refusal::Internal(e.to_string())
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound(m) => Refusal::BadForm(m),
            ApiError::Invalid { message, .. } | ApiError::Conflict { message, .. } => Refusal::BadForm(message),
            ApiError::Forbidden(_) => Refusal::Forbidden("You may not do that."),
            other => Refusal::Internal(other.to_string()),
        }
    }
}

impl From<ctihub_store::StoreError> for Refusal {
    fn from(e: ctihub_store::StoreError) -> Self {
        match e {
            ctihub_store::StoreError::NotFound { what } => Refusal::NotFound(what.to_string()),
            other => ApiError::from(other).into(),
        }
    }
}

/// Times as `<time datetime>`: UTC in the markup, shown in the agent's zone by the script.
pub(crate) fn iso(millis: Millis) -> String {
    format_millis(millis)
}

#[derive(Template, WebTemplate)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
    asset_v: &'static str,
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage { status: status.as_u16(), message, asset_v: asset_version() };
    (status, page).into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    email: String,
    error: Option<&'static str>,
    asset_v: &'static str,
}

#[derive(Debug, Deserialize)]
struct NextParam {
    next: Option<String>,
}

/// Only console paths: an open redirect would turn the sign-in page into a phishing helper.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/console/journal".to_owned(),
    }
}

fn login_page(secure: bool, status: StatusCode, next: String, email: String, error: Option<&'static str>) -> Response {
    let csrf = secrets::generate_token();
    let cookie = session::set_cookie(secure, LOGIN_COOKIE, &csrf, "/console/login", "Strict", Some(3600));
    let page = LoginPage { csrf, next, email, error, asset_v: asset_version() };
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<NextParam>) -> Response {
    let next = safe_next(q.next.as_deref());
    if let Some(token) = session::cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = state.store.console_session(&secrets::hash_token(token), now_millis()).await
    {
        return Redirect::to(&next).into_response();
    }
    login_page(state.network.secure_cookies(&headers), StatusCode::OK, next, String::new(), None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    address: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let secure = state.network.secure_cookies(&headers);
    let cookie_ok = session::cookie(&headers, LOGIN_COOKIE).is_some_and(|c| session::same_secret(c, &form.csrf));
    if !cookie_ok {
        return login_page(
            secure,
            StatusCode::FORBIDDEN,
            next,
            form.email,
            Some("The form expired. Please try again."),
        );
    }
    let email = form.email.trim().to_owned();
    let credentials = Credentials::Password { email: email.clone(), password: form.password };
    let user = match authenticate(&state, credentials).await {
        Ok(user) => user,
        Err(e) => return Refusal::from(e).into_response(),
    };
    let Some(user) = user else {
        audit::record(&state.store, Actor::Unknown(&email), action::SIGN_IN_FAILED, None, Some(address), None).await;
        return login_page(secure, StatusCode::UNAUTHORIZED, next, form.email, Some("Wrong e-mail or password."));
    };
    if !user.role.is_staff() {
        let detail = Some("end-users may not use the console".to_owned());
        audit::record(&state.store, Actor::User(&user), action::SIGN_IN_FAILED, None, Some(address), detail).await;
        return login_page(
            secure,
            StatusCode::FORBIDDEN,
            next,
            form.email,
            Some("The console is for agents and admins."),
        );
    }
    let token = secrets::generate_token();
    let now = now_millis();
    let store = &state.store;
    if let Err(e) = store.purge_expired_console_sessions(now).await {
        tracing::warn!(error = %e, "could not purge expired console sessions");
    }
    if let Err(e) = store.create_console_session(user.id, &secrets::hash_token(&token), now, now + SESSION_TTL_MS).await
    {
        return internal(e).into_response();
    }
    tracing::info!(user_id = user.id, "console sign-in");
    audit::record(store, Actor::User(&user), action::SIGN_IN, None, Some(address), None).await;
    let mut response = Redirect::to(&next).into_response();
    let set = response.headers_mut();
    set.append(header::SET_COOKIE, session::set_cookie(secure, SESSION_COOKIE, &token, "/", "Lax", None));
    set.append(header::SET_COOKIE, session::set_cookie(secure, LOGIN_COOKIE, "", "/console/login", "Strict", Some(0)));
    response
}

#[derive(Debug, Deserialize)]
struct Empty {}

async fn logout(
    State(state): State<AppState>,
    address: ClientAddr,
    headers: HeaderMap,
    ConsoleForm(agent, _): ConsoleForm<Empty>,
) -> Response {
    if let Err(e) = state.store.delete_console_session(&agent.token_hash).await {
        return internal(e).into_response();
    }
    audit::record(&state.store, Actor::User(&agent.user), action::SIGN_OUT, None, Some(address), None).await;
    let secure = state.network.secure_cookies(&headers);
    let mut response = Redirect::to("/console/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(secure, SESSION_COOKIE, "", "/", "Lax", Some(0)));
    response
}

/// Whether the session still holds: the script asks after the live channel failed, to tell an
/// expired session (sign in again) from a server that is away (keep retrying).
async fn ping(_agent: Agent) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct EventsParams {
    after: Option<Id>,
}

/// How often an open console stream re-checks its session.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// The live channel. Ends when the session does (signed out elsewhere, expired), so a revoked
/// session stops receiving pops; the browser's reconnect then gets a 401. While it is open, the
/// agent has a console open (`cluster::has_open_console`), on whichever node serves it.
async fn events(
    State(state): State<AppState>,
    agent: Agent,
    headers: HeaderMap,
    Query(params): Query<EventsParams>,
) -> Result<Response, Refusal> {
    use futures_util::StreamExt;
    let last = crate::native::events::last_seen(&headers, params.after);
    let not_before = now_millis() - REPLAY_WINDOW_MS;
    let events = crate::native::events::hub_events(&state, agent.user.id, last, Some(not_before)).await?;
    let open = state.node.open_console_stream(&state.store, agent.user.id, &agent.token_hash).await?;
    let store = state.store.clone();
    let ended = async move {
        loop {
            tokio::time::sleep(SESSION_RECHECK).await;
            if let Ok(None) = store.console_session(&agent.token_hash, now_millis()).await {
                return;
            }
        }
    };
    // The stream owns the registration: when the browser goes away the body is dropped, and
    // with it the console's place in the count.
    let events = events.take_until(Box::pin(ended)).map(move |event| {
        let _still_open = &open;
        event
    });
    Ok(crate::native::events::sse(events).into_response())
}

#[derive(Debug, Deserialize)]
struct PresenceForm {
    status: String,
}

async fn set_presence(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConsoleForm(agent, form): ConsoleForm<PresenceForm>,
) -> Result<Response, Refusal> {
    let presence = Presence::parse(&form.status)
        .ok_or_else(|| Refusal::BadForm(format!("`{}` is not available, away or do_not_disturb", form.status)))?;
    state.store.set_presence(agent.user.id, presence).await?;
    state
        .hub
        .publish(kinds::PRESENCE_CHANGED, None, json!({"user_id": agent.user.id, "status": presence.as_str()}))
        .await?;
    Ok(done_or_back(&headers, "/console/journal"))
}

/// After a POST: a script gets 204; a plain form goes back where it came from.
pub(crate) fn done_or_back(headers: &HeaderMap, fallback: &str) -> Response {
    if headers.contains_key(FETCH_HEADER) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("/console").map(|i| r[i..].to_owned()))
        .unwrap_or_else(|| fallback.to_owned());
    Redirect::to(&safe_next(Some(&back))).into_response()
}

/// Staff for assignee pickers and the journal's agent filter.
pub(crate) async fn staff(state: &AppState) -> Result<Vec<(Id, String)>, Refusal> {
    let mut all = state.store.staff_names().await?;
    all.sort_by_cached_key(|(_, name)| name.to_lowercase());
    Ok(all)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sign_in_only_returns_to_console_pages() {
        use super::safe_next;
        assert_eq!(safe_next(Some("/console/tickets/5")), "/console/tickets/5");
        assert_eq!(safe_next(Some("//evil.example/console")), "/console/journal");
        assert_eq!(safe_next(Some("https://evil.example/console")), "/console/journal");
        assert_eq!(safe_next(Some("/console\\@evil")), "/console/journal");
        assert_eq!(safe_next(None), "/console/journal");
    }
}
