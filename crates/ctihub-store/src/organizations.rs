//! Organizations, agent groups and group memberships.

use ctihub_domain::organization::{Group, GroupMembership, NewGroup, NewOrganization, Organization};
use ctihub_domain::time::now_millis;
use ctihub_domain::{DomainError, Id, normalize_tags};

use crate::error::map_unique;
use crate::ids::next_id;
use crate::json::{from_text, to_text};
use crate::owner_index::write_owner_indexes;
use crate::{Store, StoreError, StoreResult, on_pool};

pub(crate) const ORG_COLUMNS: &str = "id, name, external_id, domain_names, tags, notes, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    id: i64,
    name: String,
    external_id: Option<String>,
    domain_names: String,
    tags: String,
    notes: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<OrgRow> for Organization {
    type Error = StoreError;

    fn try_from(row: OrgRow) -> StoreResult<Self> {
        Ok(Organization {
            id: row.id,
            name: row.name,
            external_id: row.external_id,
            domain_names: from_text("organizations.domain_names", &row.domain_names)?,
            tags: from_text("organizations.tags", &row.tags)?,
            notes: row.notes,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: i64,
    name: String,
    description: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<GroupRow> for Group {
    fn from(row: GroupRow) -> Self {
        Group {
            id: row.id,
            name: row.name,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    id: i64,
    group_id: i64,
    user_id: i64,
    is_default: bool,
    created_at: i64,
}

impl From<MembershipRow> for GroupMembership {
    fn from(row: MembershipRow) -> Self {
        GroupMembership {
            id: row.id,
            group_id: row.group_id,
            user_id: row.user_id,
            is_default: row.is_default,
            created_at: row.created_at,
        }
    }
}

fn required_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() { Err(DomainError::new("name", "is required")) } else { Ok(name.to_owned()) }
}

impl Store {
    pub async fn create_organization(&self, new: NewOrganization) -> StoreResult<Organization> {
        let name = required_name(&new.name)?;
        let tags = normalize_tags(&new.tags);
        let now = now_millis();
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO organizations (id, name, name_lower, external_id, domain_names, tags, notes, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(id)
            .bind(&name)
            .bind(name.to_lowercase())
            .bind(&new.external_id)
            .bind(to_text(&new.domain_names))
            .bind(to_text(&tags))
            .bind(&new.notes)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, &[("name_lower", "name", "is already used by another organization")]))?;
            write_owner_indexes!(tx, id, &tags, &[] as &[(i64, String)]);
            tx.commit().await?;
            id
        });
        self.get_organization(id).await
    }

    pub async fn get_organization(&self, id: Id) -> StoreResult<Organization> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1"));
        let row: Option<OrgRow> = on_pool!(self, |pool, PG| sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        row.map(Organization::try_from).transpose()?.ok_or(StoreError::not_found("organization"))
    }

    /// Organization names are unique regardless of case.
    pub async fn find_organization_by_name(&self, name: &str) -> StoreResult<Option<Organization>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM organizations WHERE name_lower = $1"));
        let lower = name.trim().to_lowercase();
        let row: Option<OrgRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(sql).bind(lower).fetch_optional(pool).await?);
        row.map(Organization::try_from).transpose()
    }

    pub async fn list_organizations(&self, offset: i64, limit: i64) -> StoreResult<(Vec<Organization>, i64)> {
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY id LIMIT $1 OFFSET $2"));
        let (rows, total): (Vec<OrgRow>, i64) = on_pool!(self, |pool, PG| {
            let rows = sqlx::query_as(sql).bind(limit).bind(offset).fetch_all(pool).await?;
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Organization::try_from).collect::<StoreResult<_>>()?, total))
    }

    pub async fn create_group(&self, new: NewGroup) -> StoreResult<Group> {
        let name = required_name(&new.name)?;
        let now = now_millis();
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO agent_groups (id, name, name_lower, description, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id)
            .bind(&name)
            .bind(name.to_lowercase())
            .bind(&new.description)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, &[("name_lower", "name", "is already used by another group")]))?;
            tx.commit().await?;
            id
        });
        self.get_group(id).await
    }

    pub async fn get_group(&self, id: Id) -> StoreResult<Group> {
        let row: Option<GroupRow> = on_pool!(self, |pool, PG| {
            sqlx::query_as("SELECT id, name, description, created_at, updated_at FROM agent_groups WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Group::from).ok_or(StoreError::not_found("group"))
    }

    pub async fn list_groups(&self) -> StoreResult<Vec<Group>> {
        let rows: Vec<GroupRow> = on_pool!(self, |pool, PG| {
            sqlx::query_as("SELECT id, name, description, created_at, updated_at FROM agent_groups ORDER BY name_lower")
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Group::from).collect())
    }

    /// Put an agent in a group. Adding an existing member again changes nothing.
    pub async fn add_group_member(&self, group_id: Id, user_id: Id, is_default: bool) -> StoreResult<GroupMembership> {
        self.get_group(group_id).await?;
        let user = self.get_user(user_id).await?;
        if !user.role.is_staff() {
            return Err(StoreError::invalid("user_id", "only agents and admins can be group members"));
        }
        let now = now_millis();
        on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            sqlx::query(
                "INSERT INTO group_memberships (id, group_id, user_id, is_default, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind(id)
            .bind(group_id)
            .bind(user_id)
            .bind(is_default)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        let memberships = self.group_memberships_of_user(user_id).await?;
        memberships.into_iter().find(|m| m.group_id == group_id).ok_or(StoreError::not_found("group membership"))
    }

    pub async fn remove_group_member(&self, group_id: Id, user_id: Id) -> StoreResult<bool> {
        let removed = on_pool!(self, |pool, PG| {
            sqlx::query("DELETE FROM group_memberships WHERE group_id = $1 AND user_id = $2")
                .bind(group_id)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(removed > 0)
    }

    pub async fn group_memberships_of_user(&self, user_id: Id) -> StoreResult<Vec<GroupMembership>> {
        let rows: Vec<MembershipRow> = on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT id, group_id, user_id, is_default, created_at FROM group_memberships \
                 WHERE user_id = $1 ORDER BY id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(GroupMembership::from).collect())
    }

    pub async fn group_members(&self, group_id: Id) -> StoreResult<Vec<GroupMembership>> {
        let rows: Vec<MembershipRow> = on_pool!(self, |pool, PG| {
            sqlx::query_as(
                "SELECT id, group_id, user_id, is_default, created_at FROM group_memberships \
                 WHERE group_id = $1 ORDER BY id",
            )
            .bind(group_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(GroupMembership::from).collect())
    }
}
