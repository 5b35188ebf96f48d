//! The softphone slot and click-to-dial settings (issues 6 and 7, after Freshdesk's CTI
//! framework): an admin names a softphone page, which the top bar frames with the signed-in
//! agent's id (and helpdesk number) appended, the helpdesk numbers agents choose from, and the
//! callback a click on a phone number makes the server call (`dial`).
//!
//! The callback URL may hold a secret (a token in its query), so it is never sent to browsers:
//! pages only learn whether click-to-dial is on.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::Id;
use ctihub_domain::user::User;
use ctihub_store::{Store, StoreResult};
use serde::{Deserialize, Serialize};
use url::Url;

use super::session::{Admin, AdminForm, ConsoleForm, Refusal};
use super::{Layout, done_or_back};
use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::client::ClientAddr;

const SETTING: &str = "console_softphone";

/// Each agent's helpdesk number is a setting of its own: agents choose, admins cannot freeze it.
fn number_setting(agent: Id) -> String {
    format!("console_softphone_number.{agent}")
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DialMethod {
    /// The parameters in the query string.
    #[default]
    Get,
    /// The parameters as a JSON object.
    Post,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SoftphoneSettings {
    /// The softphone's page; empty: no softphone slot.
    pub iframe_url: String,
    pub helpdesk_numbers: Vec<String>,
    /// The click-to-dial callback; empty: phone numbers stay plain `tel:` links.
    pub dial_url: String,
    pub dial_method: DialMethod,
}

pub(crate) async fn load(store: &Store) -> StoreResult<SoftphoneSettings> {
    Ok(store.get_setting(SETTING).await?.unwrap_or_default())
}

/// An absolute http(s) URL, or nothing for an empty field. Other schemes (`javascript:`,
/// `file:`) are refused: the first would run in the console, the second means nothing to a
/// server.
pub(crate) fn web_url(what: &str, text: &str) -> Result<Option<Url>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(text).map_err(|e| format!("{what}: `{text}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{what}: `{text}` must start with http:// or https:// and name a host"));
    }
    Ok(Some(url))
}

/// The origin the softphone's messages must come from (and the console's CSP lets it frame).
pub(crate) fn frame_origin(settings: &SoftphoneSettings) -> Option<String> {
    let url = web_url("softphone URL", &settings.iframe_url).ok().flatten()?;
    Some(url.origin().ascii_serialization())
}

/// The number the agent chose, if it is still one the admin offers.
async fn chosen_number(store: &Store, settings: &SoftphoneSettings, agent: Id) -> StoreResult<String> {
    let chosen: Option<String> = store.get_setting(&number_setting(agent)).await?;
    Ok(chosen.filter(|n| settings.helpdesk_numbers.contains(n)).unwrap_or_default())
}

/// What the dialer is told the agent's number is: their helpdesk number, else their extension.
pub(crate) async fn agent_number(store: &Store, settings: &SoftphoneSettings, agent: &User) -> StoreResult<String> {
    let chosen = chosen_number(store, settings, agent.id).await?;
    Ok(if chosen.is_empty() { agent.extension.clone().unwrap_or_default() } else { chosen })
}

/// The softphone's frame: its page with `agent_id` (and `number`) appended to its query.
pub(crate) struct Slot {
    pub src: String,
    pub origin: String,
}

/// What the top bar shows of all this.
#[derive(Default)]
pub(crate) struct TopBar {
    pub slot: Option<Slot>,
    pub numbers: Vec<String>,
    pub number: String,
    pub click_to_dial: bool,
}

pub(crate) async fn top_bar(store: &Store, agent: Id) -> StoreResult<TopBar> {
    let settings = load(store).await?;
    let number = chosen_number(store, &settings, agent).await?;
    let slot = web_url("softphone URL", &settings.iframe_url).ok().flatten().map(|mut url| {
        let origin = url.origin().ascii_serialization();
        url.query_pairs_mut().append_pair("agent_id", &agent.to_string());
        if !number.is_empty() {
            url.query_pairs_mut().append_pair("number", &number);
        }
        Slot { src: url.to_string(), origin }
    });
    Ok(TopBar { slot, numbers: settings.helpdesk_numbers, number, click_to_dial: !settings.dial_url.is_empty() })
}

#[derive(Debug, Deserialize)]
pub(crate) struct NumberForm {
    #[serde(default)]
    number: String,
}

