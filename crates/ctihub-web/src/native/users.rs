use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;

use crate::extract::{Path, Query};
use axum::http::StatusCode;
use ctihub_domain::Id;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::time::format_millis;
use ctihub_domain::user::{Email, NewUser, Role, User, UserPatch};
use ctihub_store::UserFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::auth::{AuthUser, StaffUser, secrets};
use crate::client::ClientAddr;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::native::nullable;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PhoneDto {
    /// `phone`, `mobile`, `work` or `other`.
    pub kind: String,
    /// The number as entered.
    pub number: String,
    /// The caller-index key: E.164 when valid, digits otherwise; absent when not a number.
    #[serde(default, skip_deserializing)]
    pub normalized: Option<String>,
    #[serde(default, skip_deserializing)]
    pub extension: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    /// `end-user`, `agent` or `admin`.
    pub role: String,
    pub name: String,
    pub email: Option<String>,
    pub phones: Vec<PhoneDto>,
    pub organization_id: Option<i64>,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub active: bool,
    /// The id a PBX knows this agent by.
    pub agent_id: Option<String>,
    pub extension: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        UserDto {
            id: u.id,
            role: u.role.as_str().to_owned(),
            name: u.name,
            email: u.email,
            phones: u
                .phones
                .into_iter()
                .map(|p| PhoneDto {
                    kind: p.kind.as_str().to_owned(),
                    number: p.raw,
                    normalized: p.key.as_ref().map(|k| k.as_str().to_owned()),
                    extension: p.key.as_ref().and_then(|k| k.extension().map(str::to_owned)),
                })
                .collect(),
            organization_id: u.organization_id,
            external_id: u.external_id,
            tags: u.tags,
            custom_fields: u.custom_fields,
            active: u.active,
            agent_id: u.agent_id,
            extension: u.extension,
            created_at: format_millis(u.created_at),
            updated_at: format_millis(u.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserDto>,
    /// How many users match, over all pages.
    pub count: i64,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// Only users with this role.
    role: Option<String>,
    organization_id: Option<i64>,
    /// 1-based page number.
    page: Option<i64>,
    /// Page size, at most 100 (default 100).
    per_page: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    role: Option<String>,
    name: String,
    email: Option<String>,
    #[serde(default)]
    phones: Vec<PhoneDto>,
    organization_id: Option<i64>,
    external_id: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    custom_fields: BTreeMap<String, serde_json::Value>,
    /// Agents and admins sign in to the console with it.
    password: Option<String>,
    agent_id: Option<String>,
    extension: Option<String>,
    active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateUser {
    role: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    /// Replaces all phones.
    phones: Option<Vec<PhoneDto>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    organization_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    external_id: Option<Option<String>>,
    tags: Option<Vec<String>>,
    /// Sets the given keys; `null` clears one.
    #[serde(default)]
    #[schema(value_type = Object)]
    custom_fields: BTreeMap<String, serde_json::Value>,
    password: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    agent_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    extension: Option<Option<String>>,
    active: Option<bool>,
}

fn parse_phones(phones: Vec<PhoneDto>) -> Result<Vec<(PhoneKind, String)>, ApiError> {
    phones.into_iter().map(|p| Ok((PhoneKind::parse(&p.kind)?, p.number))).collect()
}

fn parse_email(email: Option<String>) -> Result<Option<Email>, ApiError> {
    Ok(email.filter(|e| !e.trim().is_empty()).map(|e| Email::parse(&e)).transpose()?)
}

async fn hash_password_off_runtime(password: String) -> Result<String, ApiError> {
    if password.chars().count() < 8 {
        return Err(ApiError::invalid("password", "must be at least 8 characters"));
    }
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Agents manage end-users; only admins create or change agents and admins.
fn may_manage(actor: &User, role: Role) -> Result<(), ApiError> {
    if actor.role == Role::Admin || role == Role::EndUser {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage agents and admins"))
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/hub/me", tag = "users",
    responses((status = 200, body = UserDto), (status = 401, body = ErrorBody)))]
pub(crate) async fn me(AuthUser(user): AuthUser) -> Json<UserDto> {
    Json(user.into())
}

/// List users in id order.
#[utoipa::path(get, path = "/api/hub/users", tag = "users", params(ListParams),
    responses((status = 200, body = UserPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    _staff: StaffUser,
    Query(params): Query<ListParams>,
) -> Result<Json<UserPage>, ApiError> {
    let role = params.role.as_deref().map(Role::parse).transpose()?;
    let per_page = params.per_page.unwrap_or(100);
    if !(1..=100).contains(&per_page) {
        return Err(ApiError::invalid("per_page", "must be between 1 and 100"));
    }
    let page = params.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::invalid("page", "must be 1 or more"));
    }
    let filter = UserFilter { role, organization_id: params.organization_id };
    let (users, count) = state.store.list_users(&filter, (page - 1) * per_page, per_page).await?;
    Ok(Json(UserPage { users: users.into_iter().map(UserDto::from).collect(), count, page, per_page }))
}

/// Create a user. Agents may create end-users; admins anyone.
#[utoipa::path(post, path = "/api/hub/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    StaffUser(actor): StaffUser,
    address: ClientAddr,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    let role = body.role.as_deref().map(Role::parse).transpose()?.unwrap_or(Role::EndUser);
    may_manage(&actor, role)?;
    let mut new = NewUser::new(role, body.name);
    new.email = parse_email(body.email)?;
    new.phones = parse_phones(body.phones)?;
    new.organization_id = body.organization_id;
    new.external_id = body.external_id;
    new.tags = body.tags;
    new.custom_fields = body.custom_fields;
    new.agent_id = body.agent_id;
    new.extension = body.extension;
    new.active = body.active.unwrap_or(true);
    if let Some(password) = body.password {
        new.password_hash = Some(hash_password_off_runtime(password).await?);
    }
    let user = state.store.create_user(new).await?;
    // Creating staff hands out access; end-users are everyday data, not audited.
    if user.role.is_staff() {
        let (target, detail) = (Some(format!("user:{}", user.id)), Some(format!("role={}", user.role.as_str())));
        audit::record(&state.store, Actor::User(&actor), action::USER_CREATED, target, Some(address), detail).await;
    }
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One user. Agents see everyone; end-users only themselves.
#[utoipa::path(get, path = "/api/hub/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(id): Path<Id>,
) -> Result<Json<UserDto>, ApiError> {
    if !actor.role.is_staff() && actor.id != id {
        return Err(ApiError::forbidden("end-users may only read their own profile"));
    }
    Ok(Json(state.store.get_user(id).await?.into()))
}

/// Change a user. Absent fields stay as they are; `null` clears a nullable field.
#[utoipa::path(patch, path = "/api/hub/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    StaffUser(actor): StaffUser,
    address: ClientAddr,
    Path(id): Path<Id>,
    JsonBody(body): JsonBody<UpdateUser>,
) -> Result<Json<UserDto>, ApiError> {
    let current = state.store.get_user(id).await?;
    may_manage(&actor, current.role)?;
    let role = body.role.as_deref().map(Role::parse).transpose()?;
    if let Some(role) = role {
        may_manage(&actor, role)?;
    }
    let password_hash = match body.password {
        Some(password) => Some(Some(hash_password_off_runtime(password).await?)),
        None => None,
    };
    let patch = UserPatch {
        role,
        name: body.name,
        email: body.email.map(parse_email).transpose()?,
        phones: body.phones.map(parse_phones).transpose()?,
        organization_id: body.organization_id,
        external_id: body.external_id,
        tags: body.tags,
        custom_fields: body.custom_fields,
        active: body.active,
        password_hash,
        agent_id: body.agent_id,
        extension: body.extension,
    };
    let updated = state.store.update_user(id, patch).await?;
    if updated.role != current.role {
        let detail = Some(format!("{} -> {}", current.role.as_str(), updated.role.as_str()));
        let target = Some(format!("user:{id}"));
        audit::record(&state.store, Actor::User(&actor), action::USER_ROLE_CHANGED, target, Some(address), detail)
            .await;
    }
    if updated.active != current.active {
        let (target, detail) = (Some(format!("user:{id}")), Some(format!("active={}", updated.active)));
        audit::record(
            &state.store,
            Actor::User(&actor),
            action::USER_ACTIVATION_CHANGED,
            target,
            Some(address),
            detail,
        )
        .await;
    }
    Ok(Json(updated.into()))
}
