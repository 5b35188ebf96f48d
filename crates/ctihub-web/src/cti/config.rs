//! Loading and saving the CTI configuration. It lives in the settings table, so a change from
//! the CLI or the admin API holds on every node. The push endpoints read it through
//! [`ConfigCache`]: at most a second old, and current at once after a change on this node.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctihub_domain::cti::CtiConfig;
use ctihub_store::{Store, StoreResult};

use crate::auth::secrets;

const SETTING: &str = "cti";

pub async fn load_config(store: &Store) -> StoreResult<CtiConfig> {
    Ok(store.get_setting::<CtiConfig>(SETTING).await?.unwrap_or_default())
}

/// How long a cached configuration is trusted when nothing on this node changed it: the time a
/// change by `ctihub cti` or on another node may take to reach a PBX's events.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The CTI configuration for the push endpoints, which read it at every event: one settings
/// query and a JSON parse per event cost as much as recording it.
#[derive(Debug, Default)]
pub struct ConfigCache {
    cached: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    generation: u64,
    read_at: Instant,
    config: Arc<CtiConfig>,
}

impl ConfigCache {
    pub async fn get(&self, store: &Store) -> StoreResult<Arc<CtiConfig>> {
        let generation = store.settings_generation();
        if let Some(cached) = self.cached.lock().expect("config cache lock").as_ref()
            && cached.generation == generation
            && cached.read_at.elapsed() < FRESH_FOR
        {
            return Ok(cached.config.clone());
        }
        let config = Arc::new(load_config(store).await?);
        // Remembered with the generation seen before reading: a change during the read makes the
        // next caller read again.
        let fresh = Cached { generation, read_at: Instant::now(), config: config.clone() };
        *self.cached.lock().expect("config cache lock") = Some(fresh);
        Ok(config)
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
/// so not even the length leaks).
pub fn token_matches(presented: &str, configured: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = (secrets::hash_token(presented), secrets::hash_token(configured));
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
