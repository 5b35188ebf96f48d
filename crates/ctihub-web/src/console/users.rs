//! Admin pages for people: users and agents (role, password, phones, the PBX's agent id and
//! extension, deactivation) and API tokens (created for a user, shown once, revoked).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::Id;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{Email, NewUser, Role, User, UserPatch};
use serde::Deserialize;

use super::session::{Admin, AdminForm, Refusal};
use super::{Layout, iso, staff};
use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::auth::secrets;
use crate::client::ClientAddr;
use crate::cti::view::display_name;

const PAGE_SIZE: i64 = 50;

/// A validation problem is shown on the form; anything else is a failure page.
fn form_error(refusal: Refusal) -> Result<String, Refusal> {
    match refusal {
        Refusal::BadForm(message) => Ok(message),
        other => Err(other),
    }
}

fn bad(e: ctihub_domain::DomainError) -> Refusal {
    Refusal::BadForm(format!("{}: {}", e.field, e.message))
}

/// One phone per line, `number` or `kind | number` (kinds: phone, mobile, work, other).
fn parse_phones(text: &str) -> Result<Vec<(PhoneKind, String)>, Refusal> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('|') {
            Some((kind, number)) => Ok((PhoneKind::parse(kind).map_err(bad)?, number.trim().to_owned())),
            None => Ok((PhoneKind::Phone, line.to_owned())),
        })
        .collect()
}

fn phones_text(user: &User) -> String {
    user.phones.iter().map(|p| format!("{} | {}", p.kind.as_str(), p.raw)).collect::<Vec<_>>().join("\n")
}

