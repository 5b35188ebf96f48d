//! CTI settings for admins: the same configuration `PUT /api/hub/cti/config` replaces, edited
//! as one-rule-per-line text so an admin can paste a list from a spreadsheet.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::Id;
use ctihub_domain::cti::{BlockedCaller, CtiConfig, NotifyRule, Route};
use serde::Deserialize;

use super::Layout;
use super::session::{Admin, AdminForm, Refusal};
use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::client::ClientAddr;
use crate::cti::config::new_token;
use crate::cti::{load_config, push_path, save_config};
use crate::freshdesk::FreshdeskCtiConfig;

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_cti.html")]
pub(crate) struct CtiPage {
    layout: Layout,
    enabled: bool,
    push_path: String,
    region: String,
    block_list: String,
    routing_table: String,
    default_caller_id: String,
    notify_map: String,
    view_limit: i64,
    retention_days: i64,
    /// Freshdesk's "New Ticket" option (a document of its own, read by the Freshdesk pop).
    freshdesk_new_ticket: bool,
    error: String,
}

fn page(layout: Layout, config: &CtiConfig, region: &str, freshdesk: &FreshdeskCtiConfig, error: String) -> CtiPage {
    CtiPage {
        layout,
        enabled: config.enabled,
        push_path: config.token.as_deref().map(push_path).unwrap_or_default(),
        region: region.to_owned(),
        block_list: config
            .inbound
            .block_caller_ids
            .iter()
            .map(|b| join(&[&b.caller_id, &b.note]))
            .collect::<Vec<_>>()
            .join("\n"),
        routing_table: config
            .outbound
            .routing_table
            .iter()
            .map(|r| join(&[&r.dest, &r.caller_id, &r.note]))
            .collect::<Vec<_>>()
            .join("\n"),
        default_caller_id: config.outbound.default_caller_id.clone(),
        notify_map: config
            .notify_map
            .iter()
            .map(|n| {
                let ids: Vec<String> = n.user_ids.iter().map(Id::to_string).collect();
                format!("{} | {}", n.queue, ids.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n"),
        view_limit: config.view_limit,
        retention_days: config.retention_days,
        freshdesk_new_ticket: freshdesk.new_ticket,
        error,
    }
}

fn join(parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().map(|p| p.trim()).collect();
    let keep = parts.iter().rposition(|p| !p.is_empty()).map_or(1, |i| i + 1);
    parts[..keep.max(1)].join(" | ")
}

/// Non-empty lines split on `|` into trimmed cells.
fn lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(|c| c.trim().to_owned()).collect())
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CtiForm {
    /// A checkbox: present when ticked.
    enabled: Option<String>,
    #[serde(default)]
    block_list: String,
    #[serde(default)]
    routing_table: String,
    #[serde(default)]
    default_caller_id: String,
    #[serde(default)]
    notify_map: String,
    view_limit: Option<i64>,
    retention_days: Option<i64>,
}

/// Apply the form to `config`; the first problem found is reported with its line.
fn apply(form: &CtiForm, config: &mut CtiConfig) -> Result<(), String> {
    config.enabled = form.enabled.is_some();
    config.inbound.block_caller_ids = lines(&form.block_list)
        .into_iter()
        .map(|cells| BlockedCaller { caller_id: cells[0].clone(), note: cells.get(1).cloned().unwrap_or_default() })
        .collect();
    let mut routes = Vec::new();
    for (i, cells) in lines(&form.routing_table).into_iter().enumerate() {
        let Some(caller_id) = cells.get(1).filter(|c| !c.is_empty()) else {
            return Err(format!("routing table, line {}: write `destination | caller id | note`", i + 1));
        };
        routes.push(Route {
            dest: cells[0].clone(),
            caller_id: caller_id.clone(),
            note: cells.get(2).cloned().unwrap_or_default(),
        });
    }
    config.outbound.routing_table = routes;
    config.outbound.default_caller_id = form.default_caller_id.trim().to_owned();
    let mut rules = Vec::new();
    for (i, cells) in lines(&form.notify_map).into_iter().enumerate() {
        let ids = cells.get(1).map(String::as_str).unwrap_or("");
        let user_ids = ids
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Id>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("notify map, line {}: write `queue | user id user id …`", i + 1))?;
        if user_ids.is_empty() {
            return Err(format!("notify map, line {}: name at least one user id after `|`", i + 1));
        }
        rules.push(NotifyRule { queue: cells[0].clone(), user_ids });
    }
    config.notify_map = rules;
    if let Some(limit) = form.view_limit {
        config.view_limit = limit;
    }
    if let Some(days) = form.retention_days {
        config.retention_days = days;
    }
    Ok(())
}

pub(crate) async fn cti_form(State(state): State<AppState>, Admin(admin): Admin) -> Result<CtiPage, Refusal> {
    let config = load_config(&state.store).await?;
    let freshdesk = crate::freshdesk::load_config(&state.store).await?;
    let layout = Layout::new(&state, &admin, "CTI settings", "admin").await?;
    Ok(page(layout, &config, state.store.phones().region().code(), &freshdesk, String::new()))
}

pub(crate) async fn save_cti(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<CtiForm>,
) -> Result<Response, Refusal> {
    let mut config = load_config(&state.store).await?;
    let region = state.store.phones().region().code().to_owned();
    let outcome = match apply(&form, &mut config) {
        Ok(()) => {
            // Enabling without a token creates one, as the API does.
            if config.enabled && config.token.is_none() {
                config.token = Some(new_token());
            }
            save_config(&state.store, &config).await.map_err(|e| match e {
                ctihub_store::StoreError::Invalid(e) => format!("{}: {}", e.field, e.message),
                other => other.to_string(),
            })
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => {
            audit::record(
                &state.store,
                Actor::User(&agent.user),
                action::CTI_CONFIG_CHANGED,
                None,
                Some(address),
                None,
            )
            .await;
            Ok(Redirect::to("/console/admin/cti").into_response())
        }
        Err(error) => {
            let freshdesk = crate::freshdesk::load_config(&state.store).await?;
            let layout = Layout::new(&state, &agent, "CTI settings", "admin").await?;
            let mut shown = page(layout, &config, &region, &freshdesk, error);
            // Show what the admin typed, not the stored values, so nothing is lost.
            shown.block_list = form.block_list;
            shown.routing_table = form.routing_table;
            shown.notify_map = form.notify_map;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, shown).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}

/// Issue a new push token; the old push URL stops working at once.
pub(crate) async fn rotate_token(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, _): AdminForm<Empty>,
) -> Result<Response, Refusal> {
    let mut config = load_config(&state.store).await?;
    config.token = Some(new_token());
    save_config(&state.store, &config).await?;
    audit::record(&state.store, Actor::User(&agent.user), action::CTI_TOKEN_ROTATED, None, Some(address), None).await;
    Ok(Redirect::to("/console/admin/cti").into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct FreshdeskForm {
    /// A checkbox: present when ticked.
    new_ticket: Option<String>,
}

/// Freshdesk's options are a form of their own: saving them must not resubmit (and possibly
/// fail on) the generic integration's rules.
pub(crate) async fn save_freshdesk(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<FreshdeskForm>,
) -> Result<Response, Refusal> {
    let mut config = crate::freshdesk::load_config(&state.store).await?;
    config.new_ticket = form.new_ticket.is_some();
    crate::freshdesk::save_config(&state.store, &config).await?;
    let detail = Some(format!("new_ticket={}", config.new_ticket));
    audit::record(&state.store, Actor::User(&agent.user), action::FRESHDESK_CTI_CHANGED, None, Some(address), detail)
        .await;
    Ok(Redirect::to("/console/admin/cti").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_one_per_line() {
        let form = CtiForm {
            enabled: Some("on".into()),
            block_list: "0301234 | spam\n\n+4930999\n".into(),
            routing_table: "49* | 4930600 | Germany".into(),
            notify_map: "support | 12 13, 14".into(),
            ..Default::default()
        };
        let mut config = CtiConfig::default();
        apply(&form, &mut config).unwrap();
        assert!(config.enabled);
        assert_eq!(config.inbound.block_caller_ids.len(), 2);
        assert_eq!(config.inbound.block_caller_ids[0].note, "spam");
        assert_eq!(config.outbound.routing_table[0].caller_id, "4930600");
        assert_eq!(config.notify_map[0].user_ids, vec![12, 13, 14]);
        assert_eq!(join(&["+4930999", ""]), "+4930999");

        let bad = CtiForm { notify_map: "support | anna".into(), ..Default::default() };
        assert!(apply(&bad, &mut config).unwrap_err().contains("notify map, line 1"));
        let bad = CtiForm { routing_table: "49*".into(), ..Default::default() };
        assert!(apply(&bad, &mut config).unwrap_err().contains("routing table, line 1"));
    }
}
