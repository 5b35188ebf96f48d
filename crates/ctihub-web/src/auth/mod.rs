//! Who is calling: extractors for the credentials the vendor APIs use.
//!
//! - Basic `email:password` (Zendesk, console scripts)
//! - Basic `email/token:TOKEN` (Zendesk API token)
//! - Basic `TOKEN:X` (Freshdesk API key; the password is ignored, as Freshdesk does)
//! - Bearer `TOKEN`
//!
//! Each dialect renders the rejection in its own error shape; the native API uses [`ApiError`].

pub mod secrets;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use ctihub_domain::user::{Role, User};

use crate::AppState;
use crate::error::ApiError;

/// Credentials as presented, before they are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Password { email: String, password: String },
    Token { email: Option<String>, token: String },
}

impl Credentials {
    /// Read the `Authorization` header. `None` when absent or not Basic/Bearer.
    pub fn from_header(value: &str) -> Option<Credentials> {
        let (scheme, rest) = value.trim().split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return (!rest.is_empty()).then(|| Credentials::Token { email: None, token: rest.to_owned() });
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        if let Some(email) = user.strip_suffix("/token") {
            return Some(Credentials::Token { email: Some(email.to_owned()), token: password.to_owned() });
        }
        if user.contains('@') {
            return Some(Credentials::Password { email: user.to_owned(), password: password.to_owned() });
        }
        // Freshdesk: the API key is the user name and the password is anything (usually `X`).
        (!user.is_empty()).then(|| Credentials::Token { email: None, token: user.to_owned() })
    }
}

/// Check credentials against the store. `None` when they do not name an active user.
pub async fn authenticate(state: &AppState, credentials: Credentials) -> Result<Option<User>, ApiError> {
    match credentials {
        Credentials::Token { email, token } => {
            let user = state.store.user_for_token_hash(&secrets::hash_token(&token)).await?;
            Ok(user.filter(|u| match &email {
                Some(email) => u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)),
                None => true,
            }))
        }
        Credentials::Password { email, password } => {
            let user = state.store.find_user_by_email(&email).await?.filter(|u| u.active);
            let stored = user.as_ref().and_then(|u| u.password_hash.clone());
            let ok = tokio::task::spawn_blocking(move || match stored {
                Some(hash) => secrets::verify_password(&password, &hash),
                None => {
                    secrets::verify_password(&password, secrets::decoy_hash());
                    false
                }
            })
            .await
            .map_err(|e| ApiError::internal(format!("password check panicked: {e}")))?;
            Ok(user.filter(|_| ok))
        }
    }
}

/// Any signed-in user (end-users included).
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let credentials = header.and_then(Credentials::from_header).ok_or_else(ApiError::unauthenticated)?;
        match authenticate(state, credentials).await? {
            Some(user) => Ok(AuthUser(user)),
            None => Err(ApiError::unauthenticated()),
        }
    }
}

/// An agent or admin: end-users may not call agent APIs.
#[derive(Debug, Clone)]
pub struct StaffUser(pub User);

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.role.is_staff() { Ok(StaffUser(user)) } else { Err(ApiError::forbidden("agents only")) }
    }
}

/// An admin.
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.role == Role::Admin { Ok(AdminUser(user)) } else { Err(ApiError::forbidden("admins only")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s))
    }

    #[test]
    fn every_credential_form_is_read() {
        assert_eq!(
            Credentials::from_header(&basic("a@b.c:pw")),
            Some(Credentials::Password { email: "a@b.c".into(), password: "pw".into() })
        );
        assert_eq!(
            Credentials::from_header(&basic("a@b.c/token:T0K")),
            Some(Credentials::Token { email: Some("a@b.c".into()), token: "T0K".into() })
        );
        assert_eq!(
            Credentials::from_header(&basic("T0K:X")),
            Some(Credentials::Token { email: None, token: "T0K".into() })
        );
        assert_eq!(
            Credentials::from_header("Bearer T0K"),
            Some(Credentials::Token { email: None, token: "T0K".into() })
        );
        assert_eq!(Credentials::from_header("Digest x"), None);
        assert_eq!(Credentials::from_header("Basic !!!"), None);
        assert_eq!(Credentials::from_header(&basic("nocolon")), None);
    }
}
