//! The web crate's suite: the real app on 127.0.0.1, over HTTP, on SQLite and PostgreSQL.

mod helpers;

mod auth;
mod basics;
mod console;
mod console_admin;
mod console_helpers;
mod console_integrations;
mod dip;
mod event_sequences;
mod freshdesk_cti;
mod freshdesk_rest;
mod native_journal;
mod native_users;
mod placetel;
mod realtime;
mod reports;
mod robustness;
mod routing;
mod secret_logs;
mod security;
mod sipgate;
mod sse;
mod tpe_calls;
mod zammad;
mod zendesk_helpers;
mod zendesk_tickets;
mod zendesk_users;
