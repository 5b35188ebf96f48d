//! The OpenAPI document of the native API, served at `/api/hub/openapi.json`. Each handler's
//! `#[utoipa::path]` is listed here; the test suite checks every native route is documented.

use axum::Json;
use utoipa::OpenApi;

use crate::native;

#[derive(OpenApi)]
#[openapi(
    info(title = "ctihub native API", description = "ctihub's own API for the console and administration."),
    paths(
        native::users::me,
        native::users::list_users,
        native::users::create_user,
        native::users::get_user,
        native::users::update_user,
        native::callers::identify,
        native::tokens::create_token,
        native::journal::list,
        native::journal::mark,
        native::journal::mark_all,
        native::cti_admin::get_config,
        native::cti_admin::put_config,
        native::cti_admin::rotate_token,
        native::freshdesk_cti::get_settings,
        native::freshdesk_cti::put_settings,
        native::presence::list,
        native::presence::set,
        native::events::stream,
        native::routing_admin::get_rules,
        native::routing_admin::put_rules,
        native::dip::dip,
        native::reports::calls,
        native::reports::export,
        native::cluster::nodes,
        native::audit::list,
    ),
    tags(
        (name = "users", description = "End-users, agents and admins"),
        (name = "callers", description = "Caller identification through the caller index"),
        (name = "tokens", description = "API tokens"),
        (name = "journal", description = "The caller journal: missed calls, callbacks"),
        (name = "cti", description = "CTI integration settings (admins)"),
        (name = "presence", description = "Agent availability"),
        (name = "events", description = "Real-time events for agent consoles (SSE)"),
        (name = "routing", description = "Inbound routing rules and business hours (admins)"),
        (name = "reports", description = "Call reports and the call export"),
        (name = "cluster", description = "The nodes serving this database (admins)"),
        (name = "audit", description = "The audit log of sign-ins, token and settings changes (admins)"),
    )
)]
pub struct NativeApi;

pub(crate) async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(NativeApi::openapi())
}
