//! The OpenAPI document of the native API, served at `/api/hub/openapi.json`. Each handler's
//! `#[utoipa::path]` is listed here; the test suite checks every native route is documented.

use axum::Json;
use utoipa::OpenApi;

use crate::native;

#[derive(OpenApi)]
#[openapi(
    info(title = "ctihub native API", description = "ctihub's own API for the console and administration."),
    paths(
        native::me,
        native::list_users,
        native::create_user,
        native::get_user,
        native::update_user,
        native::identify,
        native::create_token,
    ),
    tags(
        (name = "users", description = "End-users, agents and admins"),
        (name = "callers", description = "Caller identification through the caller index"),
        (name = "tokens", description = "API tokens"),
    )
)]
pub struct NativeApi;

pub(crate) async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(NativeApi::openapi())
}
