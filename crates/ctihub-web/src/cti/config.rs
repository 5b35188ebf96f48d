//! Loading and saving the CTI configuration. It lives in the settings table and is read on
//! every request, so a change from the CLI or the admin API holds at once on every node.

use std::sync::Arc;

use ctihub_domain::cti::{CtiConfig, SharedCtiConfig};
use ctihub_store::{Store, StoreResult};

use crate::auth::secrets;

const SETTING: &str = "cti";

pub async fn load_config(store: &Store) -> StoreResult<CtiConfig> {
    Ok(store.get_setting::<CtiConfig>(SETTING).await?.unwrap_or_default())
}

/// The configuration as every PBX event reads it: parsed once and shared until it changes.
pub async fn shared_config(store: &Store) -> StoreResult<Arc<SharedCtiConfig>> {
    Ok(store.get_setting_shared::<SharedCtiConfig>(SETTING).await?.unwrap_or_default())
}

/// The configuration a PBX event is handled under.
///
/// Reading the settings' generation for every event was a read transaction on SQLite, and with
/// the ledger writer committing hundreds of times a second, pages read anew each time: a tenth
/// of a request's CPU. So on SQLite an event is first admitted under the configuration as last
/// read, and the ledger writer confirms inside its batch that no change was committed since
/// (`super::ingest`). If one was, or if the event is refused, it is handled again under a fresh
/// read: a change from the CLI or the admin API still holds at the very next event.
pub struct EventConfig {
    config: Arc<SharedCtiConfig>,
    /// The settings' generation it was cached at, when taken without reading: still to be
    /// confirmed. `None`: just read.
    unconfirmed: Option<i64>,
}

impl EventConfig {
    /// The configuration as last read, if there is a ledger writer to confirm it; else read now.
    pub async fn cached(store: &Store) -> StoreResult<EventConfig> {
        if store.ledger_writer().is_some()
            && let Some((config, generation)) = store.cached_setting::<SharedCtiConfig>(SETTING)
        {
            return Ok(EventConfig { config, unconfirmed: Some(generation) });
        }
        Self::read(store).await
    }

    /// The configuration read now.
    pub async fn read(store: &Store) -> StoreResult<EventConfig> {
        Ok(EventConfig { config: shared_config(store).await?, unconfirmed: None })
    }

    /// The generation the ledger writer must find, when the configuration was not read now.
    pub fn unconfirmed(&self) -> Option<i64> {
        self.unconfirmed
    }

    pub fn shared(&self) -> &Arc<SharedCtiConfig> {
        &self.config
    }
}

impl std::ops::Deref for EventConfig {
    type Target = SharedCtiConfig;

    fn deref(&self) -> &SharedCtiConfig {
        &self.config
    }
}

pub async fn save_config(store: &Store, config: &CtiConfig) -> StoreResult<()> {
    config.validate()?;
    store.put_setting(SETTING, config).await
}

/// A fresh URL token, as long as Zammad's (`urlsafe_base64(20)` is 27 characters) or longer.
pub fn new_token() -> String {
    secrets::generate_token()
}

/// Where a PBX pushes events: `/api/v1/cti/<token>`.
pub fn push_path(token: &str) -> String {
    format!("/api/v1/cti/{token}")
}

/// Compare a presented token with the configured one in constant time (both are hashed first,
/// so not even the length leaks). The raw digests are compared: every PBX event comes through
/// here, and writing them out in hex first cost twice the hashing.
pub fn token_matches(presented: &str, configured: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let (a, b) = (Sha256::digest(presented.as_bytes()), Sha256::digest(configured.as_bytes()));
    a.as_slice().ct_eq(b.as_slice()).into()
}
