//! ctihub's own API under `/api/hub`: what the console and administration scripts use.
//! Documented at `/api/hub/openapi.json`.

mod callers;
mod tokens;
mod users;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) use callers::__path_identify;
pub(crate) use tokens::__path_create_token;
pub use users::UserDto;
pub(crate) use users::{__path_create_user, __path_get_user, __path_list_users, __path_me, __path_update_user};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/me", get(users::me))
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/{id}", get(users::get_user).patch(users::update_user))
        .route("/callers", get(callers::identify))
        .route("/tokens", post(tokens::create_token))
}

/// Deserialize a field that distinguishes "absent" (`None`) from `null` (`Some(None)`).
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}
