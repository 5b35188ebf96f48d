//! Call reports for scripts and spreadsheets: the figures of the console's reports page as
//! JSON, and every call of a range as CSV (streamed).

use axum::Json;
use axum::extract::State;

use crate::extract::Query;
use axum::response::Response;
use ctihub_domain::report::ReportFigures;

use crate::AppState;
use crate::auth::StaffUser;
use crate::error::{ApiError, ErrorBody};
use crate::reports::{self, PAGE_MAX_DAYS, ReportParams};

/// Call counts per hour and day, outcomes, time to answer / wait / talk / hold (median, p90),
/// and the same per agent, queue and line. Definitions in `docs/reports.md`.
#[utoipa::path(get, path = "/api/hub/reports/calls", tag = "reports", params(ReportParams),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn calls(
    State(state): State<AppState>,
    _staff: StaffUser,
    Query(params): Query<ReportParams>,
) -> Result<Json<ReportFigures>, ApiError> {
    let filter = params.resolve(PAGE_MAX_DAYS)?;
    Ok(Json(reports::figures(&state.store, &filter).await?))
}

/// Every call started in the range as CSV: a header row with the call object's field names,
/// then one row per call, oldest first. Streamed, so any range can be exported.
#[utoipa::path(get, path = "/api/hub/calls.csv", tag = "reports", params(ReportParams),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = ErrorBody)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    _staff: StaffUser,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let filter = params.resolve(None)?;
    Ok(reports::csv_export(&state.store, &filter))
}
