//! This node as a member of a cluster: it beats in the database so the others know it is alive,
//! vouches for the console streams it serves, and leaves when it stops.
//!
//! Nothing here is needed for one node on SQLite, and nothing here changes for one: that node
//! beats too, so "an agent has a console open" means the same everywhere. With several nodes on
//! PostgreSQL, a node killed with SIGKILL stops beating, and within [`DEAD_AFTER`] every other
//! node stops counting its agents' consoles; their browsers reconnect through the load balancer
//! to a live node and replay what they missed from the events table.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ctihub_domain::Id;
use ctihub_domain::time::{Millis, now_millis};
use ctihub_store::{ClusterNode, Store, StoreResult};
use tokio::sync::Mutex;

/// How often a node notes that it is alive.
pub const BEAT: Duration = Duration::from_secs(2);
/// A node not seen for this long is dead: three missed beats, so one slow commit under load
/// does not make a live node's agents look offline.
pub const DEAD_AFTER: Duration = Duration::from_secs(6);
/// Dead nodes and their leftover rows are swept away after this long (they stopped counting
/// long before; sweeping is only housekeeping).
const SWEEP_AFTER: Duration = Duration::from_secs(60);
const SWEEP_EVERY_BEATS: u32 = 15;

/// This node. Cheap to clone; every clone is the same node.
#[derive(Clone, Debug)]
pub struct Node {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: String,
    started_at: Millis,
    /// Where this node listens, once it does (for operators reading the node list).
    address: OnceLock<String>,
    /// Beating and leaving take turns, so a beat cannot re-register a node that just left.
    /// `true` once the node has left.
    left: Mutex<bool>,
    /// Set by the first beat: a console stream opened before it must wait for the node's row.
    registered: tokio::sync::OnceCell<()>,
}

impl Node {
    pub fn new() -> Node {
        Node {
            inner: Arc::new(Inner {
                id: random_id(8),
                started_at: now_millis(),
                address: OnceLock::new(),
                left: Mutex::new(false),
                registered: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// A random id per process start, so a restarted node never inherits a dead one's streams.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Note where this node listens, and tell the others at once rather than at the next beat.
    /// Only the first call counts (the CLI notes it before its banner, `serve` again for
    /// embedders that call it directly).
    pub async fn listening_on(&self, address: impl Into<String>, store: &Store) {
        if self.inner.address.set(address.into()).is_err() {
            return;
        }
        if let Err(e) = self.beat(store).await {
            tracing::warn!(error = %e, "cluster: cannot note this node's address yet");
        }
    }

    /// The oldest last beat of a node still alive at `now`.
    pub fn alive_since(now: Millis) -> Millis {
        now - DEAD_AFTER.as_millis() as i64
    }

    /// Beat once, unless the node has left.
    async fn beat(&self, store: &Store) -> StoreResult<()> {
        let left = self.inner.left.lock().await;
        if *left {
            return Ok(());
        }
        let me = ClusterNode {
            id: self.inner.id.clone(),
            address: self.inner.address.get().cloned().unwrap_or_default(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.inner.started_at,
            seen_at: now_millis(),
        };
        store.beat_node(&me, me.seen_at).await
    }

    /// Make sure the node is registered before it vouches for anything.
    pub async fn registered(&self, store: &Store) -> StoreResult<()> {
        self.inner.registered.get_or_try_init(|| self.beat(store)).await.map(|_| ())
    }

    /// Stop beating and take this node's console streams out of the count now, rather than
    /// when the others notice it is gone.
    pub async fn leave(&self, store: &Store) -> StoreResult<()> {
        let mut left = self.inner.left.lock().await;
        *left = true;
        store.remove_node(&self.inner.id).await
    }

    /// Beat every [`BEAT`] until the node leaves, sweeping dead nodes away now and then.
    pub(crate) async fn keep_beating(self, store: Store) {
        let mut beats = 0_u32;
        loop {
            if let Err(e) = self.beat(&store).await {
                tracing::warn!(error = %e, "cluster: cannot note this node alive; retrying");
            }
            if *self.inner.left.lock().await {
                return;
            }
            beats = beats.wrapping_add(1);
            if beats % SWEEP_EVERY_BEATS == 1 {
                let cutoff = now_millis() - SWEEP_AFTER.as_millis() as i64;
                match store.sweep_dead_nodes(cutoff).await {
                    Ok(0) => {}
                    Ok(swept) => tracing::info!(swept, "cluster: forgot nodes that stopped beating"),
                    Err(e) => tracing::warn!(error = %e, "cluster: sweeping dead nodes failed"),
                }
            }
            tokio::time::sleep(BEAT).await;
        }
    }

    /// Note a console stream open on this node for as long as the returned guard lives.
    pub(crate) async fn open_console_stream(
        &self,
        store: &Store,
        user_id: Id,
        token_hash: &str,
    ) -> StoreResult<OpenConsoleStream> {
        self.registered(store).await?;
        let id = random_id(12);
        store.open_console_stream(&id, &self.inner.id, user_id, token_hash, now_millis()).await?;
        Ok(OpenConsoleStream { store: store.clone(), id })
    }
}

impl Default for Node {
    fn default() -> Self {
        Node::new()
    }
}

/// Whether `user_id` has a console open now on any live node: a pop published now reaches it.
pub(crate) async fn has_open_console(store: &Store, user_id: Id) -> StoreResult<bool> {
    let now = now_millis();
    store.has_open_console(user_id, now, Node::alive_since(now)).await
}

/// A console stream this node serves; dropping it (the browser went away, the session ended)
/// takes the stream out of the count.
pub(crate) struct OpenConsoleStream {
    store: Store,
    id: String,
}

impl Drop for OpenConsoleStream {
    fn drop(&mut self) {
        let (store, id) = (self.store.clone(), std::mem::take(&mut self.id));
        // Without a runtime the server is going down, and leaving removes the node's streams.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.close_console_stream(&id).await {
                    tracing::warn!(error = %e, "cluster: cannot note a console stream closed");
                }
            });
        }
    }
}

/// `bytes` random bytes in hex: ids that no other node or process start picks again.
fn random_id(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system provides randomness");
    hex::encode(buffer)
}