fn optional(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub(crate) struct UserLine {
    pub id: Id,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub agent_id: String,
    pub extension: String,
    pub phones: Vec<String>,
    pub active: bool,
}

fn user_line(u: &User) -> UserLine {
    UserLine {
        id: u.id,
        name: display_name(u).to_owned(),
        email: u.email.clone().unwrap_or_default(),
        role: u.role.as_str(),
        agent_id: u.agent_id.clone().unwrap_or_default(),
        extension: u.extension.clone().unwrap_or_default(),
        phones: u.phones.iter().map(|p| p.raw.clone()).collect(),
        active: u.active,
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    phones: String,
    #[serde(default)]
    agent_id: String,
    #[serde(default)]
    extension: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_users.html")]
pub(crate) struct UsersPage {
    layout: Layout,
    users: Vec<UserLine>,
    page: i64,
    pages: i64,
    total: i64,
    form: NewUserForm,
    error: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageParam {
    page: Option<i64>,
}

async fn users_page(state: &AppState, admin: &super::session::Agent, page: i64) -> Result<UsersPage, Refusal> {
    let filter = ctihub_store::UserFilter { role: None, organization_id: None };
    let page = page.max(1);
    let (users, total) = state.store.list_users(&filter, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    let layout = Layout::new(state, admin, "Users and agents", "users").await?;
    Ok(UsersPage {
        layout,
        users: users.iter().map(user_line).collect(),
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        total,
        form: NewUserForm { role: "agent".into(), ..Default::default() },
        error: String::new(),
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Query(q): Query<PageParam>,
) -> Result<UsersPage, Refusal> {
    users_page(&state, &admin, q.page.unwrap_or(1)).await
}

async fn create_user(state: &AppState, form: &NewUserForm) -> Result<User, Refusal> {
    let role = Role::parse(&form.role).map_err(bad)?;
    let mut new = NewUser::new(role, form.name.trim());
    new.email = optional(&form.email).map(|e| Email::parse(&e)).transpose().map_err(bad)?;
    new.phones = parse_phones(&form.phones)?;
    new.agent_id = optional(&form.agent_id);
    new.extension = optional(&form.extension);
    if role.is_staff() {
        if new.email.is_none() || form.password.chars().count() < 8 {
            return Err(Refusal::BadForm(
                "Agents and admins sign in with an e-mail address and a password of at least 8 characters.".into(),
            ));
        }
        new.password_hash = Some(secrets::hash_password(&form.password).map_err(super::internal)?);
    }
    Ok(state.store.create_user(new).await?)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<NewUserForm>,
) -> Result<Response, Refusal> {
    match create_user(&state, &form).await {
        Ok(user) => {
            tracing::info!(user_id = user.id, by = agent.user.id, "user created in the console");
            let (target, detail) = (Some(format!("user:{}", user.id)), Some(format!("role={}", user.role.as_str())));
            audit::record(&state.store, Actor::User(&agent.user), action::USER_CREATED, target, Some(address), detail)
                .await;
            Ok(Redirect::to(&format!("/console/admin/users/{}", user.id)).into_response())
        }
        Err(refusal) => {
            let error = form_error(refusal)?;
            let mut page = users_page(&state, &agent, 1).await?;
            // Keep what the admin typed, except the password.
            page.form = NewUserForm { password: String::new(), ..form };
            page.error = error;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_user.html")]
pub(crate) struct UserEditPage {
    layout: Layout,
    user: UserLine,
    agent_id: String,
    extension: String,
    phones: String,
    error: String,
}

async fn edit_page(
    state: &AppState,
    admin: &super::session::Agent,
    user: &User,
    error: String,
) -> Result<UserEditPage, Refusal> {
    let layout = Layout::new(state, admin, display_name(user).to_owned(), "users").await?;
    Ok(UserEditPage {
        layout,
        user: user_line(user),
        agent_id: user.agent_id.clone().unwrap_or_default(),
        extension: user.extension.clone().unwrap_or_default(),
        phones: phones_text(user),
        error,
    })
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<Id>,
) -> Result<UserEditPage, Refusal> {
    let user = state.store.get_user(id).await?;
    edit_page(&state, &admin, &user, String::new()).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    agent_id: String,
    #[serde(default)]
    extension: String,
    #[serde(default)]
    phones: String,
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<Id>,
    AdminForm(agent, form): AdminForm<EditForm>,
) -> Result<Response, Refusal> {
    let user = state.store.get_user(id).await?;
    let outcome = match parse_phones(&form.phones) {
        Ok(phones) => {
            let patch = UserPatch {
                agent_id: Some(optional(&form.agent_id)),
                extension: Some(optional(&form.extension)),
                phones: Some(phones),
                ..Default::default()
            };
            state.store.update_user(id, patch).await.map_err(Refusal::from)
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/console/admin/users/{id}")).into_response()),
        Err(refusal) => {
            let error = form_error(refusal)?;
            let mut page = edit_page(&state, &agent, &user, error).await?;
            page.agent_id = form.agent_id;
            page.extension = form.extension;
            page.phones = form.phones;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActiveForm {
    active: bool,
}

/// Deactivating ends the user's console sessions at once; their API tokens stop working because
/// authentication refuses inactive users.
pub(crate) async fn set_active(
    State(state): State<AppState>,
    Path(id): Path<Id>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<ActiveForm>,
) -> Result<Response, Refusal> {
    if id == agent.user.id && !form.active {
        return Err(Refusal::BadForm("You cannot deactivate yourself; ask another admin.".into()));
    }
    state.store.update_user(id, UserPatch { active: Some(form.active), ..Default::default() }).await?;
    if !form.active {
        state.store.delete_console_sessions_of(id).await?;
    }
    tracing::info!(user_id = id, active = form.active, by = agent.user.id, "user activation changed");
    let (target, detail) = (Some(format!("user:{id}")), Some(format!("active={}", form.active)));
    audit::record(
        &state.store,
        Actor::User(&agent.user),
        action::USER_ACTIVATION_CHANGED,
        target,
        Some(address),
        detail,
    )
    .await;
    Ok(Redirect::to(&format!("/console/admin/users/{id}")).into_response())
}

pub(crate) struct TokenLine {
    pub id: Id,
    pub user_id: Id,
    pub user: String,
    pub label: String,
    pub created_at: String,
    pub last_used_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_tokens.html")]
pub(crate) struct TokensPage {
    layout: Layout,
    users: Vec<(Id, String)>,
    tokens: Vec<TokenLine>,
    /// A token just created: its only appearance.
    created: Option<(String, String)>,
}

async fn tokens_page(
    state: &AppState,
    admin: &super::session::Agent,
    created: Option<(String, String)>,
) -> Result<TokensPage, Refusal> {
    let layout = Layout::new(state, admin, "API tokens", "tokens").await?;
    let users = staff(state).await?;
    let mut tokens = Vec::new();
    for (user_id, name) in &users {
        for t in state.store.list_api_tokens(*user_id).await? {
            tokens.push(TokenLine {
                id: t.id,
                user_id: *user_id,
                user: name.clone(),
                label: t.label.unwrap_or_default(),
                created_at: iso(t.created_at),
                last_used_at: t.last_used_at.map(iso).unwrap_or_default(),
            });
        }
    }
    tokens.sort_by_key(|t| std::cmp::Reverse(t.id));
    Ok(TokensPage { layout, users, tokens, created })
}

pub(crate) async fn tokens(State(state): State<AppState>, Admin(admin): Admin) -> Result<TokensPage, Refusal> {
    tokens_page(&state, &admin, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewTokenForm {
    user_id: Id,
    #[serde(default)]
    label: String,
}

/// The page is the response, not a redirect: the token must not travel in a URL or be shown
/// again on reload.
pub(crate) async fn create_token(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<NewTokenForm>,
) -> Result<TokensPage, Refusal> {
    let user = state.store.get_user(form.user_id).await?;
    if !user.active || !user.role.is_staff() {
        return Err(Refusal::BadForm("API tokens are for active agents and admins.".into()));
    }
    let token = secrets::generate_token();
    let label = optional(&form.label);
    let stored = state.store.create_api_token(user.id, label.as_deref(), &secrets::hash_token(&token)).await?;
    tracing::info!(user_id = user.id, by = agent.user.id, "API token created in the console");
    let (target, detail) = (Some(format!("token:{}", stored.id)), Some(format!("for user:{}", user.id)));
    audit::record(&state.store, Actor::User(&agent.user), action::TOKEN_CREATED, target, Some(address), detail).await;
    tokens_page(&state, &agent, Some((display_name(&user).to_owned(), token))).await
}

pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<Id>,
    address: ClientAddr,
    AdminForm(agent, _): AdminForm<super::admin::Empty>,
) -> Result<Response, Refusal> {
    if !state.store.revoke_api_token(id).await? {
        return Err(Refusal::NotFound("token".into()));
    }
    tracing::info!(token_id = id, by = agent.user.id, "API token revoked in the console");
    audit::record(
        &state.store,
        Actor::User(&agent.user),
        action::TOKEN_REVOKED,
        Some(format!("token:{id}")),
        Some(address),
        None,
    )
    .await;
    Ok(Redirect::to("/console/admin/tokens").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_read_one_per_line_with_an_optional_kind() {
        let phones = parse_phones(" 030 1234 \n\nmobile | 0151 555\n").unwrap();
        assert_eq!(phones, vec![(PhoneKind::Phone, "030 1234".into()), (PhoneKind::Mobile, "0151 555".into())]);
        assert!(matches!(parse_phones("fax | 1"), Err(Refusal::BadForm(m)) if m.contains("fax")));
    }
}
