//! The store suite. Every test runs on SQLite and on PostgreSQL with the same assertions.

mod helpers;

mod agent_calls;
mod agent_sessions;
mod board;
mod caller_index;
mod calls;
mod durability;
mod journal;
mod ledger;
mod sessions;
mod settings;
mod tickets;
mod users;