/// An agent picks their helpdesk number ("" for none).
pub(crate) async fn choose_number(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConsoleForm(agent, form): ConsoleForm<NumberForm>,
) -> Result<Response, Refusal> {
    let settings = load(&state.store).await?;
    let number = form.number.trim();
    if !number.is_empty() && !settings.helpdesk_numbers.iter().any(|n| n == number) {
        return Err(Refusal::BadForm(format!("`{number}` is not one of the helpdesk numbers")));
    }
    state.store.put_setting(&number_setting(agent.user.id), &number).await?;
    Ok(done_or_back(&headers, "/console/journal"))
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_softphone.html")]
pub(crate) struct SettingsPage {
    layout: Layout,
    iframe_url: String,
    helpdesk_numbers: String,
    dial_url: String,
    dial_post: bool,
    error: String,
}

fn settings_page(layout: Layout, form: &SettingsForm, error: String) -> SettingsPage {
    SettingsPage {
        layout,
        iframe_url: form.iframe_url.clone(),
        helpdesk_numbers: form.helpdesk_numbers.clone(),
        dial_url: form.dial_url.clone(),
        dial_post: form.dial_method == "post",
        error,
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(default)]
    iframe_url: String,
    /// One per line.
    #[serde(default)]
    helpdesk_numbers: String,
    #[serde(default)]
    dial_url: String,
    #[serde(default)]
    dial_method: String,
}

impl SettingsForm {
    fn of(settings: &SoftphoneSettings) -> SettingsForm {
        SettingsForm {
            iframe_url: settings.iframe_url.clone(),
            helpdesk_numbers: settings.helpdesk_numbers.join("\n"),
            dial_url: settings.dial_url.clone(),
            dial_method: if settings.dial_method == DialMethod::Post { "post" } else { "get" }.into(),
        }
    }

    fn read(&self) -> Result<SoftphoneSettings, String> {
        let iframe_url = web_url("Softphone page", &self.iframe_url)?.map(String::from).unwrap_or_default();
        let dial_url = web_url("Click-to-dial callback", &self.dial_url)?.map(String::from).unwrap_or_default();
        let dial_method = match self.dial_method.trim().to_ascii_lowercase().as_str() {
            "" | "get" => DialMethod::Get,
            "post" => DialMethod::Post,
            other => return Err(format!("Click-to-dial request type: `{other}` is not GET or POST")),
        };
        let mut helpdesk_numbers: Vec<String> = Vec::new();
        for number in self.helpdesk_numbers.lines().map(str::trim).filter(|n| !n.is_empty()) {
            if !helpdesk_numbers.iter().any(|n| n == number) {
                helpdesk_numbers.push(number.to_owned());
            }
        }
        Ok(SoftphoneSettings { iframe_url, helpdesk_numbers, dial_url, dial_method })
    }
}

pub(crate) async fn settings_form(State(state): State<AppState>, Admin(admin): Admin) -> Result<SettingsPage, Refusal> {
    let settings = load(&state.store).await?;
    let layout = Layout::new(&state, &admin, "Softphone and click-to-dial", "softphone").await?;
    Ok(settings_page(layout, &SettingsForm::of(&settings), String::new()))
}

pub(crate) async fn save_settings(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<SettingsForm>,
) -> Result<Response, Refusal> {
    match form.read() {
        Ok(settings) => {
            state.store.put_setting(SETTING, &settings).await?;
            audit::record(&state.store, Actor::User(&agent.user), action::SOFTPHONE_CHANGED, None, Some(address), None)
                .await;
            Ok(Redirect::to("/console/admin/softphone").into_response())
        }
        Err(error) => {
            let layout = Layout::new(&state, &agent, "Softphone and click-to-dial", "softphone").await?;
            // What the admin typed stays in the form, so nothing is lost.
            Ok((StatusCode::UNPROCESSABLE_ENTITY, settings_page(layout, &form, error)).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_taken() {
        assert_eq!(web_url("x", "  ").unwrap(), None);
        assert!(web_url("x", "https://phone.example/app?k=1").unwrap().is_some());
        assert!(web_url("x", "javascript:alert(1)").unwrap_err().contains("must start with http:// or https://"));
        assert!(web_url("x", "ftp://phone.example/").is_err());
        assert!(web_url("x", "phone.example/app").unwrap_err().contains("is not a URL"));
    }

    #[test]
    fn the_form_reads_numbers_one_per_line_and_the_request_type() {
        let form = SettingsForm {
            iframe_url: "https://phone.example/app".into(),
            helpdesk_numbers: "+49 30 600\n\n+1 800 555 0100\n+49 30 600".into(),
            dial_url: "http://127.0.0.1:9/dial?secret=s".into(),
            dial_method: "POST".into(),
        };
        let settings = form.read().unwrap();
        assert_eq!(settings.helpdesk_numbers, ["+49 30 600", "+1 800 555 0100"]);
        assert_eq!(settings.dial_method, DialMethod::Post);
        assert_eq!(frame_origin(&settings).as_deref(), Some("https://phone.example"));
        let bad = SettingsForm { dial_method: "PUT".into(), ..form };
        assert!(bad.read().unwrap_err().contains("is not GET or POST"));
    }
}
