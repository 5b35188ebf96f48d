//! What the CTI dialects (Zammad generic, sipgate.io, placetel) share: their configuration,
//! the pipeline every call event goes through, and the journal as people read it.

pub mod config;
pub mod generic;
pub mod ingest;
pub mod params;
pub mod service;
pub mod view;

pub use config::{EventConfig, load_config, push_path, save_config, shared_config};
pub use ingest::{Admission, EventHandling};
pub use service::{Decision, IncomingEvent};
