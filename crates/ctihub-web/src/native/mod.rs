//! ctihub's own API under `/api/hub`: what the console and administration scripts use.
//! Documented at `/api/hub/openapi.json`.

pub(crate) mod audit;
pub(crate) mod callers;
pub(crate) mod cluster;
pub(crate) mod cti_admin;
pub(crate) mod dip;
pub(crate) mod events;
pub(crate) mod freshdesk_cti;
pub(crate) mod journal;
pub(crate) mod presence;
pub(crate) mod reports;
pub(crate) mod routing_admin;
pub(crate) mod tokens;
pub(crate) mod users;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub use users::UserDto;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/me", get(users::me))
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/{id}", get(users::get_user).patch(users::update_user))
        .route("/callers", get(callers::identify))
        .route("/dip", get(dip::dip))
        .route("/tokens", post(tokens::create_token))
        .route("/journal", get(journal::list))
        .route("/journal/done", post(journal::mark))
        .route("/journal/done-all", post(journal::mark_all))
        .route("/cti/config", get(cti_admin::get_config).put(cti_admin::put_config))
        .route("/cti/token", post(cti_admin::rotate_token))
        .route("/freshdesk/cti", get(freshdesk_cti::get_settings).put(freshdesk_cti::put_settings))
        .route("/presence", get(presence::list).put(presence::set))
        .route("/routing", get(routing_admin::get_rules).put(routing_admin::put_rules))
        .route("/reports/calls", get(reports::calls))
        .route("/calls.csv", get(reports::export))
        .route("/events", get(events::stream))
        .route("/cluster", get(cluster::nodes))
        .route("/audit", get(audit::list))
}

/// Deserialize a field that distinguishes "absent" (`None`) from `null` (`Some(None)`).
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}
