//! Administration of the CTI integration: the whole configuration, and token rotation.

use axum::Json;
use axum::extract::State;
use ctihub_domain::cti::CtiConfig;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::auth::AdminUser;
use crate::client::ClientAddr;
use crate::cti::config::new_token;
use crate::cti::{load_config, push_path, save_config};
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CtiSettings {
    /// Block list, routing table, notify map, view limit, retention, provider settings.
    #[schema(value_type = Object)]
    config: CtiConfig,
    /// Where the PBX pushes events, once a token exists.
    push_path: Option<String>,
}

fn settings(config: CtiConfig) -> CtiSettings {
    let push_path = config.token.as_deref().map(push_path);
    CtiSettings { config, push_path }
}

/// The CTI configuration.
#[utoipa::path(get, path = "/api/hub/cti/config", tag = "cti",
    responses((status = 200, body = CtiSettings), (status = 403, body = ErrorBody)))]
pub(crate) async fn get_config(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<CtiSettings>, ApiError> {
    Ok(Json(settings(load_config(&state.store).await?)))
}

/// Replace the CTI configuration. The generic token is kept (rotate it with
/// `POST /api/hub/cti/token`); enabling an integration without a token creates one.
#[utoipa::path(put, path = "/api/hub/cti/config", tag = "cti", request_body(content = Object),
    responses((status = 200, body = CtiSettings), (status = 422, body = ErrorBody)))]
pub(crate) async fn put_config(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    address: ClientAddr,
    JsonBody(mut config): JsonBody<CtiConfig>,
) -> Result<Json<CtiSettings>, ApiError> {
    let current = load_config(&state.store).await?;
    config.token = current.token.or_else(|| config.enabled.then(new_token));
    // Provider tokens may be chosen by the admin; an enabled provider without one gets one.
    if config.sipgate.enabled && config.sipgate.token.is_none() {
        config.sipgate.token = Some(new_token());
    }
    if config.placetel.enabled && config.placetel.token.is_none() {
        config.placetel.token = Some(new_token());
    }
    save_config(&state.store, &config).await?;
    audit::record(&state.store, Actor::User(&admin), action::CTI_CONFIG_CHANGED, None, Some(address), None).await;
    Ok(Json(settings(config)))
}

/// Issue a new push token; the old URL stops working at once.
#[utoipa::path(post, path = "/api/hub/cti/token", tag = "cti",
    responses((status = 200, body = CtiSettings), (status = 403, body = ErrorBody)))]
pub(crate) async fn rotate_token(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    address: ClientAddr,
) -> Result<Json<CtiSettings>, ApiError> {
    let mut config = load_config(&state.store).await?;
    config.token = Some(new_token());
    save_config(&state.store, &config).await?;
    audit::record(&state.store, Actor::User(&admin), action::CTI_TOKEN_ROTATED, None, Some(address), None).await;
    Ok(Json(settings(config)))
}
