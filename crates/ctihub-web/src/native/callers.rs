use axum::Json;
use axum::extract::State;

use crate::extract::Query;
use ctihub_domain::phone::CallerNumber;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::StaffUser;
use crate::error::{ApiError, ErrorBody};
use crate::native::UserDto;

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct IdentifyParams {
    /// The number in any format: `(513) 555-7611`, `+49 30 5557 1600 ext. 12`, `anonymous`.
    number: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallerMatchDto {
    /// `known` (a phone field) or `maybe` (found in text the user wrote).
    level: String,
    user: UserDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Identification {
    number: String,
    /// `number`, `withheld` or `not_a_number`.
    kind: String,
    /// The caller-index key the lookup used.
    normalized: Option<String>,
    extension: Option<String>,
    matches: Vec<CallerMatchDto>,
}

/// Who is calling from this number? Known matches first, then maybe-matches.
#[utoipa::path(get, path = "/api/hub/callers", tag = "callers", params(IdentifyParams),
    responses((status = 200, body = Identification), (status = 401, body = ErrorBody)))]
pub(crate) async fn identify(
    State(state): State<AppState>,
    _staff: StaffUser,
    Query(params): Query<IdentifyParams>,
) -> Result<Json<Identification>, ApiError> {
    let normalized = state.store.phones().normalize(&params.number);
    let kind = match &normalized {
        CallerNumber::Number(_) => "number",
        CallerNumber::Withheld => "withheld",
        CallerNumber::NotANumber => "not_a_number",
    };
    let matches = state.store.identify_caller(&params.number).await?;
    Ok(Json(Identification {
        kind: kind.to_owned(),
        normalized: normalized.key().map(|k| k.as_str().to_owned()),
        extension: normalized.key().and_then(|k| k.extension().map(str::to_owned)),
        number: params.number,
        matches: matches
            .into_iter()
            .map(|m| CallerMatchDto { level: m.level.as_str().to_owned(), user: m.user.into() })
            .collect(),
    }))
}
