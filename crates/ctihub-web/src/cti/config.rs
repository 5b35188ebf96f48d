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
