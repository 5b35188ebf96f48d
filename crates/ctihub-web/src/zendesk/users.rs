//! Zendesk's users API as telephony integrations use it: create a caller with only a phone
//! number, show, update (custom user fields such as the call-center agent id), list, `me`, and
//! the tickets a user requested, plus the `user_fields` definitions.
//!
//! Agents may create and update end-users; creating or changing an agent or admin, or changing
//! anyone's role, takes an admin, as in Zendesk.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use ctihub_domain::custom_field::{CustomField, FieldTarget};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{Email, NewUser, Role, User, UserPatch};
use ctihub_store::UserFilter;
use serde_json::{Map, Value, json};

use super::attributes::{optional_id, optional_text, tags};
use super::error::{Problems, ZendeskError};
use super::paging::{ListUrl, list_envelope};
use super::{ZendeskAgent, ZendeskCaller, base_url, envelope, json_object, json_response, path_id, render};
use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::client::ClientAddr;

type Body = Result<Bytes, BytesRejection>;

/// What a user body says, checked. `None` leaves an attribute alone.
#[derive(Default)]
struct UserInput {
    name: Option<String>,
    email: Option<Option<Email>>,
    phone: Option<Option<String>>,
    role: Option<Role>,
    organization_id: Option<Option<i64>>,
    external_id: Option<Option<String>>,
    tags: Option<Vec<String>>,
    user_fields: Map<String, Value>,
}

impl UserInput {
    fn read(object: &Map<String, Value>, problems: &mut Problems) -> UserInput {
        let mut input = UserInput::default();
        match object.get("name") {
            None => {}
            Some(Value::String(s)) if !s.trim().is_empty() => input.name = Some(s.trim().to_owned()),
            Some(Value::String(_) | Value::Null) => too_short(problems),
            Some(_) => problems.invalid("name", "must be a string"),
        }
        if let Some(email) = optional_text(object, "email", problems) {
            input.email = match email.map(|e| Email::parse(&e)) {
                None => Some(None),
                Some(Ok(email)) => Some(Some(email)),
                Some(Err(_)) => {
                    let shown = object["email"].as_str().unwrap_or_default();
                    problems.invalid("email", format!("{shown} is not properly formatted"));
                    None
                }
            };
        }
        if let Some(phone) = optional_text(object, "phone", problems) {
            if phone.as_deref().is_some_and(|p| !p.chars().any(|c| c.is_ascii_digit())) {
                problems.invalid("phone", format!("{} is not a phone number", phone.unwrap_or_default()));
            } else {
                input.phone = Some(phone);
            }
        }
        if let Some(role) = optional_text(object, "role", problems).flatten() {
            match Role::parse(&role) {
                Ok(role) => input.role = Some(role),
                Err(e) => problems.invalid("role", e.message),
            }
        }
        input.organization_id = optional_id(object, "organization_id", problems);
        input.external_id = optional_text(object, "external_id", problems);
        input.tags = tags(object, "tags", problems);
        match object.get("user_fields") {
            None | Some(Value::Null) => {}
            Some(Value::Object(fields)) => input.user_fields = fields.clone(),
            Some(_) => problems.invalid("user_fields", "must be an object of field keys and values"),
        }
        input
    }

    /// Every problem a write would meet, found before anything is written.
    async fn check(
        &self,
        state: &AppState,
        acting: &User,
        target: Option<&User>,
        fields: &[CustomField],
        problems: &mut Problems,
    ) -> Result<(), ZendeskError> {
        if let Some(Some(org)) = self.organization_id
            && state.store.get_organization(org).await.is_err()
        {
            problems.invalid("organization_id", format!("organization {org} does not exist"));
        }
        for (key, value) in &self.user_fields {
            match fields.iter().find(|f| &f.key == key) {
                None => problems.invalid("user_fields", format!("`{key}` is not the key of a user field")),
                Some(field) => {
                    if let Err(e) = field.to_stored(value) {
                        problems.invalid("user_fields", e.message);
                    }
                }
            }
        }
        let makes_staff = self.role.is_some_and(|r| r.is_staff());
        let changes_role = target.is_some_and(|t| self.role.is_some_and(|r| r != t.role));
        let edits_staff = target.is_some_and(|t| t.role.is_staff() && t.id != acting.id);
        if acting.role != Role::Admin && ((target.is_none() && makes_staff) || changes_role || edits_staff) {
            return Err(ZendeskError::forbidden());
        }
        Ok(())
    }
}

fn too_short(problems: &mut Problems) {
    problems.add("name", "ValueTooShort", "is too short (minimum one character)");
}

/// The phones after setting Zendesk's single `phone`: other kinds (mobile, work) are kept.
fn phones_with(user: Option<&User>, phone: Option<String>) -> Vec<(PhoneKind, String)> {
    let mut phones: Vec<(PhoneKind, String)> = user
        .map(|u| u.phones.iter().filter(|p| p.kind != PhoneKind::Phone).map(|p| (p.kind, p.raw.clone())).collect())
        .unwrap_or_default();
    if let Some(phone) = phone {
        phones.insert(0, (PhoneKind::Phone, phone));
    }
    phones
}

