//! Errors as Freshdesk renders them: `400 {"description":"Validation failed","errors":[…]}` for
//! field problems (python-freshdesk prints `description: errors`), `{"code","message"}` for the
//! rest. Every error carries a JSON body: freshdesk-api throws on an empty one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ctihub_store::StoreError;
use serde_json::{Value, json};

use super::json_response;
use crate::error::ApiError;

#[derive(Debug)]
pub(crate) struct FreshdeskError {
    status: StatusCode,
    body: Value,
}

/// Per-field problems, collected so one answer names every bad field.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Value>);

impl Problems {
    pub fn add(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(json!({"field": field, "message": message.into(), "code": code}));
    }

    pub fn missing(&mut self, field: &str, message: impl Into<String>) {
        self.add(field, "missing_field", message);
    }

    pub fn invalid(&mut self, field: &str, message: impl Into<String>) {
        self.add(field, "invalid_value", message);
    }

    pub fn mismatch(&mut self, field: &str, message: impl Into<String>) {
        self.add(field, "datatype_mismatch", message);
    }

    pub fn into_result(self) -> Result<(), FreshdeskError> {
        if self.0.is_empty() { Ok(()) } else { Err(FreshdeskError::validation(self)) }
    }
}

impl FreshdeskError {
    fn coded(status: StatusCode, code: &str, message: &str) -> Self {
        FreshdeskError { status, body: json!({"code": code, "message": message}) }
    }

    pub fn validation(problems: Problems) -> Self {
        FreshdeskError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"description": "Validation failed", "errors": problems.0}),
        }
    }

    /// One problem with one field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        let mut problems = Problems::default();
        problems.add(field, code, message);
        Self::validation(problems)
    }

    pub fn unauthenticated() -> Self {
        Self::coded(StatusCode::UNAUTHORIZED, "invalid_credentials", "You have to be logged in to perform this action.")
    }

    pub fn forbidden() -> Self {
        Self::coded(StatusCode::FORBIDDEN, "access_denied", "You are not authorized to perform this action.")
    }

    pub fn not_found() -> Self {
        Self::coded(StatusCode::NOT_FOUND, "not_found", "The requested entity was not found")
    }

    pub fn invalid_json() -> Self {
        Self::coded(StatusCode::BAD_REQUEST, "invalid_json", "Request body has invalid json format")
    }

    fn payload_too_large() -> Self {
        Self::coded(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", "The request body is too large")
    }

    fn internal() -> Self {
        Self::coded(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error; the server log has the details",
        )
    }

    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    #[cfg(test)]
    pub fn body(&self) -> &Value {
        &self.body
    }
}

impl From<ApiError> for FreshdeskError {
    fn from(e: ApiError) -> Self {
        e.log();
        match e {
            ApiError::Unauthenticated => Self::unauthenticated(),
            ApiError::Forbidden(_) => Self::forbidden(),
            ApiError::NotFound(_) => Self::not_found(),
            ApiError::BadRequest(message) => Self::field("", "invalid_value", message),
            ApiError::PayloadTooLarge => Self::payload_too_large(),
            ApiError::Invalid { ref details, .. } | ApiError::Conflict { ref details, .. } => {
                let conflict = matches!(e, ApiError::Conflict { .. });
                let code = if conflict { "duplicate_value" } else { "invalid_value" };
                let mut problems = Problems::default();
                for d in details {
                    problems.add(&d.field, code, &d.message);
                }
                if problems.0.is_empty() {
                    problems.add("", code, e.public_message());
                }
                let mut error = Self::validation(problems);
                if conflict {
                    error.status = StatusCode::CONFLICT;
                }
                error
            }
            ApiError::Internal(_) => Self::internal(),
        }
    }
}

impl From<StoreError> for FreshdeskError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for FreshdeskError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_like_freshdesks() {
        let mut problems = Problems::default();
        problems.missing("call_reference_id", "It should be a/an String");
        problems.invalid("requester_id", "There is no contact matching the given requester_id");
        let e = FreshdeskError::validation(problems);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            e.body(),
            &json!({
                "description": "Validation failed",
                "errors": [
                    {"field": "call_reference_id", "message": "It should be a/an String", "code": "missing_field"},
                    {"field": "requester_id", "message": "There is no contact matching the given requester_id", "code": "invalid_value"},
                ],
            })
        );
    }

    #[test]
    fn native_errors_map_to_freshdesk_shapes() {
        let unauthenticated = FreshdeskError::from(ApiError::unauthenticated());
        assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unauthenticated.body()["code"], "invalid_credentials");
        assert_eq!(FreshdeskError::from(ApiError::not_found("x")).body()["code"], "not_found");
        let conflict = FreshdeskError::from(StoreError::conflict("email", "is already used"));
        assert_eq!(conflict.status(), StatusCode::CONFLICT);
        assert_eq!(conflict.body()["errors"][0]["code"], "duplicate_value");
        let internal = FreshdeskError::from(ApiError::internal("secret SQL text"));
        assert!(!internal.body().to_string().contains("secret"), "internal text never leaks");
    }
}
