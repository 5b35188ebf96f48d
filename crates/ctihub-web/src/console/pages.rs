//! The caller journal, the caller card a screen pop opens, and user profiles.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallState, Direction};
use ctihub_domain::phone::CallerLevel;
use ctihub_domain::ticket::Ticket;
use ctihub_domain::user::User;
use ctihub_store::CallerMatch;
use serde::{Deserialize, Serialize};

use super::session::{Agent, ConsoleForm, Refusal};
use super::{Layout, done_or_back, iso, staff};
use crate::AppState;
use crate::cti::shared_config;
use crate::cti::view::{self, JournalEntry, display_name};
use crate::freshdesk::widget;
use crate::native::journal::{JournalQuery, filter_for, mark_calls, mark_matching};

/// The journal's filters as the page's form sends them (empty fields mean "any").
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub(crate) struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    agent_id: String,
    #[serde(default)]
    queue: String,
    /// A day, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before_id: Option<Id>,
}

impl Filters {
    fn query(&self) -> Result<JournalQuery, Refusal> {
        let agent_id = match self.agent_id.trim() {
            "" => None,
            id => Some(id.parse().map_err(|_| Refusal::BadForm(format!("`{id}` is not an agent id")))?),
        };
        let (since, until) = match self.date.trim() {
            "" => (None, None),
            day => {
                let date: jiff::civil::Date =
                    day.parse().map_err(|_| Refusal::BadForm(format!("`{day}` is not a date (YYYY-MM-DD)")))?;
                let next = date.tomorrow().map_err(|e| Refusal::BadForm(e.to_string()))?;
                (Some(format!("{date}T00:00:00Z")), Some(format!("{next}T00:00:00Z")))
            }
        };
        let keep = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(JournalQuery {
            status: keep(&self.status),
            direction: keep(&self.direction),
            agent_id,
            queue: keep(&self.queue),
            since,
            until,
            before_id: self.before_id,
            ..Default::default()
        })
    }

    /// The same filters as a query string, for the live refresh and "older" links.
    fn encoded(&self) -> String {
        let without_page = Filters { before_id: None, ..self.clone() };
        serde_html_form::to_string(&without_page).unwrap_or_default()
    }
}

pub(crate) struct CallerView {
    pub user_id: Id,
    pub name: String,
    pub maybe: bool,
}

pub(crate) struct Row {
    pub id: Id,
    pub inbound: bool,
    pub direction: &'static str,
    pub state: &'static str,
    pub from: String,
    pub to: String,
    pub from_callers: Vec<CallerView>,
    pub to_callers: Vec<CallerView>,
    /// Names the PBX sent for the agent side.
    pub from_name: String,
    pub to_name: String,
    pub queue: String,
    pub started_at: String,
    pub talk_time: String,
    pub agent: String,
    pub done: bool,
    pub ticket_id: Option<Id>,
    /// The customer's number for call-back.
    pub callback: String,
    /// Who the customer is, for click-to-dial: the call's end-user, else the best match.
    pub customer_id: Option<Id>,
    pub outcome: String,
}

fn callers(matches: &[CallerMatch]) -> Vec<CallerView> {
    matches
        .iter()
        .map(|m| CallerView {
            user_id: m.user.id,
            name: display_name(&m.user).to_owned(),
            maybe: m.level == CallerLevel::Maybe,
        })
        .collect()
}

fn seconds(s: Option<i64>) -> String {
    s.map(|s| format!("{}:{:02}", s / 60, s % 60)).unwrap_or_default()
}

