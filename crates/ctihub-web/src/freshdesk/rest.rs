//! The Freshdesk REST subset telephony integrations use to find a caller and log a call:
//! contacts (list by phone or e-mail, search, create, show), tickets (create, show, notes) and
//! agents (`me`, list), in Freshdesk's flat JSON shapes (lists are bare arrays, search answers
//! `{"results","total"}`, every object has `created_at` and `updated_at`, which
//! python-freshdesk's models parse).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::phone::{CallerLevel, PhoneKind};
use ctihub_domain::ticket::{Channel, Comment, NewComment, NewTicket, Priority, Ticket, TicketStatus, Via};
use ctihub_domain::time::format_millis;
use ctihub_domain::user::{Email, NewUser, Role, User};
use ctihub_store::{StoreError, UserFilter};
use serde_json::{Map, Value, json};

use super::error::{FreshdeskError, Problems};
use super::{FreshdeskAgent, json_object, json_response};
use crate::AppState;

type Body = Result<Bytes, BytesRejection>;

const MAX_PER_PAGE: i64 = 100;

fn path_id(segment: &str) -> Result<Id, FreshdeskError> {
    segment.parse::<Id>().ok().filter(|id| *id > 0).ok_or_else(FreshdeskError::not_found)
}

fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    serde_html_form::from_str(&query.unwrap_or_default()).unwrap_or_default()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

/// `page` (from 1) and `per_page` (at most 100), as offset and limit.
fn paging(pairs: &[(String, String)]) -> (i64, i64, i64) {
    let page = param(pairs, "page").and_then(|p| p.parse::<i64>().ok()).filter(|p| *p > 0).unwrap_or(1);
    let per_page =
        param(pairs, "per_page").and_then(|p| p.parse::<i64>().ok()).filter(|p| *p > 0).unwrap_or(30).min(MAX_PER_PAGE);
    (page, (page - 1) * per_page, per_page)
}

fn phone_of(user: &User, kind: PhoneKind) -> Option<&str> {
    user.phones.iter().find(|p| p.kind == kind).map(|p| p.raw.as_str())
}

fn render_contact(user: &User) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "phone": phone_of(user, PhoneKind::Phone),
        "mobile": phone_of(user, PhoneKind::Mobile),
        "active": user.active,
        "address": null,
        "company_id": user.organization_id,
        "description": null,
        "job_title": null,
        "language": "en",
        "time_zone": "UTC",
        "twitter_id": null,
        "unique_external_id": user.external_id,
        "other_emails": [],
        "tags": user.tags,
        "custom_fields": {},
        "view_all_tickets": false,
        "created_at": format_millis(user.created_at),
        "updated_at": format_millis(user.updated_at),
    })
}

fn status_number(status: TicketStatus) -> i64 {
    match status {
        TicketStatus::New | TicketStatus::Open => 2,
        TicketStatus::Pending | TicketStatus::Hold => 3,
        TicketStatus::Solved => 4,
        TicketStatus::Closed => 5,
    }
}

fn priority_number(priority: Option<Priority>) -> i64 {
    match priority {
        None | Some(Priority::Low) => 1,
        Some(Priority::Normal) => 2,
        Some(Priority::High) => 3,
        Some(Priority::Urgent) => 4,
    }
}

/// Freshdesk's `source`: 1 email, 2 portal, 3 phone.
fn source_number(channel: Channel) -> i64 {
    match channel {
        Channel::Email => 1,
        Channel::Voicemail | Channel::PhoneInbound | Channel::PhoneOutbound => 3,
        Channel::Web | Channel::Api => 2,
    }
}

fn render_ticket(ticket: &Ticket) -> Value {
    json!({
        "id": ticket.id,
        "subject": ticket.subject,
        "description": ticket.description,
        "description_text": ticket.description,
        "status": status_number(ticket.status),
        "priority": priority_number(ticket.priority),
        "source": source_number(ticket.via.channel),
        "type": ticket.ticket_type.map(|t| t.as_str()),
        "requester_id": ticket.requester_id,
        "responder_id": ticket.assignee_id,
        "group_id": ticket.group_id,
        "company_id": ticket.organization_id,
        "tags": ticket.tags,
        "custom_fields": {},
        "cc_emails": [],
        "fwd_emails": [],
        "reply_cc_emails": [],
        "to_emails": null,
        "fr_escalated": false,
        "is_escalated": false,
        "spam": false,
        "due_by": null,
        "fr_due_by": null,
        "created_at": format_millis(ticket.created_at),
        "updated_at": format_millis(ticket.updated_at),
    })
}

