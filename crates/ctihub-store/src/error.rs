use ctihub_domain::DomainError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A uniqueness rule was broken: `field` names the input, `message` says what clashed.
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the SQLite ledger writer's own connection.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The ledger writer could not commit a batch (or has stopped).
    #[error("event writer: {0}")]
    Writer(String),
    /// The database cannot be read now (the runtime is shutting down).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn not_found(what: &'static str) -> Self {
        StoreError::NotFound { what }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Conflict { field: field.into(), message: message.into() }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid(DomainError::new(field, message))
    }
}

/// Turn a unique-index violation into a [`StoreError::Conflict`] naming the input field.
/// Index names are the same on both backends; SQLite reports the columns instead, so both
/// spellings are listed.
pub(crate) fn map_unique(err: sqlx::Error, rules: &[(&str, &str, &str)]) -> StoreError {
    if let Some(db) = err.as_database_error()
        && db.is_unique_violation()
    {
        let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        for (needle, field, message) in rules {
            if text.contains(needle) {
                return StoreError::conflict(*field, *message);
            }
        }
        return StoreError::conflict("id", "already exists");
    }
    StoreError::Database(err)
}
