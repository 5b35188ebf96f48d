//! `GET /api/hub/audit`: the audit log for admins, newest first.

use axum::Json;
use axum::extract::{Query, State};
use ctihub_domain::time::format_millis;
use ctihub_store::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct AuditParams {
    /// 1-based page number.
    page: Option<i64>,
    /// Page size, at most 100 (default 50).
    per_page: Option<i64>,
}

/// One entry. Never holds a secret: tokens are named by id.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEntryDto {
    id: i64,
    /// When, in UTC.
    at: String,
    /// The acting user's id; absent for the command line and failed sign-ins.
    actor_id: Option<i64>,
    /// The actor's e-mail, `cli`, or the e-mail a failed sign-in tried.
    actor: String,
    /// `sign_in`, `sign_in_failed`, `sign_out`, `token_created`, `token_revoked`,
    /// `cti_config_changed`, `cti_token_rotated`, `freshdesk_cti_changed`, `routing_changed`,
    /// `custom_field_created`, `softphone_changed`, `user_created`, `user_role_changed`,
    /// `user_activation_changed`.
    action: String,
    /// What was acted on, e.g. `user:42` or `token:17`.
    target: Option<String>,
    /// The client address the request came from.
    address: Option<String>,
    detail: Option<String>,
}

impl From<AuditEntry> for AuditEntryDto {
    fn from(e: AuditEntry) -> Self {
        AuditEntryDto {
            id: e.id,
            at: format_millis(e.at),
            actor_id: e.actor_id,
            actor: e.actor,
            action: e.action,
            target: e.target,
            address: e.address,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    entries: Vec<AuditEntryDto>,
    /// Entries in the whole log.
    count: i64,
    page: i64,
    per_page: i64,
}

/// The audit log: sign-ins, token and settings changes. Admins only.
#[utoipa::path(get, path = "/api/hub/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let per_page = params.per_page.unwrap_or(50);
    if !(1..=100).contains(&per_page) {
        return Err(ApiError::invalid("per_page", "must be between 1 and 100"));
    }
    let page = params.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::invalid("page", "must be 1 or more"));
    }
    let (entries, count) = state.store.list_audit((page - 1) * per_page, per_page).await?;
    Ok(Json(AuditPage { entries: entries.into_iter().map(Into::into).collect(), count, page, per_page }))
}
