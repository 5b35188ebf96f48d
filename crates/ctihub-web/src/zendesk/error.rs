//! Errors as Zendesk renders them, so clients written against Zendesk recognise them: zenpy
//! raises `RecordNotFoundException` only for `{"error":"RecordNotFound"}`, and integrations read
//! `details.<field>[].description` to report what was wrong.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ctihub_store::StoreError;
use serde_json::{Value, json};

use super::{field_label as label, json_response};
use crate::error::ApiError;

/// One problem with one field, as in `details.<field>[]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub error: &'static str,
    pub description: String,
}

/// Per-field problems, collected so one answer names every bad field.
#[derive(Debug, Default)]
pub(crate) struct Problems(BTreeMap<String, Vec<Problem>>);

impl Problems {
    /// `description` reads as Zendesk writes it: the field's label, a colon, the message.
    pub fn add(&mut self, field: &str, error: &'static str, message: impl AsRef<str>) {
        let description = format!("{}: {}", label(field), message.as_ref());
        self.0.entry(field.to_owned()).or_default().push(Problem { error, description });
    }

    pub fn blank(&mut self, field: &str) {
        self.add(field, "BlankValue", "cannot be blank");
    }

    pub fn invalid(&mut self, field: &str, message: impl AsRef<str>) {
        self.add(field, "InvalidValue", message);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was wrong, else the RecordInvalid answer.
    pub fn into_result(self) -> Result<(), ZendeskError> {
        if self.is_empty() { Ok(()) } else { Err(ZendeskError::record_invalid(self)) }
    }
}

#[derive(Debug)]
pub(crate) struct ZendeskError {
    status: StatusCode,
    body: Value,
}

impl ZendeskError {
    pub fn unauthenticated() -> Self {
        ZendeskError { status: StatusCode::UNAUTHORIZED, body: json!({"error": "Couldn't authenticate you"}) }
    }

    pub fn forbidden() -> Self {
        ZendeskError {
            status: StatusCode::FORBIDDEN,
            body: json!({
                "error": "Forbidden",
                "description": "You do not have access to this page. Please contact the account owner of this help desk for further help.",
            }),
        }
    }

    pub fn not_found() -> Self {
        ZendeskError {
            status: StatusCode::NOT_FOUND,
            body: json!({"error": "RecordNotFound", "description": "Not found"}),
        }
    }

    /// A path no Zendesk route has, or a method the route does not take.
    pub fn invalid_endpoint() -> Self {
        ZendeskError {
            status: StatusCode::NOT_FOUND,
            body: json!({"error": "InvalidEndpoint", "description": "Not found"}),
        }
    }

    pub fn record_invalid(problems: Problems) -> Self {
        let details: serde_json::Map<String, Value> = problems
            .0
            .into_iter()
            .map(|(field, list)| {
                let list = list.into_iter().map(|p| json!({"description": p.description, "error": p.error})).collect();
                (field, Value::Array(list))
            })
            .collect();
        ZendeskError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({"error": "RecordInvalid", "description": "Record validation errors", "details": details}),
        }
    }

    /// Any other answer: a status with Zendesk's `{"error", "description"}` body.
    pub fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        ZendeskError { status, body: json!({"error": error, "description": description.into()}) }
    }

    pub fn bad_request(error: &str, description: impl Into<String>) -> Self {
        ZendeskError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"error": error, "description": description.into()}),
        }
    }

    fn payload_too_large() -> Self {
        ZendeskError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: json!({"error": "RequestTooLarge", "description": "The request body is too large"}),
        }
    }

    fn internal() -> Self {
        ZendeskError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: json!({"error": "InternalError", "description": "Internal server error; the server log has the details"}),
        }
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

impl From<ApiError> for ZendeskError {
    fn from(e: ApiError) -> Self {
        e.log();
        match e {
            ApiError::Unauthenticated => Self::unauthenticated(),
            ApiError::Forbidden(_) => Self::forbidden(),
            ApiError::NotFound(_) => Self::not_found(),
            ApiError::BadRequest(message) => Self::bad_request("BadRequest", message),
            ApiError::PayloadTooLarge => Self::payload_too_large(),
            ApiError::Invalid { ref details, .. } | ApiError::Conflict { ref details, .. } => {
                let code = if matches!(e, ApiError::Conflict { .. }) { "DuplicateValue" } else { "InvalidValue" };
                let mut problems = Problems::default();
                for d in details {
                    problems.add(&d.field, code, &d.message);
                }
                if problems.is_empty() {
                    problems.add("base", code, e.public_message());
                }
                Self::record_invalid(problems)
            }
            ApiError::Internal(_) => Self::internal(),
        }
    }
}

impl From<StoreError> for ZendeskError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for ZendeskError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Web Password\""));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_like_zendesks() {
        let mut problems = Problems::default();
        problems.blank("from_line");
        problems.invalid("end_user_id", "user 7 does not exist");
        let e = ZendeskError::record_invalid(problems);
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            e.body(),
            &json!({
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {
                    "end_user_id": [{"description": "End user: user 7 does not exist", "error": "InvalidValue"}],
                    "from_line": [{"description": "From line: cannot be blank", "error": "BlankValue"}],
                },
            })
        );
    }

    #[test]
    fn native_errors_map_to_zendesk_shapes() {
        assert_eq!(ZendeskError::from(ApiError::unauthenticated()).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ZendeskError::from(ApiError::not_found("call")).body()["error"], "RecordNotFound");
        let conflict = ZendeskError::from(StoreError::conflict("external_id", "is already used"));
        assert_eq!(conflict.body()["details"]["external_id"][0]["error"], "DuplicateValue");
        let internal = ZendeskError::from(ApiError::internal("secret SQL text"));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal.body().to_string().contains("secret"), "internal text never leaks");
    }
}
