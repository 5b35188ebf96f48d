//! Request-body extraction and fallbacks that answer in JSON, never in axum's plain text.

use std::any::Any;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Json<T>` whose rejections are `ApiError`s: malformed JSON is a 400, a body of the wrong
/// shape a 422 naming the problem, an oversized body a 413.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Invalid { message: rejection.body_text(), details: Vec::new() },
        _ => ApiError::bad_request(rejection.body_text()),
    }
}

/// `axum::extract::Query` whose rejection is an [`ApiError`]: a JSON 400 naming the bad
/// parameter, not axum's plain-text body.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub T);

/// `axum::extract::Path` whose rejection is an [`ApiError`]: a segment that is not an id names
/// no record (404), as the Zendesk and Freshdesk dialects already answer.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(e) => ApiError::not_found(e.body_text()),
            other => ApiError::internal(other.body_text()),
        }
    }
}

pub(crate) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

pub(crate) fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}
