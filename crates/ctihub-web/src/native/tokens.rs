use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ctihub_domain::time::format_millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::auth::{AdminUser, secrets};
use crate::client::ClientAddr;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// What the token is for, e.g. `asterisk`.
    label: Option<String>,
    /// The agent or admin the token acts as; the caller when absent.
    user_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewToken {
    id: i64,
    label: Option<String>,
    /// Shown once; only its hash is stored.
    token: String,
    created_at: String,
}

/// Create an API token for an agent or admin (the caller by default). Admins only, as in the
/// console: a token is a standing credential, and handing them out is an administrative act.
#[utoipa::path(post, path = "/api/hub/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = NewToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    address: ClientAddr,
    JsonBody(body): JsonBody<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let user = match body.user_id {
        Some(id) if id != admin.id => state.store.get_user(id).await?,
        _ => admin.clone(),
    };
    if !user.active || !user.role.is_staff() {
        return Err(ApiError::invalid("user_id", "API tokens are for active agents and admins"));
    }
    let token = secrets::generate_token();
    let stored = state.store.create_api_token(user.id, body.label.as_deref(), &secrets::hash_token(&token)).await?;
    let (target, detail) = (Some(format!("token:{}", stored.id)), Some(format!("for user:{}", user.id)));
    audit::record(&state.store, Actor::User(&admin), action::TOKEN_CREATED, target, Some(address), detail).await;
    Ok((
        StatusCode::CREATED,
        Json(NewToken { id: stored.id, label: stored.label, token, created_at: format_millis(stored.created_at) }),
    ))
}
