//! The tag and custom-value indexes users, organizations and tickets share. Ids come from one
//! sequence, so an owner id alone names the record; one pair of macros keeps them for all three.

/// Write an owner's tag and custom-value index rows (the old ones already removed):
/// `write_owner_indexes!(tx, id, &tags, &field_rows)`.
macro_rules! write_owner_indexes {
    ($tx:expr, $id:expr, $tags:expr, $field_rows:expr) => {{
        for tag in $tags {
            sqlx::query("INSERT INTO tag_index (owner_id, tag) VALUES ($1, $2)")
                .bind($id)
                .bind(tag)
                .execute(&mut *$tx)
                .await?;
        }
        for (field_id, value) in $field_rows {
            sqlx::query("INSERT INTO field_values (owner_id, field_id, value) VALUES ($1, $2, $3)")
                .bind($id)
                .bind(field_id)
                .bind(value)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use write_owner_indexes;

/// Remove an owner's tag and custom-value index rows before they are written again.
macro_rules! clear_owner_indexes {
    ($tx:expr, $id:expr) => {{
        sqlx::query("DELETE FROM tag_index WHERE owner_id = $1").bind($id).execute(&mut *$tx).await?;
        sqlx::query("DELETE FROM field_values WHERE owner_id = $1").bind($id).execute(&mut *$tx).await?;
    }};
}
pub(crate) use clear_owner_indexes;
