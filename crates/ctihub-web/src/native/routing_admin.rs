//! Administration of the routing rules: the whole rule set, read and replaced at once, so the
//! order an admin wrote is the order they are evaluated in (`docs/routing.md`).

use axum::Json;
use axum::extract::State;
use ctihub_domain::routing::RoutingConfig;

use crate::audit::{self, Actor, action};
use crate::auth::AdminUser;
use crate::client::ClientAddr;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, routing};

/// The lines with their business hours, and the ordered rules.
#[utoipa::path(get, path = "/api/hub/routing", tag = "routing",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub(crate) async fn get_rules(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<RoutingConfig>, ApiError> {
    Ok(Json(routing::load(&state.store).await?))
}

/// Replace the routing rules. Rejected whole, naming the entry, when a rule cannot work: an
/// unknown group or agent, an unknown time zone, hours that close before they open.
#[utoipa::path(put, path = "/api/hub/routing", tag = "routing", request_body(content = Object),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn put_rules(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    address: ClientAddr,
    JsonBody(config): JsonBody<RoutingConfig>,
) -> Result<Json<RoutingConfig>, ApiError> {
    routing::save(&state.store, &config).await?;
    audit::record(&state.store, Actor::User(&admin), action::ROUTING_CHANGED, None, Some(address), None).await;
    Ok(Json(config))
}