pub(crate) fn row(entry: &JournalEntry, agents: &HashMap<Id, String>) -> Row {
    let data = &entry.call.data;
    let outcome = match (data.state, &data.completion_status, &data.hangup_cause) {
        (CallState::Ringing, _, _) => "ringing".to_owned(),
        (CallState::InProgress, _, _) => "talking".to_owned(),
        (_, Some(status), _) => status.as_str().replace('_', " "),
        (_, None, Some(cause)) => cause.clone(),
        _ if data.answered_at.is_some() => "answered".to_owned(),
        _ => "missed".to_owned(),
    };
    Row {
        id: entry.call.id,
        inbound: data.direction != Direction::Outbound,
        direction: data.direction.as_str(),
        state: data.state.as_str(),
        from: entry.from.pretty.clone(),
        to: entry.to.pretty.clone(),
        from_callers: callers(&entry.from_matches),
        to_callers: callers(&entry.to_matches),
        from_name: data.from_name.clone().unwrap_or_default(),
        to_name: data.to_name.clone().unwrap_or_default(),
        queue: data.queue_name.clone().unwrap_or_default(),
        started_at: iso(data.started_at),
        talk_time: seconds(data.talk_time),
        agent: data.agent_id.and_then(|id| agents.get(&id).cloned()).unwrap_or_default(),
        done: data.done,
        ticket_id: data.ticket_id,
        callback: {
            let customer = if data.direction == Direction::Outbound { &entry.to } else { &entry.from };
            customer.key.clone().unwrap_or_else(|| data.customer_line().trim().to_owned())
        },
        customer_id: data.end_user_id.or_else(|| {
            let matches = if data.direction == Direction::Outbound { &entry.to_matches } else { &entry.from_matches };
            matches.first().map(|m| m.user.id)
        }),
        outcome,
    }
}

