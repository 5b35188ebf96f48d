//! `GET /api/v2/search.json` and `GET /api/v2/users/search.json`: Zendesk's search syntax over
//! users, tickets and organizations.
//!
//! Each term is read once and turned into a condition for every result type it applies to; a
//! type that a term cannot apply to (`status:open` for users) drops out of the search, unless
//! the term is negated (a user has no status, so `-status:closed` holds for every user). A key
//! that is neither one of Zendesk's keywords nor a custom field key is refused with a message
//! naming it, so a misspelt `agentId:` does not quietly find nobody.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use ctihub_domain::custom_field::{CustomField, FieldTarget};
use ctihub_domain::search::{Pattern, Term, digits, parse_query};
use ctihub_domain::ticket::{Channel, Priority, TicketStatus, TicketType};
use ctihub_domain::user::Role;
use ctihub_store::search::{Condition, OrganizationTest, PhoneQuery, TicketTest, UserTest};
use serde_json::Value;

use super::error::ZendeskError;
use super::paging::{ListUrl, Paging, list_envelope};
use super::{ZendeskAgent, json_response, render};
use crate::AppState;

/// Zendesk answers at most this many results for one query, however they are paged.
const MAX_RESULTS: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResultType {
    User,
    Ticket,
    Organization,
}

impl ResultType {
    const ALL: [ResultType; 3] = [ResultType::User, ResultType::Ticket, ResultType::Organization];

    fn parse(value: &str) -> Result<Self, ZendeskError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "user" | "users" => Ok(ResultType::User),
            "ticket" | "tickets" => Ok(ResultType::Ticket),
            "organization" | "organizations" => Ok(ResultType::Organization),
            other => Err(invalid_query(format!("`type:{other}` is not one of user, ticket, organization"))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ResultType::User => "user",
            ResultType::Ticket => "ticket",
            ResultType::Organization => "organization",
        }
    }
}

fn invalid_query(description: impl Into<String>) -> ZendeskError {
    ZendeskError::bad_request("InvalidQuery", description)
}

/// What one search looks for: per result type, its conditions, or `None` when the type is out.
#[derive(Debug, Default)]
struct Plan {
    users: Option<Vec<Condition<UserTest>>>,
    tickets: Option<Vec<Condition<TicketTest>>>,
    organizations: Option<Vec<Condition<OrganizationTest>>>,
}

/// The custom fields a query's keys may name.
struct FieldKeys {
    pub user: Vec<CustomField>,
    pub ticket: Vec<CustomField>,
}

impl FieldKeys {
    async fn load(state: &AppState) -> Result<Self, ZendeskError> {
        Ok(FieldKeys {
            user: state.store.list_custom_fields(FieldTarget::User).await?,
            ticket: state.store.list_custom_fields(FieldTarget::Ticket).await?,
        })
    }
}

/// One term's meaning for each result type: `None` where it does not apply.
struct Meanings {
    user: Option<UserTest>,
    ticket: Option<TicketTest>,
    organization: Option<OrganizationTest>,
}

impl Meanings {
    fn none() -> Self {
        Meanings { user: None, ticket: None, organization: None }
    }
}

fn parse_or_invalid<T>(
    key: &str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, ctihub_domain::DomainError>,
) -> Result<T, ZendeskError> {
    parse(value).map_err(|e| invalid_query(format!("`{key}:{value}`: {}", e.message)))
}

