//! The routing rules for admins: the evaluation order shown as a numbered list in words, and the
//! rule document (the same JSON `PUT /api/hub/routing` takes) to edit, since an ordered list of
//! rules with nested conditions reads better as one document than as dozens of form fields.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::routing::{HoursCondition, Line, RoutingConfig, Rule};
use serde::Deserialize;

use super::Layout;
use super::session::{Admin, AdminForm, Refusal};
use crate::audit::{self, Actor, action};
use crate::client::ClientAddr;
use crate::{AppState, routing};

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_routing.html")]
pub(crate) struct RoutingPage {
    layout: Layout,
    lines: Vec<String>,
    rules: Vec<String>,
    document: String,
    error: String,
}

/// A line in words: `Hotline (+1 800 555 0100, UTC): mon tue 09:00–17:00`.
fn describe_line(line: &Line) -> String {
    let hours: Vec<String> = line
        .hours
        .iter()
        .map(|h| {
            let days: Vec<&str> = h.days.iter().map(|d| d.as_str()).collect();
            format!("{} {}–{}", days.join(" "), h.open, h.close)
        })
        .collect();
    let hours = if hours.is_empty() { "always open".to_owned() } else { hours.join(", ") };
    let name =
        if line.name.trim().is_empty() { line.number.clone() } else { format!("{} ({})", line.name, line.number) };
    format!("{name}, {}: {hours}", line.time_zone)
}

/// A rule in words: `when dialed 1800* and outside hours → group 12, tags vip`.
fn describe_rule(rule: &Rule, groups: &[(i64, String)]) -> String {
    let when = &rule.when;
    let mut conditions = Vec::new();
    if let Some(d) = &when.dialed {
        conditions.push(format!("dialed {d}"));
    }
    if let Some(t) = &when.user_tag {
        conditions.push(format!("caller tagged {t}"));
    }
    if let Some(t) = &when.organization_tag {
        conditions.push(format!("organization tagged {t}"));
    }
    match when.hours {
        Some(HoursCondition::Inside) => conditions.push("inside business hours".into()),
        Some(HoursCondition::Outside) => conditions.push("outside business hours".into()),
        None => {}
    }
    let when = if conditions.is_empty() { "every call".to_owned() } else { conditions.join(" and ") };
    let mut actions = Vec::new();
    if let Some(id) = rule.then.group_id {
        let name = groups.iter().find(|(g, _)| *g == id).map_or_else(|| format!("#{id}"), |(_, n)| n.clone());
        actions.push(format!("group {name}"));
    }
    if let Some(agent) = rule.then.assignee_id {
        actions.push(format!("agent #{agent}"));
    }
    if let Some(p) = rule.then.priority {
        actions.push(format!("priority {}", p.as_str()));
    }
    if !rule.then.tags.is_empty() {
        actions.push(format!("tags {}", rule.then.tags.join(" ")));
    }
    let name = if rule.name.trim().is_empty() { String::new() } else { format!("{}: ", rule.name.trim()) };
    format!("{name}{when} → {}", actions.join(", "))
}

async fn page(
    state: &AppState,
    layout: Layout,
    config: &RoutingConfig,
    document: String,
    error: String,
) -> Result<RoutingPage, Refusal> {
    let groups: Vec<(i64, String)> = state.store.list_groups().await?.into_iter().map(|g| (g.id, g.name)).collect();
    Ok(RoutingPage {
        layout,
        lines: config.lines.iter().map(describe_line).collect(),
        rules: config.rules.iter().map(|r| describe_rule(r, &groups)).collect(),
        document,
        error,
    })
}

fn pretty(config: &RoutingConfig) -> String {
    serde_json::to_string_pretty(config).unwrap_or_default()
}

pub(crate) async fn form(State(state): State<AppState>, Admin(admin): Admin) -> Result<RoutingPage, Refusal> {
    let config = routing::load(&state.store).await?;
    let layout = Layout::new(&state, &admin, "Routing", "routing").await?;
    page(&state, layout, &config, pretty(&config), String::new()).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RoutingForm {
    #[serde(default)]
    document: String,
}

pub(crate) async fn save(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<RoutingForm>,
) -> Result<Response, Refusal> {
    let text = if form.document.trim().is_empty() { "{}" } else { form.document.as_str() };
    let outcome = match serde_json::from_str::<RoutingConfig>(text) {
        Ok(config) => routing::save(&state.store, &config).await.map_err(|e| match e {
            ctihub_store::StoreError::Invalid(e) => format!("{}: {}", e.field, e.message),
            other => other.to_string(),
        }),
        Err(e) => Err(format!("the document is not valid: {e}")),
    };
    match outcome {
        Ok(()) => {
            audit::record(&state.store, Actor::User(&agent.user), action::ROUTING_CHANGED, None, Some(address), None)
                .await;
            Ok(Redirect::to("/console/admin/routing").into_response())
        }
        Err(error) => {
            // Show the stored rules in words but keep what the admin typed, so nothing is lost.
            let config = routing::load(&state.store).await?;
            let layout = Layout::new(&state, &agent, "Routing", "routing").await?;
            let shown = page(&state, layout, &config, form.document, error).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, shown).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_lines_read_as_words() {
        let config: RoutingConfig = serde_json::from_value(serde_json::json!({
            "lines": [{"number": "+18005550100", "name": "Hotline",
                       "hours": [{"days": ["mon", "fri"], "open": "09:00", "close": "17:00"}]},
                      {"number": "200"}],
            "rules": [{"name": "night", "when": {"dialed": "1800*", "hours": "outside"}, "then": {"group_id": 7}},
                      {"when": {"user_tag": "vip"}, "then": {"priority": "urgent", "tags": ["vip"]}},
                      {"then": {"assignee_id": 3}}],
        }))
        .unwrap();
        assert_eq!(describe_line(&config.lines[0]), "Hotline (+18005550100), UTC: mon fri 09:00–17:00");
        assert_eq!(describe_line(&config.lines[1]), "200, UTC: always open");
        let groups = vec![(7, "Night shift".to_owned())];
        assert_eq!(
            describe_rule(&config.rules[0], &groups),
            "night: dialed 1800* and outside business hours → group Night shift"
        );
        assert_eq!(describe_rule(&config.rules[1], &groups), "caller tagged vip → priority urgent, tags vip");
        assert_eq!(describe_rule(&config.rules[2], &groups), "every call → agent #3");
    }
}
