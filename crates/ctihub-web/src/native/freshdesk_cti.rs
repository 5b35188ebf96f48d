//! Administration of the Freshdesk CTI options (today: the "New Ticket" option), kept in the
//! settings document the Freshdesk pop reads on every request, so a change holds at once.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::auth::AdminUser;
use crate::client::ClientAddr;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::freshdesk::{FreshdeskCtiConfig, load_config, save_config};

/// The Freshdesk CTI options as the API shows them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FreshdeskCtiSettings {
    /// A call to an online agent gets a new ticket as it comes in; the agent cannot link it
    /// elsewhere.
    new_ticket: bool,
}

/// The options to store. Unknown fields are refused, so a misspelled option is not silently
/// ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FreshdeskCtiInput {
    new_ticket: bool,
}

fn shown(config: &FreshdeskCtiConfig) -> FreshdeskCtiSettings {
    FreshdeskCtiSettings { new_ticket: config.new_ticket }
}

/// The Freshdesk CTI options.
#[utoipa::path(get, path = "/api/hub/freshdesk/cti", tag = "cti",
    responses((status = 200, body = FreshdeskCtiSettings), (status = 403, body = ErrorBody)))]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<FreshdeskCtiSettings>, ApiError> {
    Ok(Json(shown(&load_config(&state.store).await?)))
}

/// Replace the Freshdesk CTI options.
#[utoipa::path(put, path = "/api/hub/freshdesk/cti", tag = "cti", request_body = FreshdeskCtiInput,
    responses((status = 200, body = FreshdeskCtiSettings), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    address: ClientAddr,
    JsonBody(input): JsonBody<FreshdeskCtiInput>,
) -> Result<Json<FreshdeskCtiSettings>, ApiError> {
    let mut config = load_config(&state.store).await?;
    config.new_ticket = input.new_ticket;
    save_config(&state.store, &config).await?;
    let detail = Some(format!("new_ticket={}", config.new_ticket));
    audit::record(&state.store, Actor::User(&admin), action::FRESHDESK_CTI_CHANGED, None, Some(address), detail).await;
    Ok(Json(shown(&config)))
}
