//! The `ctihub` binary driven as an operator or a script would: real processes, real files,
//! SQLite data directories in temporary directories; the durability test also runs on the PostgreSQL
//! that CTIHUB_TEST_DATABASE_URL names (scripts/with-postgres).

mod backup;
mod config;
mod cti;
mod durability;
mod healthcheck;
mod helpers;
mod import;
mod ingest;
mod serve;
mod users_and_tokens;
