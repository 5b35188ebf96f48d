//! Users: end-users who call, agents who answer, admins who configure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::phone::{PhoneKey, PhoneKind};
use crate::time::Millis;
use crate::{DomainError, Id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    #[serde(rename = "end-user")]
    EndUser,
    #[serde(rename = "agent")]
    Agent,
    #[serde(rename = "admin")]
    Admin,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::EndUser => "end-user",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    /// Accepts `end-user`, `end_user` and `enduser` because import files and clients vary.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "end-user" | "enduser" | "" => Ok(Role::EndUser),
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            _ => Err(DomainError::new("role", format!("`{s}` is not one of end-user, agent, admin"))),
        }
    }

    /// Agents and admins work in the console and may call agent APIs.
    pub fn is_staff(&self) -> bool {
        matches!(self, Role::Agent | Role::Admin)
    }
}

/// An e-mail address, trimmed and checked for the `local@domain` shape. Stored as given;
/// compared lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c == ',' || c == '<' || c == '>')
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Email(s.to_owned()))
        } else {
            Err(DomainError::new("email", format!("`{s}` is not an e-mail address")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness and lookups use.
    pub fn lookup_key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// One phone field as entered, with its caller-index key (None when the text holds no number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPhone {
    pub kind: PhoneKind,
    pub raw: String,
    pub key: Option<PhoneKey>,
}

/// What a client may set when creating a user. Phones carry their raw text; the store's writer
/// normalizes them into the caller index.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub role: Option<Role>,
    pub name: String,
    pub email: Option<Email>,
    pub phones: Vec<(PhoneKind, String)>,
    pub organization_id: Option<Id>,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub active: bool,
    pub password_hash: Option<String>,
    pub agent_id: Option<String>,
    pub extension: Option<String>,
}

impl NewUser {
    pub fn new(role: Role, name: impl Into<String>) -> Self {
        NewUser { role: Some(role), name: name.into(), active: true, ..Default::default() }
    }
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub name: Option<String>,
    pub email: Option<Option<Email>>,
    /// Replaces all phones when present.
    pub phones: Option<Vec<(PhoneKind, String)>>,
    pub organization_id: Option<Option<Id>>,
    pub external_id: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    /// Sets (or with `null`, clears) the given keys; others are kept.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub active: Option<bool>,
    pub password_hash: Option<Option<String>>,
    pub agent_id: Option<Option<String>>,
    pub extension: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: Id,
    pub role: Role,
    pub name: String,
    pub email: Option<String>,
    pub phones: Vec<UserPhone>,
    pub organization_id: Option<Id>,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub active: bool,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub agent_id: Option<String>,
    pub extension: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl User {
    /// The first phone of a kind, as entered.
    pub fn phone_of(&self, kind: PhoneKind) -> Option<&str> {
        self.phones.iter().find(|p| p.kind == kind).map(|p| p.raw.as_str())
    }
}

/// Names must be present: Zendesk and Freshdesk reject nameless users, and the console needs
/// something to show. A user created from a phone number alone is named by that number.
pub fn validate_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::new("name", "is required"));
    }
    if name.chars().count() > 255 {
        return Err(DomainError::new("name", "is longer than 255 characters"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse("End_User").unwrap(), Role::EndUser);
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert!(Role::parse("boss").is_err());
    }

    #[test]
    fn emails_parse() {
        assert!(Email::parse("a@b.example").is_ok());
        assert_eq!(Email::parse(" A@B.example ").unwrap().lookup_key(), "a@b.example");
        for bad in ["", "a", "@b", "a@", "a b@c", "a@b@c"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
