//! Writing the audit log from handlers: who (a user, `cli`, or the e-mail a failed sign-in
//! tried), what, on what, from which address. A failure to write is logged, not returned: the
//! change it describes has already happened, and refusing to answer would not undo it.

use ctihub_domain::Id;
use ctihub_domain::time::now_millis;
use ctihub_domain::user::User;
use ctihub_store::{NewAuditEntry, Store};

use crate::client::ClientAddr;

/// The actions recorded. Stable names: admins filter and alert on them.
pub mod action {
    pub const SIGN_IN: &str = "sign_in";
    pub const SIGN_IN_FAILED: &str = "sign_in_failed";
    pub const SIGN_OUT: &str = "sign_out";
    pub const TOKEN_CREATED: &str = "token_created";
    pub const TOKEN_REVOKED: &str = "token_revoked";
    pub const CTI_CONFIG_CHANGED: &str = "cti_config_changed";
    pub const CTI_TOKEN_ROTATED: &str = "cti_token_rotated";
    pub const FRESHDESK_CTI_CHANGED: &str = "freshdesk_cti_changed";
    pub const ROUTING_CHANGED: &str = "routing_changed";
    pub const CUSTOM_FIELD_CREATED: &str = "custom_field_created";
    pub const SOFTPHONE_CHANGED: &str = "softphone_changed";
    pub const USER_CREATED: &str = "user_created";
    pub const USER_ROLE_CHANGED: &str = "user_role_changed";
    pub const USER_ACTIVATION_CHANGED: &str = "user_activation_changed";
}

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor<'a> {
    User(&'a User),
    /// Someone who is not (yet) a user: the e-mail a failed sign-in tried.
    Unknown(&'a str),
    /// The `ctihub` command line on the server.
    Cli,
}

/// Record one entry; `target` names what was acted on (`user:42`, `token:17`).
pub async fn record(
    store: &Store,
    actor: Actor<'_>,
    action: &str,
    target: Option<String>,
    address: Option<ClientAddr>,
    detail: Option<String>,
) {
    let (actor_id, name): (Option<Id>, String) = match actor {
        Actor::User(user) => {
            (Some(user.id), user.email.as_ref().map(|e| e.to_string()).unwrap_or_else(|| user.name.clone()))
        }
        // Bounded: the field is typed by whoever is at the sign-in form.
        Actor::Unknown(tried) => (None, tried.chars().take(200).collect()),
        Actor::Cli => (None, "cli".to_owned()),
    };
    let entry = NewAuditEntry {
        at: now_millis(),
        actor_id,
        actor: name,
        action: action.to_owned(),
        target,
        address: address.map(|a| a.0.to_string()),
        detail,
    };
    if let Err(e) = store.record_audit(&entry).await {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}