pub(crate) async fn user_fields_of(state: &AppState) -> Result<Vec<CustomField>, ZendeskError> {
    Ok(state.store.list_custom_fields(FieldTarget::User).await?)
}

fn user_answer(status: StatusCode, headers: &HeaderMap, user: &User, fields: &[CustomField]) -> Response {
    let base = base_url(headers);
    let mut response = json_response(status, &json!({"user": render::user(&base, user, fields)}));
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("{base}/api/v2/users/{}.json", user.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub(crate) async fn create(
    State(state): State<AppState>,
    ZendeskAgent(acting): ZendeskAgent,
    address: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let object = envelope(&body, "user", &mut problems);
    let input = UserInput::read(&object, &mut problems);
    if input.name.is_none() && !object.contains_key("name") {
        too_short(&mut problems);
    }
    let fields = user_fields_of(&state).await?;
    input.check(&state, &acting, None, &fields, &mut problems).await?;
    problems.into_result()?;

    let role = input.role.unwrap_or(Role::EndUser);
    let mut new = NewUser::new(role, input.name.unwrap_or_default());
    new.email = input.email.flatten();
    new.phones = phones_with(None, input.phone.flatten());
    new.organization_id = input.organization_id.flatten();
    new.external_id = input.external_id.flatten();
    new.tags = input.tags.unwrap_or_default();
    new.custom_fields = input.user_fields.into_iter().collect();
    let user = state.store.create_user(new).await?;
    if user.role.is_staff() {
        let (target, detail) = (Some(format!("user:{}", user.id)), Some(format!("role={}", user.role.as_str())));
        audit::record(&state.store, Actor::User(&acting), action::USER_CREATED, target, Some(address), detail).await;
    }
    Ok(user_answer(StatusCode::CREATED, &headers, &user, &fields))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    let user = state.store.get_user(path_id(&id)?).await?;
    Ok(user_answer(StatusCode::OK, &headers, &user, &user_fields_of(&state).await?))
}

/// `GET /api/v2/users/me`: whoever the credentials belong to, end-users included.
pub(crate) async fn me(
    State(state): State<AppState>,
    ZendeskCaller(user): ZendeskCaller,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    Ok(user_answer(StatusCode::OK, &headers, &user, &user_fields_of(&state).await?))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    ZendeskAgent(acting): ZendeskAgent,
    address: ClientAddr,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    let current = state.store.get_user(path_id(&id)?).await?;
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let object = envelope(&body, "user", &mut problems);
    let input = UserInput::read(&object, &mut problems);
    let fields = user_fields_of(&state).await?;
    input.check(&state, &acting, Some(&current), &fields, &mut problems).await?;
    problems.into_result()?;

    let patch = UserPatch {
        role: input.role,
        name: input.name,
        email: input.email,
        phones: input.phone.map(|phone| phones_with(Some(&current), phone)),
        organization_id: input.organization_id,
        external_id: input.external_id,
        tags: input.tags,
        custom_fields: input.user_fields.into_iter().collect(),
        ..Default::default()
    };
    let user = state.store.update_user(current.id, patch).await?;
    if user.role != current.role {
        let detail = Some(format!("{} -> {}", current.role.as_str(), user.role.as_str()));
        let target = Some(format!("user:{}", user.id));
        audit::record(&state.store, Actor::User(&acting), action::USER_ROLE_CHANGED, target, Some(address), detail)
            .await;
    }
    Ok(user_answer(StatusCode::OK, &headers, &user, &fields))
}

/// `GET /api/v2/users`, optionally `?role=agent` (or `role[]=agent&role[]=admin`).
pub(crate) async fn list(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ZendeskError> {
    let url = ListUrl::new(&headers, &uri);
    let role = match url.params().get("role").or_else(|| url.params().get("role[]")) {
        Some(role) => Some(
            Role::parse(role).map_err(|e| ZendeskError::bad_request("InvalidValue", format!("role: {}", e.message)))?,
        ),
        None => None,
    };
    let paging = url.paging();
    let filter = UserFilter { role, organization_id: None };
    let (users, total) = state.store.list_users(&filter, paging.offset(), paging.limit()).await?;
    let fields = user_fields_of(&state).await?;
    let base = url.base();
    let items = users.iter().map(|u| render::user(base, u, &fields)).collect();
    Ok(json_response(StatusCode::OK, &list_envelope("users", items, total, &paging, &url)))
}

/// `GET /api/v2/users/{id}/tickets/requested`: the user's tickets, most recent first.
pub(crate) async fn requested(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ZendeskError> {
    let user = state.store.get_user(path_id(&id)?).await?;
    let url = ListUrl::new(&headers, &uri);
    let paging = url.paging();
    let (tickets, total) = state.store.tickets_requested_by(user.id, paging.offset(), paging.limit()).await?;
    let fields = state.store.list_custom_fields(FieldTarget::Ticket).await?;
    let base = url.base();
    let items = tickets.iter().map(|t| render::ticket(base, t, &fields)).collect();
    Ok(json_response(StatusCode::OK, &list_envelope("tickets", items, total, &paging, &url)))
}
