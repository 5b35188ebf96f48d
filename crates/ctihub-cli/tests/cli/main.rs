//! The `ctihub` binary driven as an operator or a script would: real processes, real files,
//! SQLite data directories in temporary directories. No PostgreSQL needed.

mod config;
mod cti;
mod healthcheck;
mod helpers;
mod import;
mod serve;
mod users_and_tokens;