fn render_note(comment: &Comment) -> Value {
    json!({
        "id": comment.id,
        "body": comment.body,
        "body_text": comment.body,
        "private": !comment.public,
        "incoming": false,
        "user_id": comment.author_id,
        "ticket_id": comment.ticket_id,
        "to_emails": [],
        "support_email": null,
        "created_at": format_millis(comment.created_at),
        "updated_at": format_millis(comment.created_at),
    })
}

fn render_agent(user: &User, available: bool) -> Value {
    json!({
        "id": user.id,
        "available": available,
        "occasional": false,
        "signature": null,
        "ticket_scope": 1,
        "type": "support_agent",
        "contact": {
            "active": user.active,
            "email": user.email,
            "job_title": null,
            "language": "en",
            "mobile": phone_of(user, PhoneKind::Mobile),
            "name": user.name,
            "phone": phone_of(user, PhoneKind::Phone),
            "time_zone": "UTC",
            "created_at": format_millis(user.created_at),
            "updated_at": format_millis(user.updated_at),
        },
        "created_at": format_millis(user.created_at),
        "updated_at": format_millis(user.updated_at),
    })
}

/// A page of a bare-array listing; `Link: <…>; rel="next"` only when another page follows
/// (freshdesk-api reads any `Link` as "not the last page").
fn page_response(headers: &HeaderMap, path: &str, items: Vec<Value>, page: i64, per_page: i64, total: i64) -> Response {
    let mut response = json_response(StatusCode::OK, &Value::Array(items));
    if page * per_page < total {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let link = format!("<http://{host}{path}?page={}&per_page={per_page}>; rel=\"next\"", page + 1);
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// Active users whose phone fields hold `number`, in caller-identification order.
async fn users_with_phone(state: &AppState, number: &str) -> Result<Vec<User>, FreshdeskError> {
    Ok(state
        .store
        .identify_caller(number)
        .await?
        .into_iter()
        .filter(|m| m.level == CallerLevel::Known)
        .map(|m| m.user)
        .collect())
}

pub(crate) async fn list_contacts(
    State(state): State<AppState>,
    FreshdeskAgent(_): FreshdeskAgent,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, FreshdeskError> {
    let pairs = query_pairs(query);
    let (page, offset, per_page) = paging(&pairs);
    let (users, total) = if let Some(number) = param(&pairs, "phone").or(param(&pairs, "mobile")) {
        let all = users_with_phone(&state, number).await?;
        let total = all.len() as i64;
        (all.into_iter().skip(offset as usize).take(per_page as usize).collect(), total)
    } else if let Some(email) = param(&pairs, "email") {
        let found: Vec<User> = state.store.find_user_by_email(email).await?.into_iter().collect();
        let total = found.len() as i64;
        (found.into_iter().skip(offset as usize).collect(), total)
    } else {
        let filter = UserFilter { role: Some(Role::EndUser), ..Default::default() };
        state.store.list_users(&filter, offset, per_page).await?
    };
    let items = users.iter().map(render_contact).collect();
    Ok(page_response(&headers, "/freshdesk/api/v2/contacts", items, page, per_page, total))
}

/// `search/contacts?query="phone:'+1…' OR email:'…'"`. Clients leave the `+` unescaped, so it
/// arrives as a space; numbers are compared normalised, so that does not matter.
pub(crate) async fn search_contacts(
    State(state): State<AppState>,
    FreshdeskAgent(_): FreshdeskAgent,
    RawQuery(query): RawQuery,
) -> Result<Response, FreshdeskError> {
    let pairs = query_pairs(query);
    let Some(text) = param(&pairs, "query") else {
        return Err(FreshdeskError::field("query", "missing_field", "It should be a/an String"));
    };
    let text = text.trim().trim_matches('"');
    let mut found: Vec<User> = Vec::new();
    for term in text.split(" OR ") {
        let Some((field, value)) = term.trim().split_once(':') else {
            return Err(FreshdeskError::field("query", "invalid_value", format!("`{term}` is not field:'value'")));
        };
        let value = value.trim().trim_matches('\'').trim();
        let users = match field.trim() {
            "phone" | "mobile" => users_with_phone(&state, value).await?,
            "email" => state.store.find_user_by_email(value).await?.into_iter().collect(),
            other => {
                return Err(FreshdeskError::field("query", "invalid_field", format!("`{other}` cannot be searched")));
            }
        };
        for user in users {
            if !found.iter().any(|u| u.id == user.id) {
                found.push(user);
            }
        }
    }
    let results: Vec<Value> = found.iter().map(render_contact).collect();
    Ok(json_response(StatusCode::OK, &json!({"total": results.len(), "results": results})))
}

fn text(body: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<String> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(_) => {
            problems.mismatch(key, "It should be a/an String");
            None
        }
    }
}

fn email(body: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Email> {
    let value = text(body, key, problems)?;
    Email::parse(&value).map_err(|_| problems.invalid(key, "It should be in the 'valid email address' format")).ok()
}

fn tags(body: &Map<String, Value>, problems: &mut Problems) -> Vec<String> {
    match body.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        Some(_) => {
            problems.mismatch("tags", "It should be a/an Array of String");
            Vec::new()
        }
    }
}

pub(crate) async fn create_contact(
    State(state): State<AppState>,
    FreshdeskAgent(_): FreshdeskAgent,
    body: Body,
) -> Result<Response, FreshdeskError> {
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let name = text(&body, "name", &mut problems);
    let email = email(&body, "email", &mut problems);
    let phone = text(&body, "phone", &mut problems);
    let mobile = text(&body, "mobile", &mut problems);
    let external_id = text(&body, "unique_external_id", &mut problems);
    let tags = tags(&body, &mut problems);
    if name.is_none() {
        problems.missing("name", "It should be a/an String");
    }
    if email.is_none() && phone.is_none() && mobile.is_none() && external_id.is_none() {
        problems.missing("email", "Please fill at least 1 of email, mobile, phone, unique_external_id fields");
    }
    problems.into_result()?;
    let mut new = NewUser::new(Role::EndUser, name.unwrap_or_default());
    new.email = email;
    new.phones = [(PhoneKind::Phone, phone), (PhoneKind::Mobile, mobile)]
        .into_iter()
        .filter_map(|(kind, number)| number.map(|n| (kind, n)))
        .collect();
    new.external_id = external_id;
    new.tags = tags;
    let user = state.store.create_user(new).await?;
    Ok(json_response(StatusCode::CREATED, &render_contact(&user)))
}

pub(crate) async fn show_contact(
    State(state): State<AppState>,
    FreshdeskAgent(_): FreshdeskAgent,
    Path(id): Path<String>,
) -> Result<Response, FreshdeskError> {
    let user = state.store.get_user(path_id(&id)?).await?;
    Ok(json_response(StatusCode::OK, &render_contact(&user)))
}

fn number(body: &Map<String, Value>, key: &str, allowed: &[i64], problems: &mut Problems) -> Option<i64> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64().filter(|n| allowed.contains(n)) {
            Some(n) => Some(n),
            None => {
                let list: Vec<String> = allowed.iter().map(i64::to_string).collect();
                problems.invalid(key, format!("It should be one of these values: '{}'", list.join(",")));
                None
            }
        },
    }
}

