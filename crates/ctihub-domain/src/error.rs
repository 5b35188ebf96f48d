use thiserror::Error;

/// A value that does not satisfy a domain rule. `field` names the input so each dialect can
/// render the error in its own shape (Zendesk `details`, Freshdesk `errors[].field`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct DomainError {
    pub field: String,
    pub message: String,
}

impl DomainError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}
