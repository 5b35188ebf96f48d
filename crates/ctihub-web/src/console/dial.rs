//! Click-to-dial: a click on a phone number in the console makes the server call the admin's
//! callback with Freshdesk's parameters (`requester_number`, `agent_number`, `agent_id`,
//! `ticket_id`, `requester_id`): in the query string for GET, as a JSON object for POST.
//! The server calls, not the browser, so the dialer needs no CORS headers and the URL (which
//! may carry a secret) never reaches a page.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ctihub_domain::Id;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
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
    let request = match settings.dial_method {
        DialMethod::Get => {
            let id = |v: Option<Id>| v.map(|v| v.to_string()).unwrap_or_default();
            url.query_pairs_mut()
                .append_pair("requester_number", &params.requester_number)
                .append_pair("agent_number", &params.agent_number)
                .append_pair("agent_id", &params.agent_id.to_string())
                .append_pair("ticket_id", &id(params.ticket_id))
                .append_pair("requester_id", &id(params.requester_id));
            Request::get(url.as_str()).body(Full::default())
        }
        DialMethod::Post => {
            let body = serde_json::to_vec(&params).map_err(super::internal)?;
            Request::post(url.as_str()).header(header::CONTENT_TYPE, "application/json").body(Full::from(body))
        }
    };
    let request = request.map_err(super::internal)?;
    let client = dialer_client().map_err(super::internal)?;
    // Never log the URL: it may carry the dialer's secret.
    match tokio::time::timeout(TIMEOUT, client.request(request)).await {
        Ok(Ok(response)) if response.status().is_success() => {
            tracing::info!(agent_id = agent.user.id, "click-to-dial callback accepted");
            Ok(answer(&headers, StatusCode::OK, format!("Calling {}…", params.requester_number)))
        }
        Ok(Ok(response)) => {
            let status = response.status();
            tracing::warn!(agent_id = agent.user.id, %status, "click-to-dial callback refused");
            Ok(answer(&headers, StatusCode::BAD_GATEWAY, format!("The dialer refused the call (HTTP {status}).")))
        }
        Ok(Err(e)) => {
            tracing::warn!(agent_id = agent.user.id, error = %e, "click-to-dial callback failed");
            Ok(answer(&headers, StatusCode::BAD_GATEWAY, "The dialer could not be reached.".into()))
        }
        Err(_) => {
            tracing::warn!(agent_id = agent.user.id, "click-to-dial callback timed out");
            Ok(answer(&headers, StatusCode::BAD_GATEWAY, "The dialer did not answer in time.".into()))
        }
    }
}

type DialerClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The one client every click-to-dial call goes through: HTTP or HTTPS, certificates checked
/// against the system's CAs (loaded once). The TLS provider (ring) is given to this connector
/// alone, so nothing else in the process depends on a global one.
fn dialer_client() -> std::io::Result<&'static DialerClient> {
    static CLIENT: std::sync::OnceLock<DialerClient> = std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
        Ok(builder) => builder,
        // Without a CA store plain-HTTP dialers still work; https ones fail to verify, and say so.
        Err(e) => {
            tracing::warn!(error = %e, "no system CA certificates; https click-to-dial callbacks cannot be verified");
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(std::io::Error::other)?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let https = builder.https_or_http().enable_http1().build();
    Ok(CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build(https)))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn callbacks_may_be_https() {
        // Nothing listens on port 9: an https URL gets as far as a refused TCP connection. A
        // client without TLS fails before connecting ("scheme is not http"), with no I/O error.
        let request = axum::http::Request::get("https://127.0.0.1:9/dial").body(Default::default()).unwrap();
        let error = super::dialer_client().unwrap().request(request).await.unwrap_err();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        let mut refused = false;
        while let Some(e) = source {
            refused |=
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            source = e.source();
        }
        assert!(refused, "{error:?}");
    }
}
