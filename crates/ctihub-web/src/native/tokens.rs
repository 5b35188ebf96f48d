use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ctihub_domain::time::format_millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{AuthUser, secrets};
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// What the token is for, e.g. `asterisk`.
    label: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewToken {
    id: i64,
    label: Option<String>,
    /// Shown once; only its hash is stored.
    token: String,
    created_at: String,
}

/// Create an API token for the signed-in user.
#[utoipa::path(post, path = "/api/hub/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = NewToken), (status = 401, body = ErrorBody)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let token = secrets::generate_token();
    let stored = state.store.create_api_token(user.id, body.label.as_deref(), &secrets::hash_token(&token)).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken { id: stored.id, label: stored.label, token, created_at: format_millis(stored.created_at) }),
    ))
}