fn meanings(term: &Term, fields: &FieldKeys) -> Result<Meanings, ZendeskError> {
    let pattern = term.pattern();
    let value = term.value.as_str();
    let Some(key) = term.keyword() else {
        return Ok(Meanings {
            user: Some(UserTest::Text(value.to_owned())),
            ticket: Some(TicketTest::Text(value.to_owned())),
            organization: Some(OrganizationTest::Text(value.to_owned())),
        });
    };
    let mut m = Meanings::none();
    match key.as_str() {
        "role" => m.user = Some(UserTest::Role(parse_or_invalid(&key, value, Role::parse)?)),
        "phone" => {
            let number = digits(value);
            if number.is_empty() {
                return Err(invalid_query(format!("`phone:{value}` holds no digits")));
            }
            let suffix = !term.quoted && value.trim_start().starts_with('*');
            m.user = Some(UserTest::Phone(PhoneQuery { digits: number, suffix }));
        }
        "email" => m.user = Some(UserTest::Email(pattern)),
        "name" => {
            m.user = Some(UserTest::Name(pattern.clone()));
            m.organization = Some(OrganizationTest::Name(pattern));
        }
        "external_id" => {
            m.user = Some(UserTest::ExternalId(pattern.clone()));
            m.ticket = Some(TicketTest::ExternalId(pattern.clone()));
            m.organization = Some(OrganizationTest::ExternalId(pattern));
        }
        "tags" | "tag" => {
            m.user = Some(UserTest::Tag(value.to_owned()));
            m.ticket = Some(TicketTest::Tag(value.to_owned()));
            m.organization = Some(OrganizationTest::Tag(value.to_owned()));
        }
        "organization" | "organization_id" => {
            m.user = Some(UserTest::Organization(pattern.clone()));
            m.ticket = Some(TicketTest::Organization(pattern));
        }
        // ctihub's own: the call-center agent id an admin set on an agent.
        "agent_id" => m.user = Some(UserTest::AgentId(value.to_owned())),
        "status" => m.ticket = Some(TicketTest::Status(parse_or_invalid(&key, value, TicketStatus::parse)?)),
        "priority" => m.ticket = Some(TicketTest::Priority(parse_or_invalid(&key, value, Priority::parse)?)),
        "ticket_type" => m.ticket = Some(TicketTest::TicketType(parse_or_invalid(&key, value, TicketType::parse)?)),
        "requester" | "requester_id" => m.ticket = Some(TicketTest::Requester(pattern)),
        "assignee" | "assignee_id" => m.ticket = Some(TicketTest::Assignee(pattern)),
        "group" | "group_id" => m.ticket = Some(TicketTest::Group(pattern)),
        "subject" => m.ticket = Some(TicketTest::Subject(pattern)),
        "description" | "comment" => m.ticket = Some(TicketTest::Description(pattern)),
        "via" => {
            let channel = match value.to_ascii_lowercase().as_str() {
                "voice" | "phone" | "phone_call_inbound" => Channel::PhoneInbound,
                other => parse_or_invalid(&key, other, Channel::parse)?,
            };
            m.ticket = Some(TicketTest::Via(channel.as_str().to_owned()));
        }
        _ => {
            let raw_key = term.key.as_deref().unwrap_or_default();
            if let Some(field) = custom_field_key(raw_key, &fields.ticket) {
                m.ticket = Some(TicketTest::Field { field_id: field.id, value: pattern.clone() });
            }
            if let Some(field) = fields.user.iter().find(|f| f.key == raw_key) {
                m.user = Some(UserTest::Field { field_id: field.id, value: pattern });
            }
            if m.user.is_none() && m.ticket.is_none() {
                return Err(invalid_query(format!(
                    "`{raw_key}` is neither a search keyword nor the key of a custom user or ticket field"
                )));
            }
        }
    }
    Ok(m)
}

/// A ticket field named `custom_field_<id>` (Zendesk's syntax) or by its key.
fn custom_field_key<'a>(key: &str, fields: &'a [CustomField]) -> Option<&'a CustomField> {
    match key.strip_prefix("custom_field_").and_then(|id| id.parse::<i64>().ok()) {
        Some(id) => fields.iter().find(|f| f.id == id),
        None => fields.iter().find(|f| f.key == key),
    }
}

/// Add a term's meaning to a type's conditions, or drop the type when the term cannot hold.
fn apply<T>(conditions: &mut Option<Vec<Condition<T>>>, negated: bool, test: Option<T>) {
    match (conditions.as_mut(), test) {
        (Some(list), Some(test)) => list.push(Condition { negated, test }),
        (Some(_), None) if !negated => *conditions = None,
        _ => {}
    }
}

