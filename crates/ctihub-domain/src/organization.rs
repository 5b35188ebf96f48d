//! Organizations (the companies callers belong to) and groups (agent teams).

use serde::Serialize;

use crate::Id;
use crate::time::Millis;

#[derive(Debug, Clone, Default)]
pub struct NewOrganization {
    pub name: String,
    pub external_id: Option<String>,
    pub domain_names: Vec<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organization {
    pub id: Id,
    pub name: String,
    pub external_id: Option<String>,
    pub domain_names: Vec<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: Id,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMembership {
    pub id: Id,
    pub group_id: Id,
    pub user_id: Id,
    pub is_default: bool,
    pub created_at: Millis,
}
