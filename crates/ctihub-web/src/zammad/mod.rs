//! The Zammad dialect: the generic CTI push API (`/api/v1/cti/:token`) a PBX configured for
//! Zammad's "CTI (generic)" integration calls, and the caller-log API Zammad-side scripts read.
//! Errors answer in Zammad's shape, `{"error": "…"}`.

mod log;
mod push;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cti/log", get(log::list))
        .route("/api/v1/cti/done/bulk", post(log::done_bulk))
        .route("/api/v1/cti/done/{id}", post(log::done))
        .route("/api/v1/cti/{token}", post(push::event))
        .route("/api/v1/integration/cti/{token}", post(push::event))
}

/// An error as Zammad renders it.
#[derive(Debug, Clone)]
pub(crate) struct ZammadError {
    status: StatusCode,
    message: String,
}

impl ZammadError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ZammadError { status, message: message.into() }
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
}

impl From<ApiError> for ZammadError {
    fn from(e: ApiError) -> Self {
        e.log();
        ZammadError { status: e.status(), message: e.public_message() }
    }
}

impl From<ctihub_store::StoreError> for ZammadError {
    fn from(e: ctihub_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for ZammadError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}
