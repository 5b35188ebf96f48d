//! Custom field definitions for users and tickets.

use ctihub_domain::Id;
use ctihub_domain::custom_field::{CustomField, FieldTarget, FieldType, NewCustomField};
use ctihub_domain::time::now_millis;

use crate::error::map_unique;
use crate::ids::next_id;
use crate::json::{from_text, to_text};
use crate::{Store, StoreError, StoreResult, on_pool};

const COLUMNS: &str =
    "id, target, field_key, title, field_type, description, options, position, active, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct FieldRow {
    id: i64,
    target: String,
    field_key: String,
    title: String,
    field_type: String,
    description: Option<String>,
    options: String,
    position: i64,
    active: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<FieldRow> for CustomField {
    type Error = StoreError;

    fn try_from(row: FieldRow) -> StoreResult<Self> {
        let corrupt = |e: ctihub_domain::DomainError| StoreError::Corrupt(e.to_string());
        Ok(CustomField {
            id: row.id,
            target: FieldTarget::parse(&row.target).map_err(corrupt)?,
            key: row.field_key,
            title: row.title,
            field_type: FieldType::parse(&row.field_type).map_err(corrupt)?,
            description: row.description,
            options: from_text("custom_fields.options", &row.options)?,
            position: row.position,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl Store {
    pub async fn create_custom_field(&self, new: NewCustomField) -> StoreResult<CustomField> {
        new.validate()?;
        let now = now_millis();
        let id = on_pool!(self, |pool, PG| {
            let mut tx = crate::begin_write!(pool, PG);
            let id = next_id!(tx, PG);
            let position: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM custom_fields WHERE target = $1")
                .bind(new.target.as_str())
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO custom_fields (id, target, field_key, title, field_type, description, options, \
                 position, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $9)",
            )
            .bind(id)
            .bind(new.target.as_str())
            .bind(&new.key)
            .bind(new.title.trim())
            .bind(new.field_type.as_str())
            .bind(&new.description)
            .bind(to_text(&new.options))
            .bind(position)
            .bind(now)
            .execute(&mut *tx)
            .await
            // SQLite names the columns, PostgreSQL the index.
            .map_err(|e| {
                map_unique(
                    e,
                    &[
                        ("field_key", "key", "is already used by another field"),
                        ("custom_fields_target_key_key", "key", "is already used by another field"),
                    ],
                )
            })?;
            tx.commit().await?;
            id
        });
        self.get_custom_field(id).await
    }

    pub async fn get_custom_field(&self, id: Id) -> StoreResult<CustomField> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM custom_fields WHERE id = $1"));
        let row: Option<FieldRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        row.map(CustomField::try_from).transpose()?.ok_or(StoreError::not_found("custom field"))
    }

    /// The fields of users or of tickets, in the order they were defined.
    pub async fn list_custom_fields(&self, target: FieldTarget) -> StoreResult<Vec<CustomField>> {
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM custom_fields WHERE target = $1 ORDER BY position, id"));
        let rows: Vec<FieldRow> =
            on_pool!(self, |pool, PG| sqlx::query_as(sql).bind(target.as_str()).fetch_all(pool).await?);
        rows.into_iter().map(CustomField::try_from).collect()
    }
}
