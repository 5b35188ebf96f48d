//! Loading and saving the CTI configuration. It lives in the settings table and is read on
//! every request, so a change from the CLI or the admin API holds at once on every node.

use std::sync::Arc;

use ctihub_domain::cti::CtiConfig;
use ctihub_store::{Store, StoreResult};

use crate::auth::secrets;

const SETTING: &str = "cti";

pub async fn load_config(store: &Store) -> StoreResult<CtiConfig> {
    Ok(store.get_setting::<CtiConfig>(SETTING).await?.unwrap_or_default())
}

/// The configuration as every PBX event reads it: parsed once and shared until it changes.
pub async fn shared_config(store: &Store) -> StoreResult<Arc<CtiConfig>> {
    Ok(store.get_setting_shared::<CtiConfig>(SETTING).await?.unwrap_or_default())
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
/// so not even the length leaks).
pub fn token_matches(presented: &str, configured: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = (secrets::hash_token(presented), secrets::hash_token(configured));
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