impl Plan {
    /// Read a query; `types` restricts the result types beyond its own `type:` terms.
    fn read(query: &str, types: &[ResultType], fields: &FieldKeys) -> Result<Plan, ZendeskError> {
        let terms = parse_query(query).map_err(|e| invalid_query(e.0))?;
        let mut allowed: Vec<ResultType> = types.to_vec();
        let mut plan = Plan { users: Some(Vec::new()), tickets: Some(Vec::new()), organizations: Some(Vec::new()) };
        for term in &terms {
            if term.keyword().as_deref() == Some("type") {
                let kind = ResultType::parse(&term.value)?;
                if term.negated {
                    allowed.retain(|t| *t != kind);
                } else {
                    allowed.retain(|t| *t == kind);
                }
                continue;
            }
            let m = meanings(term, fields)?;
            apply(&mut plan.users, term.negated, m.user);
            apply(&mut plan.tickets, term.negated, m.ticket);
            apply(&mut plan.organizations, term.negated, m.organization);
        }
        if !allowed.contains(&ResultType::User) {
            plan.users = None;
        }
        if !allowed.contains(&ResultType::Ticket) {
            plan.tickets = None;
        }
        if !allowed.contains(&ResultType::Organization) {
            plan.organizations = None;
        }
        Ok(plan)
    }

    /// Only the user part of the plan (the users search endpoint).
    fn users(self) -> Option<Vec<Condition<UserTest>>> {
        self.users
    }
}

/// Counts per type first, then the page's slice of users, then tickets, then organizations.
async fn run(
    state: &AppState,
    plan: &Plan,
    fields: &FieldKeys,
    offset: i64,
    limit: i64,
    base: &str,
) -> Result<(Vec<Value>, i64), ZendeskError> {
    let store = &state.store;
    let mut results = Vec::new();
    let mut skip = offset;
    let mut room = limit;
    let mut total = 0;
    for kind in ResultType::ALL {
        let count = match kind {
            ResultType::User => match &plan.users {
                Some(c) => store.search_users(c, 0, 0).await?.1,
                None => 0,
            },
            ResultType::Ticket => match &plan.tickets {
                Some(c) => store.search_tickets(c, 0, 0).await?.1,
                None => 0,
            },
            ResultType::Organization => match &plan.organizations {
                Some(c) => store.search_organizations(c, 0, 0).await?.1,
                None => 0,
            },
        };
        total += count;
        if skip >= count {
            skip -= count;
            continue;
        }
        if room > 0 {
            let mut page: Vec<Value> = match kind {
                ResultType::User => {
                    let conditions = plan.users.as_deref().unwrap_or_default();
                    let (users, _) = store.search_users(conditions, skip, room).await?;
                    users.iter().map(|u| render::user(base, u, &fields.user)).collect()
                }
                ResultType::Ticket => {
                    let conditions = plan.tickets.as_deref().unwrap_or_default();
                    let (tickets, _) = store.search_tickets(conditions, skip, room).await?;
                    tickets.iter().map(|t| render::ticket(base, t, &fields.ticket)).collect()
                }
                ResultType::Organization => {
                    let conditions = plan.organizations.as_deref().unwrap_or_default();
                    let (orgs, _) = store.search_organizations(conditions, skip, room).await?;
                    orgs.iter().map(|o| render::organization(base, o)).collect()
                }
            };
            for item in &mut page {
                item["result_type"] = Value::from(kind.name());
            }
            room -= page.len() as i64;
            results.extend(page);
        }
        skip = 0;
    }
    Ok((results, total))
}

/// Zendesk refuses to page beyond its result limit with `invalid`, which zenpy turns into
/// `SearchResponseLimitExceeded`.
fn check_result_limit(paging: &Paging) -> Result<(), ZendeskError> {
    if paging.offset() >= MAX_RESULTS {
        return Err(ZendeskError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("Search results are limited to {MAX_RESULTS}; ask for an earlier page or narrow the query"),
        ));
    }
    Ok(())
}

