//! Dynamically built SQL: values bound in order whatever the statement's shape, and multi-row
//! INSERTs for bulk writes (one statement per batch instead of one per row).

/// A bound value; every variant binds on both backends.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                $crate::sql::Param::Int(v) => query.bind(*v),
                $crate::sql::Param::OptInt(v) => query.bind(*v),
                $crate::sql::Param::Text(v) => query.bind(v.clone()),
                $crate::sql::Param::OptText(v) => query.bind(v.clone()),
                $crate::sql::Param::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}
pub(crate) use bind_params;

/// `$1, $2, …, $n`.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `INSERT INTO table (columns) VALUES (…), (…)` for `rows` rows of `columns.len()` values.
pub(crate) fn multi_insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let width = columns.len();
    let values: Vec<String> = (0..rows).map(|r| format!("({})", placeholders(r * width + 1, width))).collect();
    format!("INSERT INTO {table} ({}) VALUES {}", columns.join(", "), values.join(", "))
}

/// Insert rows in statements of at most `per_statement` rows, inside the caller's transaction.
macro_rules! insert_rows {
    ($tx:expr, $table:expr, $columns:expr, $rows:expr) => {{
        // SQLite binds at most 32766 values per statement; stay far below.
        let per_statement = (2000 / $columns.len()).max(1);
        for batch in $rows.chunks(per_statement) {
            let sql = sqlx::AssertSqlSafe($crate::sql::multi_insert_sql($table, $columns, batch.len()));
            let flat = batch.iter().flatten();
            $crate::sql::bind_params!(sqlx::query(sql), flat).execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use insert_rows;

#[cfg(test)]
mod tests {
    #[test]
    fn multi_row_inserts_number_their_placeholders() {
        assert_eq!(super::multi_insert_sql("t", &["a", "b"], 2), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
    }
}
