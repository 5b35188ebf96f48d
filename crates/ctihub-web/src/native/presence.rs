//! Agent presence: available, away or do-not-disturb. Agents in do-not-disturb get no
//! incoming-call notifications.

use axum::Json;
use axum::extract::State;
use ctihub_domain::Id;
use ctihub_store::Presence;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::StaffUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::hub::kinds;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PresenceDto {
    user_id: Id,
    /// `available`, `away` or `do_not_disturb`.
    status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetPresence {
    status: String,
}

/// Every agent's presence that differs from the default (available).
#[utoipa::path(get, path = "/api/hub/presence", tag = "presence",
    responses((status = 200, body = Vec<PresenceDto>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>, _staff: StaffUser) -> Result<Json<Vec<PresenceDto>>, ApiError> {
    let all = state.store.list_presence().await?;
    Ok(Json(all.into_iter().map(|(user_id, p)| PresenceDto { user_id, status: p.as_str().to_owned() }).collect()))
}

/// Set the signed-in agent's presence.
#[utoipa::path(put, path = "/api/hub/presence", tag = "presence", request_body = SetPresence,
    responses((status = 200, body = PresenceDto), (status = 422, body = ErrorBody)))]
pub(crate) async fn set(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    JsonBody(body): JsonBody<SetPresence>,
) -> Result<Json<PresenceDto>, ApiError> {
    let presence = Presence::parse(&body.status).ok_or_else(|| {
        ApiError::invalid("status", format!("`{}` is not one of available, away, do_not_disturb", body.status))
    })?;
    state.store.set_presence(user.id, presence).await?;
    state.hub.publish(kinds::PRESENCE_CHANGED, None, json!({"user_id": user.id, "status": presence.as_str()})).await?;
    Ok(Json(PresenceDto { user_id: user.id, status: presence.as_str().to_owned() }))
}