pub(crate) async fn search(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ZendeskError> {
    let url = ListUrl::new(&headers, &uri);
    let params = url.params();
    let query = params
        .get("query")
        .ok_or_else(|| invalid_query("`query` is required, e.g. query=type:user phone:*5135557611"))?;
    let types = match params.get("filter[type]") {
        Some(kind) => vec![ResultType::parse(kind)?],
        None => ResultType::ALL.to_vec(),
    };
    let paging = url.paging();
    check_result_limit(&paging)?;
    let fields = FieldKeys::load(&state).await?;
    let plan = Plan::read(query, &types, &fields)?;
    let base = url.base();
    let limit = paging.limit().min(MAX_RESULTS - paging.offset());
    let (results, total) = run(&state, &plan, &fields, paging.offset(), limit, base).await?;
    let paging = match paging {
        // Search pages by offset only; a `page[size]` is read as the page size.
        Paging::Cursor { size, offset } => Paging::Offset { page: offset / size + 1, per_page: size },
        offset => offset,
    };
    let mut body = list_envelope("results", results, total, &paging, &url);
    body["facets"] = Value::Null;
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v2/users/search.json?query=…` or `?external_id=…`.
pub(crate) async fn search_users(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ZendeskError> {
    let url = ListUrl::new(&headers, &uri);
    let params = url.params();
    let fields = FieldKeys::load(&state).await?;
    let conditions = match (params.get("external_id"), params.get("query")) {
        (Some(external_id), _) => {
            Some(vec![Condition::is(UserTest::ExternalId(Pattern::Exact(external_id.to_owned())))])
        }
        (None, Some(query)) => Plan::read(query, &[ResultType::User], &fields)?.users(),
        (None, None) => return Err(invalid_query("`query` or `external_id` is required")),
    };
    let paging = url.paging();
    let base = url.base();
    let (users, total) = match &conditions {
        Some(conditions) => state.store.search_users(conditions, paging.offset(), paging.limit()).await?,
        None => (Vec::new(), 0),
    };
    let items = users.iter().map(|u| render::user(base, u, &fields.user)).collect();
    Ok(json_response(StatusCode::OK, &list_envelope("users", items, total, &paging, &url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> FieldKeys {
        let field = |id, target, key: &str| CustomField {
            id,
            target,
            key: key.into(),
            title: key.into(),
            field_type: ctihub_domain::custom_field::FieldType::Text,
            description: None,
            options: vec![],
            position: 0,
            active: true,
            created_at: 0,
            updated_at: 0,
        };
        FieldKeys {
            user: vec![field(7, FieldTarget::User, "agentID")],
            ticket: vec![field(9, FieldTarget::Ticket, "wrapup")],
        }
    }

    fn plan(query: &str) -> Plan {
        Plan::read(query, &ResultType::ALL, &fields()).unwrap()
    }

    #[test]
    fn the_caller_lookup_searches_end_users_by_phone_suffix() {
        let p = plan("role:end-user phone:*5135557611");
        assert!(p.tickets.is_none() && p.organizations.is_none());
        assert_eq!(
            p.users.unwrap(),
            vec![
                Condition::is(UserTest::Role(Role::EndUser)),
                Condition::is(UserTest::Phone(PhoneQuery { digits: "5135557611".into(), suffix: true })),
            ]
        );
        let exact = plan(r#"phone:"+1 (513) 555-7611""#).users.unwrap();
        assert_eq!(
            exact,
            vec![Condition::is(UserTest::Phone(PhoneQuery { digits: "15135557611".into(), suffix: false }))]
        );
    }

    #[test]
    fn custom_field_keys_find_agents_and_ticket_fields() {
        let p = plan("type:user agentID:1234");
        assert_eq!(
            p.users.unwrap(),
            vec![Condition::is(UserTest::Field { field_id: 7, value: Pattern::Exact("1234".into()) })]
        );
        assert!(p.tickets.is_none());
        let t = plan("custom_field_9:done wrapup:sale");
        assert_eq!(t.tickets.unwrap().len(), 2);
        assert!(t.users.is_none());
    }

    #[test]
    fn terms_keep_the_types_they_apply_to() {
        let p = plan("tags:vip printer");
        assert_eq!(p.users.unwrap().len(), 2);
        assert_eq!(p.tickets.unwrap().len(), 2);
        assert_eq!(p.organizations.unwrap().len(), 2);
        let p = plan("type:ticket status:open requester:12");
        assert!(p.users.is_none());
        assert_eq!(p.tickets.unwrap().len(), 2);
        // A negated term a type has no attribute for holds for that type.
        assert_eq!(plan("type:user -status:closed").users.unwrap().len(), 0);
        assert!(plan("-type:user name:x").users.is_none());
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        let message = |q: &str| Plan::read(q, &ResultType::ALL, &fields()).unwrap_err().body()["description"].clone();
        assert!(message("agentId:1").as_str().unwrap().contains("`agentId` is neither"));
        assert!(message("role:boss").as_str().unwrap().contains("role:boss"));
        assert!(message("type:widget").as_str().unwrap().contains("not one of user, ticket, organization"));
        assert!(message("phone:abc").as_str().unwrap().contains("no digits"));
        assert!(message("status:done").as_str().unwrap().contains("status:done"));
    }
}
