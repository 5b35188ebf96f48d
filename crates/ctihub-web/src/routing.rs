//! Routing rules at work: stored as one settings document, checked against the store on save,
//! applied wherever a call becomes a ticket (every dialect goes through [`apply`]) and answered
//! by the IVR data dip through [`decide`], so both give the same decision.

use ctihub_domain::call::{CallData, Direction};
use ctihub_domain::routing::{CallFacts, Decision, RoutingConfig, SETTING};
use ctihub_domain::ticket::NewTicket;
use ctihub_domain::user::User;
use ctihub_store::{Store, StoreError, StoreResult};
use serde_json::Value;

/// The call-detail key TPE uses; routing fills it when the partner did not say.
const OUTSIDE_BUSINESS_HOURS: &str = "outside_business_hours";

pub async fn load(store: &Store) -> StoreResult<RoutingConfig> {
    Ok(store.get_setting(SETTING).await?.unwrap_or_default())
}

/// Check the rules, and that every group and agent they name exists, then store them.
pub async fn save(store: &Store, config: &RoutingConfig) -> StoreResult<()> {
    config.validate()?;
    for (i, rule) in config.rules.iter().enumerate() {
        if let Some(group) = rule.then.group_id
            && matches!(store.get_group(group).await, Err(StoreError::NotFound { .. }))
        {
            return Err(StoreError::invalid(
                format!("rules[{i}].then.group_id"),
                format!("group {group} does not exist"),
            ));
        }
        if let Some(agent) = rule.then.assignee_id {
            let user = match store.get_user(agent).await {
                Ok(user) => user,
                Err(StoreError::NotFound { .. }) => {
                    return Err(StoreError::invalid(
                        format!("rules[{i}].then.assignee_id"),
                        format!("user {agent} does not exist"),
                    ));
                }
                Err(e) => return Err(e),
            };
            if !user.role.is_staff() || !user.active {
                return Err(StoreError::invalid(
                    format!("rules[{i}].then.assignee_id"),
                    format!("user {agent} is not an active agent"),
                ));
            }
        }
    }
    store.put_setting(SETTING, config).await
}

/// The number the caller dialed: the DNIS when the PBX sent one, else the called line; for an
/// outbound call, the line it was made from.
pub fn dialed_number(call: &CallData) -> &str {
    match call.direction {
        Direction::Outbound => &call.from_line,
        _ => call.dnis.as_deref().filter(|d| !d.trim().is_empty()).unwrap_or(&call.to_line),
    }
}

/// Whether a call came in outside its line's business hours, recorded on the call (the TPE
/// field `outside_business_hours`) when its source did not say. A number no line lists gets
/// nothing: unknown is not "open".
pub async fn note_business_hours(store: &Store, call: &mut CallData) -> StoreResult<()> {
    if reported_hours(call) {
        return Ok(());
    }
    let config = load(store).await?;
    if let Some(line) = config.line_for(dialed_number(call), store.phones()) {
        call.details.insert(OUTSIDE_BUSINESS_HOURS.into(), Value::Bool(line.outside_hours(call.started_at)));
    }
    Ok(())
}

fn reported_hours(call: &CallData) -> bool {
    call.details.get(OUTSIDE_BUSINESS_HOURS).is_some_and(|v| !v.is_null())
}

/// Route a call whose caller is `caller` (the best identified user, or the ticket's requester).
pub async fn decide(
    store: &Store,
    config: &RoutingConfig,
    dialed: &str,
    started_at: i64,
    caller: Option<&User>,
) -> StoreResult<Decision> {
    let organization_tags = match caller.and_then(|u| u.organization_id) {
        // Rules on organization tags are rare; only read the organization when one exists.
        Some(org) if config.rules.iter().any(|r| r.when.organization_tag.is_some()) => {
            match store.get_organization(org).await {
                Ok(org) => org.tags,
                Err(StoreError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e),
            }
        }
        _ => Vec::new(),
    };
    let user_tags = caller.map(|u| u.tags.as_slice()).unwrap_or_default();
    let facts = CallFacts { dialed, started_at, user_tags, organization_tags: &organization_tags };
    Ok(config.decide(&facts, store.phones()))
}

/// Apply the rules to a ticket about to be created from `call`: fill the group, assignee,
/// priority and tags the request left open, and record `outside_business_hours` on the call
/// when its source did not report it (the caller stores `call` afterwards). The ticket's
/// requester is the caller the rules look at.
pub async fn apply(store: &Store, call: &mut CallData, ticket: &mut NewTicket) -> StoreResult<Decision> {
    let decision = route_ticket(store, dialed_number(call), call.started_at, ticket).await?;
    if let Some(outside) = decision.outside_business_hours
        && !reported_hours(call)
    {
        call.details.insert(OUTSIDE_BUSINESS_HOURS.into(), Value::Bool(outside));
    }
    Ok(decision)
}

/// The same for a ticket about a call ctihub holds no record of (a voice ticket an integration
/// creates with only the numbers): `dialed` is the number the caller dialed, `started_at` when.
pub async fn route_ticket(
    store: &Store,
    dialed: &str,
    started_at: i64,
    ticket: &mut NewTicket,
) -> StoreResult<Decision> {
    let config = load(store).await?;
    if config.lines.is_empty() && config.rules.is_empty() {
        return Ok(Decision::default());
    }
    let requester = store.get_user(ticket.requester_id).await?;
    let mut decision = decide(store, &config, dialed, started_at, Some(&requester)).await?;
    // An agent demoted or deactivated since the rules were saved must not make the call's
    // ticket fail; the ticket stays unassigned instead.
    if let Some(agent) = decision.assignee_id
        && !store.get_user(agent).await.is_ok_and(|u| u.role.is_staff() && u.active)
    {
        tracing::warn!(rule = ?decision.rule_index, agent, "routing rule names an agent who cannot take tickets");
        decision.assignee_id = None;
    }
    decision.fill_ticket(ticket);
    Ok(decision)
}