pub(crate) struct JournalData {
    rows: Vec<Row>,
    open_count: i64,
    older: Option<String>,
    query: String,
    /// The filters as hidden fields ("mark all seen" marks what the list shows).
    fields: Vec<(&'static str, String)>,
}

/// `staff`: every agent's id and name, as [`staff`] lists them.
async fn journal_data(
    state: &AppState,
    agent: &Agent,
    filters: &Filters,
    staff: &[(Id, String)],
) -> Result<JournalData, Refusal> {
    let config = shared_config(&state.store).await?;
    let query = filters.query()?;
    let filter = filter_for(state, &agent.user, &query).await?;
    let limit = config.view_limit.clamp(1, 500);
    let calls = state.store.list_journal(&filter, limit + 1).await?;
    let more = calls.len() as i64 > limit;
    let calls: Vec<Call> = calls.into_iter().take(limit as usize).collect();
    let older = if more {
        calls.last().map(|c| {
            let page = Filters { before_id: Some(c.id), ..filters.clone() };
            serde_html_form::to_string(&page).unwrap_or_default()
        })
    } else {
        None
    };
    let open = ctihub_store::JournalFilter { done: Some(false), before_id: None, ..filter };
    let open_count = state.store.count_journal(&open).await?;
    let entries = view::identify(&state.store, calls).await?;
    let agents: HashMap<Id, String> = staff.iter().cloned().collect();
    let rows = entries.iter().map(|e| row(e, &agents)).collect();
    let fields = [
        ("status", &filters.status),
        ("direction", &filters.direction),
        ("agent_id", &filters.agent_id),
        ("queue", &filters.queue),
        ("date", &filters.date),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .map(|(k, v)| (k, v.clone()))
    .collect();
    Ok(JournalData { rows, open_count, older, query: filters.encoded(), fields })
}

#[derive(Template, WebTemplate)]
#[template(path = "console/journal.html")]
pub(crate) struct JournalPage {
    layout: Layout,
    csrf: String,
    filters: Filters,
    agents: Vec<(Id, String)>,
    presence: Vec<(Id, String, &'static str)>,
    data: JournalData,
}

pub(crate) async fn journal(
    State(state): State<AppState>,
    agent: Agent,
    Query(filters): Query<Filters>,
) -> Result<JournalPage, Refusal> {
    let layout = Layout::new(&state, &agent, "Caller journal", "journal").await?;
    let agents = staff(&state).await?;
    let data = journal_data(&state, &agent, &filters, &agents).await?;
    let set: HashMap<Id, ctihub_store::Presence> = state.store.list_presence().await?.into_iter().collect();
    let presence = agents
        .iter()
        .map(|(id, name)| {
            let p = set.get(id).copied().unwrap_or(ctihub_store::Presence::Available);
            (*id, name.clone(), p.as_str())
        })
        .collect();
    Ok(JournalPage { csrf: agent.csrf.clone(), layout, filters, agents, presence, data })
}

/// The list alone, for the script's live refresh.
#[derive(Template, WebTemplate)]
#[template(path = "console/journal_rows.html")]
pub(crate) struct JournalRows {
    csrf: String,
    data: JournalData,
}

pub(crate) async fn journal_rows(
    State(state): State<AppState>,
    agent: Agent,
    Query(filters): Query<Filters>,
) -> Result<JournalRows, Refusal> {
    let data = journal_data(&state, &agent, &filters, &staff(&state).await?).await?;
    Ok(JournalRows { csrf: agent.csrf, data })
}

#[derive(Debug, Deserialize)]
pub(crate) struct MarkForm {
    id: Id,
    /// `false` puts the call back on the callback list.
    #[serde(default = "yes")]
    done: bool,
}

fn yes() -> bool {
    true
}

pub(crate) async fn mark_done(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConsoleForm(agent, form): ConsoleForm<MarkForm>,
) -> Result<Response, Refusal> {
    mark_calls(&state, &agent.user, &[form.id], form.done).await?;
    Ok(done_or_back(&headers, "/console/journal"))
}

pub(crate) async fn mark_all_done(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConsoleForm(agent, filters): ConsoleForm<Filters>,
) -> Result<Response, Refusal> {
    let mut query = filters.query()?;
    query.before_id = None;
    mark_matching(&state, &agent.user, &query, true).await?;
    Ok(done_or_back(&headers, "/console/journal"))
}

pub(crate) struct TicketLine {
    pub id: Id,
    pub subject: String,
    pub status: &'static str,
    pub updated_at: String,
}

fn ticket_line(t: &Ticket) -> TicketLine {
    TicketLine { id: t.id, subject: t.subject.clone(), status: t.status.as_str(), updated_at: iso(t.updated_at) }
}

pub(crate) struct CardUser {
    pub id: Id,
    pub name: String,
    pub maybe: bool,
    pub role: &'static str,
    pub email: String,
    pub organization: String,
    /// Where the caller is, from a `location`, `address` or `city` custom field.
    pub location: String,
    pub phones: Vec<String>,
    pub open: Vec<TicketLine>,
    pub closed: Vec<TicketLine>,
}

/// Open tickets first (all of them, up to 20), then the 3 most recent solved or closed.
pub(crate) async fn card_user(state: &AppState, user: &User, maybe: bool) -> Result<CardUser, Refusal> {
    let organization = match user.organization_id {
        Some(id) => state.store.get_organization(id).await.map(|o| o.name).unwrap_or_default(),
        None => String::new(),
    };
    let (tickets, _) = state.store.tickets_requested_by(user.id, 0, 100).await?;
    let open = tickets.iter().filter(|t| t.status.is_open()).take(20).map(ticket_line).collect();
    let closed = tickets.iter().filter(|t| !t.status.is_open()).take(3).map(ticket_line).collect();
    Ok(CardUser {
        id: user.id,
        name: display_name(user).to_owned(),
        maybe,
        role: user.role.as_str(),
        email: user.email.clone().unwrap_or_default(),
        organization,
        location: ["location", "address", "city"]
            .iter()
            .filter_map(|key| user.custom_fields.get(*key).and_then(|v| v.as_str()))
            .map(str::trim)
            .find(|v| !v.is_empty())
            .unwrap_or_default()
            .to_owned(),
        phones: user.phones.iter().map(|p| p.raw.clone()).collect(),
        open,
        closed,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct PopParams {
    call_id: Id,
    /// The ticket a display API asked to show (`screen: "ticket"`).
    ticket_id: Option<Id>,
}

/// The caller card: who is calling, their tickets, and what to do with the call.
#[derive(Template, WebTemplate)]
#[template(path = "console/pop.html")]
pub(crate) struct PopCard {
    csrf: String,
    call_id: Id,
    number: String,
    inbound: bool,
    line: String,
    queue: String,
    state: &'static str,
    started_at: String,
    title: String,
    users: Vec<CardUser>,
    ticket: Option<TicketLine>,
    linked: Option<Id>,
    /// A call from Freshdesk's CTI API: filed by its rules, and forwardable.
    freshdesk: bool,
    /// Whether the agent may still file the call (Freshdesk: not tied yet).
    can_file: bool,
    /// Who the call can be forwarded to.
    agents: Vec<(Id, String)>,
}

pub(crate) async fn pop(
    State(state): State<AppState>,
    agent: Agent,
    Query(params): Query<PopParams>,
) -> Result<PopCard, Refusal> {
    let call = state.store.get_call(params.call_id).await?;
    let data = &call.data;
    let phones = state.store.phones();
    let customer_line = data.customer_line();
    let number = phones.pretty(customer_line);
    let mut users = Vec::new();
    for m in state.store.identify_caller(customer_line).await? {
        users.push(card_user(&state, &m.user, m.level == CallerLevel::Maybe).await?);
    }
    let freshdesk = widget::reference(&call).is_some();
    // Freshdesk names the requester; they may have no number the caller index knows.
    if let Some(id) = data.end_user_id.filter(|id| freshdesk && !users.iter().any(|u| u.id == *id)) {
        users.insert(0, card_user(&state, &state.store.get_user(id).await?, false).await?);
    }
    // The ticket a Freshdesk pop named (`ticket_id`) is shown until the call is tied.
    let named = params.ticket_id.or_else(|| if freshdesk { widget::named_ticket(&call) } else { None });
    let ticket = match named {
        Some(id) => Some(ticket_line(&state.store.get_ticket(id).await?)),
        None => None,
    };
    let agents = if freshdesk {
        staff(&state).await?.into_iter().filter(|(id, _)| *id != agent.user.id).collect()
    } else {
        Vec::new()
    };
    let inbound = data.direction != Direction::Outbound;
    let other_side = if inbound { &data.to_line } else { &data.from_line };
    Ok(PopCard {
        csrf: agent.csrf,
        call_id: call.id,
        title: format!("Call {} {}", if inbound { "from" } else { "to" }, customer_line.trim()),
        number,
        inbound,
        line: phones.pretty(other_side),
        queue: data.queue_name.clone().unwrap_or_default(),
        state: data.state.as_str(),
        started_at: iso(data.started_at),
        users,
        ticket,
        linked: data.ticket_id,
        freshdesk,
        can_file: !freshdesk || data.ticket_id.is_none(),
        agents,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "console/user.html")]
pub(crate) struct UserPage {
    layout: Layout,
    card: CardUser,
    external_id: String,
    phones: Vec<(&'static str, String, String)>,
    calls: Vec<Row>,
    all_tickets: Vec<TicketLine>,
}

pub(crate) async fn user_profile(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<Id>,
) -> Result<UserPage, Refusal> {
    let user = state.store.get_user(id).await?;
    let layout = Layout::new(&state, &agent, display_name(&user).to_owned(), "").await?;
    let card = card_user(&state, &user, false).await?;
    let keys: Vec<String> = user.phones.iter().filter_map(|p| p.key.as_ref().map(|k| k.as_str().to_owned())).collect();
    let calls = state.store.calls_with_customer_keys(&keys, 50).await?;
    let entries = view::identify(&state.store, calls).await?;
    let agents: HashMap<Id, String> = staff(&state).await?.into_iter().collect();
    let calls = entries.iter().map(|e| row(e, &agents)).collect();
    let (tickets, _) = state.store.tickets_requested_by(user.id, 0, 100).await?;
    let phones = user
        .phones
        .iter()
        .map(|p| (p.kind.as_str(), p.raw.clone(), p.key.as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default()))
        .collect();
    Ok(UserPage {
        layout,
        card,
        external_id: user.external_id.clone().unwrap_or_default(),
        phones,
        calls,
        all_tickets: tickets.iter().map(ticket_line).collect(),
    })
}
