//! The IVR data dip: while the caller is still in the IVR, one request answers who they are,
//! what they have open, whether the ticket number they typed is theirs, and where the routing
//! rules would send the call (the decision tickets made from the call will get).
//!
//! A handful of index probes: the caller index, the identified users' organizations, their open
//! tickets, their latest ticket, the typed ticket, the routing document.

use axum::Json;
use axum::extract::State;

use crate::extract::Query;
use ctihub_domain::routing::{CallFacts, Decision};
use ctihub_domain::time::{format_millis, now_millis, parse_timestamp};
use ctihub_domain::{Id, MAX_ID};
use ctihub_store::{OrganizationSummary, TicketSummary};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::StaffUser;
use crate::error::{ApiError, ErrorBody};
use crate::{AppState, routing};

/// Open tickets listed per dip; an IVR reads out a few, an agent's card shows the rest.
const OPEN_TICKETS: i64 = 10;

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct DipParams {
    /// The caller's number, in any format.
    from: String,
    /// The number the caller dialed (DNIS).
    #[serde(default)]
    to: String,
    /// What the caller typed in the IVR, such as a ticket number (`1234`, `#1234`, `1234#`).
    input: Option<String>,
    /// Evaluate the business hours as of this time (ISO 8601) instead of now.
    at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrganizationDto {
    id: Id,
    name: String,
    tags: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DipUser {
    id: Id,
    /// `known` (a phone field) or `maybe` (a number found in text the user wrote).
    level: String,
    name: String,
    email: Option<String>,
    role: String,
    tags: Vec<String>,
    organization: Option<OrganizationDto>,
    /// The user or their organization is tagged `vip`.
    vip: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketDto {
    id: Id,
    subject: String,
    status: String,
    priority: Option<String>,
    requester_id: Id,
    assignee_id: Option<Id>,
    group_id: Option<Id>,
    created_at: String,
    updated_at: String,
}

impl From<TicketSummary> for TicketDto {
    fn from(t: TicketSummary) -> Self {
        TicketDto {
            id: t.id,
            subject: t.subject,
            status: t.status.as_str().to_owned(),
            priority: t.priority.map(|p| p.as_str().to_owned()),
            requester_id: t.requester_id,
            assignee_id: t.assignee_id,
            group_id: t.group_id,
            created_at: format_millis(t.created_at),
            updated_at: format_millis(t.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InputAnswer {
    /// The input as typed.
    value: String,
    /// `belongs_to_caller`; `does_not_belong` (no such ticket, another requester's, or nobody
    /// identified: the three are not told apart, so a caller cannot probe ticket numbers); or
    /// `not_a_ticket_number`.
    result: String,
    /// Only when it belongs to the caller.
    ticket: Option<TicketDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoutingDto {
    rule_index: Option<usize>,
    rule_name: Option<String>,
    line: Option<String>,
    outside_business_hours: Option<bool>,
    group_id: Option<Id>,
    assignee_id: Option<Id>,
    priority: Option<String>,
    tags: Vec<String>,
}

impl From<Decision> for RoutingDto {
    fn from(d: Decision) -> Self {
        RoutingDto {
            rule_index: d.rule_index,
            rule_name: d.rule_name,
            line: d.line,
            outside_business_hours: d.outside_business_hours,
            group_id: d.group_id,
            assignee_id: d.assignee_id,
            priority: d.priority.map(|p| p.as_str().to_owned()),
            tags: d.tags,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DipAnswer {
    from: String,
    to: String,
    /// `number`, `withheld` or `not_a_number`.
    kind: String,
    /// The caller-index key the lookup used.
    normalized: Option<String>,
    /// Who the number belongs to: known matches first, then maybe-matches, newest user first.
    users: Vec<DipUser>,
    /// Not solved or closed, of any identified user, most recently updated first (at most 10).
    open_tickets: Vec<TicketDto>,
    /// The latest ticket any identified user requested, whatever its status.
    most_recent_ticket: Option<TicketDto>,
    /// Present when the request had `input`.
    input: Option<InputAnswer>,
    /// Where the rules send the call, for the best-matching user.
    routing: RoutingDto,
}

/// `#1234`, `1234#` (the IVR's terminator key), ` 1234 ` → 1234. Anything else is not a ticket
/// number: `*` is the IVR's cancel key, `12a` a typo.
fn ticket_number(input: &str) -> Option<Id> {
    let digits = input.trim().trim_matches('#').trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<Id>().ok().filter(|id| (1..=MAX_ID).contains(id))
}

/// One request for everything an IVR needs about a caller. Agents and API tokens of agents.
#[utoipa::path(get, path = "/api/hub/dip", tag = "callers", params(DipParams),
    responses((status = 200, body = DipAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn dip(
    State(state): State<AppState>,
    _staff: StaffUser,
    Query(params): Query<DipParams>,
) -> Result<Json<DipAnswer>, ApiError> {
    let store = &state.store;
    let started_at = match params.at.as_deref() {
        Some(at) => parse_timestamp(at, &TimeZone::UTC)
            .ok_or_else(|| ApiError::invalid("at", format!("`{at}` is not an ISO 8601 time")))?
            .as_millisecond(),
        None => now_millis(),
    };
    let number = store.phones().normalize(&params.from);
    let kind = match &number {
        ctihub_domain::phone::CallerNumber::Number(_) => "number",
        ctihub_domain::phone::CallerNumber::Withheld => "withheld",
        ctihub_domain::phone::CallerNumber::NotANumber => "not_a_number",
    };
    let typed = params.input.as_deref().map(str::trim).filter(|i| !i.is_empty());
    let typed_id = typed.and_then(ticket_number);
    // Two rounds of independent probes, each round on its own pooled connections at once.
    let (matches, config) = tokio::try_join!(store.identify_caller(&params.from), routing::load(store))?;
    let user_ids: Vec<Id> = matches.iter().map(|m| m.user.id).collect();
    let mut org_ids: Vec<Id> = matches.iter().filter_map(|m| m.user.organization_id).collect();
    org_ids.sort_unstable();
    org_ids.dedup();
    let typed_ticket = async {
        match typed_id {
            // Only looked up for an identified caller, and only answered when theirs.
            Some(id) if !user_ids.is_empty() => {
                store.ticket_summary(id).await.map(|t| t.filter(|t| user_ids.contains(&t.requester_id)))
            }
            _ => Ok(None),
        }
    };
    let (organizations, open_tickets, most_recent_ticket, typed_ticket): (Vec<OrganizationSummary>, _, _, _) = tokio::try_join!(
        store.organization_summaries(&org_ids),
        store.open_tickets_of(&user_ids, OPEN_TICKETS),
        store.latest_ticket_of(&user_ids),
        typed_ticket,
    )?;

    let input = typed.map(|value| match (typed_id, typed_ticket) {
        (None, _) => InputAnswer { value: value.to_owned(), result: "not_a_ticket_number".into(), ticket: None },
        (Some(_), Some(ticket)) => InputAnswer {
            value: value.to_owned(),
            result: "belongs_to_caller".into(),
            ticket: Some(TicketDto::from(ticket)),
        },
        (Some(_), None) => InputAnswer { value: value.to_owned(), result: "does_not_belong".into(), ticket: None },
    });

    let org_of = |id: Option<Id>| id.and_then(|id| organizations.iter().find(|o| o.id == id));
    let best = matches.first().map(|m| &m.user);
    let no_tags: Vec<String> = Vec::new();
    let facts = CallFacts {
        dialed: &params.to,
        started_at,
        user_tags: best.map_or(&no_tags, |u| &u.tags),
        organization_tags: org_of(best.and_then(|u| u.organization_id)).map_or(&no_tags, |o| &o.tags),
    };
    let decision = config.decide(&facts, store.phones());

    let users = matches
        .into_iter()
        .map(|m| {
            let org = org_of(m.user.organization_id);
            let is_vip = |tags: &[String]| tags.iter().any(|t| t.eq_ignore_ascii_case("vip"));
            DipUser {
                vip: is_vip(&m.user.tags) || org.is_some_and(|o| is_vip(&o.tags)),
                id: m.user.id,
                level: m.level.as_str().to_owned(),
                name: m.user.name,
                email: m.user.email,
                role: m.user.role.as_str().to_owned(),
                tags: m.user.tags,
                organization: org.map(|o| OrganizationDto { id: o.id, name: o.name.clone(), tags: o.tags.clone() }),
            }
        })
        .collect();
    Ok(Json(DipAnswer {
        kind: kind.to_owned(),
        normalized: number.key().map(|k| k.as_str().to_owned()),
        from: params.from,
        to: params.to,
        users,
        open_tickets: open_tickets.into_iter().map(TicketDto::from).collect(),
        most_recent_ticket: most_recent_ticket.map(TicketDto::from),
        input,
        routing: decision.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::ticket_number;

    #[test]
    fn ticket_numbers_as_ivrs_send_them() {
        assert_eq!(ticket_number("1234"), Some(1234));
        assert_eq!(ticket_number("#1234"), Some(1234));
        assert_eq!(ticket_number(" 1234# "), Some(1234));
        assert_eq!(ticket_number("*9"), None);
        assert_eq!(ticket_number("0"), None);
        assert_eq!(ticket_number("12a"), None);
        assert_eq!(ticket_number("#"), None);
        assert_eq!(ticket_number("99999999999999999999"), None);
    }
}