fn id_field(body: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Id> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let id = v.as_i64().filter(|n| *n > 0);
            if id.is_none() {
                problems.mismatch(key, "It should be a/an Positive Integer");
            }
            id
        }
    }
}

pub(crate) async fn create_ticket(
    State(state): State<AppState>,
    FreshdeskAgent(agent): FreshdeskAgent,
    body: Body,
) -> Result<Response, FreshdeskError> {
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let store = &state.store;
    let subject = text(&body, "subject", &mut problems);
    let description = text(&body, "description", &mut problems);
    let requester_id = id_field(&body, "requester_id", &mut problems);
    let requester_email = email(&body, "email", &mut problems);
    let requester_phone = text(&body, "phone", &mut problems);
    let requester_name = text(&body, "name", &mut problems);
    let responder_id = id_field(&body, "responder_id", &mut problems);
    let status = number(&body, "status", &[2, 3, 4, 5], &mut problems).unwrap_or(2);
    let priority = number(&body, "priority", &[1, 2, 3, 4], &mut problems).unwrap_or(1);
    let source = number(&body, "source", &[1, 2, 3, 5, 6, 7, 9, 10], &mut problems).unwrap_or(2);
    let tags = tags(&body, &mut problems);
    if requester_id.is_none() && requester_email.is_none() && requester_phone.is_none() {
        problems.missing("requester_id", "Please fill at least 1 of requester_id, email, phone fields");
    }
    let mut requester = None;
    if let Some(id) = requester_id {
        match store.get_user(id).await {
            Ok(user) => requester = Some(user),
            Err(StoreError::NotFound { .. }) => {
                problems.invalid("requester_id", "There is no contact matching the given requester_id")
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(id) = responder_id {
        match store.get_user(id).await {
            Ok(user) if user.role.is_staff() && user.active => {}
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                problems.invalid("responder_id", "There is no agent matching the given responder_id")
            }
            Err(e) => return Err(e.into()),
        }
    }
    problems.into_result()?;

    // Freshdesk creates a contact for an e-mail address or number it does not know.
    let requester = match requester {
        Some(user) => user,
        None => {
            let by_email = match &requester_email {
                Some(email) => store.find_user_by_email(email.as_str()).await?,
                None => None,
            };
            let by_phone = match (&by_email, &requester_phone) {
                (None, Some(phone)) if requester_email.is_none() => {
                    users_with_phone(&state, phone).await?.into_iter().next()
                }
                _ => None,
            };
            match by_email.or(by_phone) {
                Some(user) => user,
                None => {
                    let shown = requester_name
                        .clone()
                        .or_else(|| requester_email.as_ref().map(|e| e.as_str().to_owned()))
                        .or_else(|| requester_phone.clone())
                        .unwrap_or_default();
                    let mut new = NewUser::new(Role::EndUser, shown);
                    new.email = requester_email.clone();
                    new.phones = requester_phone.iter().map(|p| (PhoneKind::Phone, p.clone())).collect();
                    store.create_user(new).await?
                }
            }
        }
    };
    let channel = match source {
        1 => Channel::Email,
        3 => Channel::PhoneInbound,
        _ => Channel::Api,
    };
    let description = description.unwrap_or_default();
    let ticket = store
        .create_ticket(NewTicket {
            subject: subject.unwrap_or_else(|| "(no subject)".to_owned()),
            description: description.clone(),
            status: Some(match status {
                3 => TicketStatus::Pending,
                4 => TicketStatus::Solved,
                5 => TicketStatus::Closed,
                _ => TicketStatus::Open,
            }),
            priority: Some(match priority {
                2 => Priority::Normal,
                3 => Priority::High,
                4 => Priority::Urgent,
                _ => Priority::Low,
            }),
            requester_id: requester.id,
            submitter_id: Some(agent.id),
            assignee_id: responder_id,
            organization_id: requester.organization_id,
            tags,
            via: Via { channel, source: Value::Null },
            first_comment: Some(NewComment {
                ticket_id: 0,
                author_id: requester.id,
                body: description,
                public: true,
                voice: None,
            }),
            ..Default::default()
        })
        .await?;
    Ok(json_response(StatusCode::CREATED, &render_ticket(&ticket)))
}

pub(crate) async fn show_ticket(
    State(state): State<AppState>,
    FreshdeskAgent(_): FreshdeskAgent,
    Path(id): Path<String>,
) -> Result<Response, FreshdeskError> {
    let ticket = state.store.get_ticket(path_id(&id)?).await?;
    Ok(json_response(StatusCode::OK, &render_ticket(&ticket)))
}

pub(crate) async fn create_note(
    State(state): State<AppState>,
    FreshdeskAgent(agent): FreshdeskAgent,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, FreshdeskError> {
    let ticket = state.store.get_ticket(path_id(&id)?).await?;
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let text = text(&body, "body", &mut problems);
    let private = match body.get("private") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.mismatch("private", "It should be a/an Boolean");
            true
        }
    };
    let user_id = id_field(&body, "user_id", &mut problems);
    if text.is_none() && body.get("body").is_none_or(Value::is_string) {
        problems.missing("body", "It should be a/an String");
    }
    if let Some(id) = user_id
        && let Err(e) = state.store.get_user(id).await
    {
        match e {
            StoreError::NotFound { .. } => problems.invalid("user_id", "There is no user matching the given user_id"),
            e => return Err(e.into()),
        }
    }
    problems.into_result()?;
    let comment = state
        .store
        .add_comment(NewComment {
            ticket_id: ticket.id,
            author_id: user_id.unwrap_or(agent.id),
            body: text.unwrap_or_default(),
            public: !private,
            voice: None,
        })
        .await?;
    Ok(json_response(StatusCode::CREATED, &render_note(&comment)))
}

pub(crate) async fn me(
    State(state): State<AppState>,
    FreshdeskAgent(agent): FreshdeskAgent,
) -> Result<Response, FreshdeskError> {
    let available = super::cti::is_online(&state.store, agent.id).await?;
    Ok(json_response(StatusCode::OK, &render_agent(&agent, available)))
}

pub(crate) async fn list_agents(
    State(state): State<AppState>,
    FreshdeskAgent(_): FreshdeskAgent,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, FreshdeskError> {
    let pairs = query_pairs(query);
    let (page, offset, per_page) = paging(&pairs);
    let ids = state.store.active_staff_ids().await?;
    let total = ids.len() as i64;
    let page_ids: Vec<Id> = ids.into_iter().skip(offset as usize).take(per_page as usize).collect();
    let mut items = Vec::new();
    for user in state.store.get_users(&page_ids).await? {
        let email_matches =
            param(&pairs, "email").is_none_or(|e| user.email.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(e)));
        if email_matches {
            let available = super::cti::is_online(&state.store, user.id).await?;
            items.push(render_agent(&user, available));
        }
    }
    Ok(page_response(&headers, "/freshdesk/api/v2/agents", items, page, per_page, total))
}
