//! Click-to-dial: a click on a phone number in the console makes the server call the admin's
//! callback with Freshdesk's parameters (`requester_number`, `agent_number`, `agent_id`,
//! `ticket_id`, `requester_id`): in the query string for GET, as a JSON object for POST.
//! The server calls, not the browser, so the dialer needs no CORS headers and the URL (which
//! may carry a secret) never reaches a page.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ctihub_domain::Id;
use serde::{Deserialize, Serialize};

use super::session::{ConsoleForm, FETCH_HEADER, Refusal};
use super::softphone::{self, DialMethod};
use crate::AppState;

/// A dialer that has not answered by then will not; the agent should know soon.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
pub(crate) struct DialForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    ticket_id: String,
    #[serde(default)]
    requester_id: String,
}

/// What the callback receives; absent ids are empty in a query string and `null` in JSON.
#[derive(Debug, Serialize)]
struct Params {
    requester_number: String,
    agent_number: String,
    agent_id: Id,
    ticket_id: Option<Id>,
    requester_id: Option<Id>,
}

fn optional_id(field: &str, text: &str) -> Result<Option<Id>, Refusal> {
    match text.trim() {
        "" => Ok(None),
        id => id.parse().map(Some).map_err(|_| Refusal::BadForm(format!("{field}: `{id}` is not an id"))),
    }
}

/// The outcome as the console's script reads it (and a person would, without the script).
#[derive(Debug, Serialize)]
struct Outcome {
    ok: bool,
    message: String,
}

fn answer(headers: &HeaderMap, status: StatusCode, message: String) -> Response {
    if headers.contains_key(FETCH_HEADER) {
        return (status, Json(Outcome { ok: status.is_success(), message })).into_response();
    }
    // Posted without the script (a hand-made form): back to the page, or a page saying why not.
    if status.is_success() {
        return super::done_or_back(headers, "/console/journal");
    }
    super::error_page(status, &message)
}

pub(crate) async fn dial(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConsoleForm(agent, form): ConsoleForm<DialForm>,
) -> Result<Response, Refusal> {
    let settings = softphone::load(&state.store).await?;
    let Some(mut url) = softphone::web_url("click-to-dial callback", &settings.dial_url).map_err(Refusal::BadForm)?
    else {
        return Ok(answer(&headers, StatusCode::CONFLICT, "Click-to-dial is not set up: ask an admin.".into()));
    };
    let number = form.number.trim().trim_start_matches("tel:").to_owned();
    if number.is_empty() {
        return Err(Refusal::BadForm("there is no number to dial".into()));
    }
    let params = Params {
        requester_number: number,
        agent_number: softphone::agent_number(&state.store, &settings, &agent.user).await?,
        agent_id: agent.user.id,
        ticket_id: optional_id("ticket_id", &form.ticket_id)?,
        requester_id: optional_id("requester_id", &form.requester_id)?,
    };
    let client = reqwest::Client::builder().timeout(TIMEOUT).build().map_err(super::internal)?;
    let request = match settings.dial_method {
        DialMethod::Get => {
            let id = |v: Option<Id>| v.map(|v| v.to_string()).unwrap_or_default();
            url.query_pairs_mut()
                .append_pair("requester_number", &params.requester_number)
                .append_pair("agent_number", &params.agent_number)
                .append_pair("agent_id", &params.agent_id.to_string())
                .append_pair("ticket_id", &id(params.ticket_id))
                .append_pair("requester_id", &id(params.requester_id));
            client.get(url)
        }
        DialMethod::Post => client.post(url).json(&params),
    };
    let https = settings.dial_url.trim_start().starts_with("https:");
    // Never log the URL: it may carry the dialer's secret.
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            tracing::info!(agent_id = agent.user.id, "click-to-dial callback accepted");
            Ok(answer(&headers, StatusCode::OK, format!("Calling {}…", params.requester_number)))
        }
        Ok(response) => {
            let status = response.status();
            tracing::warn!(agent_id = agent.user.id, %status, "click-to-dial callback refused");
            Ok(answer(&headers, StatusCode::BAD_GATEWAY, format!("The dialer refused the call (HTTP {status}).")))
        }
        Err(e) => {
            let why = match (e.is_timeout(), https) {
                (true, _) => "did not answer in time",
                // Built without a TLS stack (see docs/integrations/softphone.md).
                (false, true) => "could not be reached (this server calls dialers over plain HTTP only)",
                (false, false) => "could not be reached",
            };
            tracing::warn!(agent_id = agent.user.id, error = %e.without_url(), "click-to-dial callback failed");
            Ok(answer(&headers, StatusCode::BAD_GATEWAY, format!("The dialer {why}.")))
        }
    }
}
