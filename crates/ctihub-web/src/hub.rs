//! The hub: real-time messages to agent consoles.
//!
//! Publishing stores the event first (the store remembers) and then wakes this node's delivery
//! task (the hub delivers). The task reads every stored event it has not delivered yet and
//! broadcasts it to the SSE streams of this node. On PostgreSQL, other nodes are woken by
//! `LISTEN ctihub_events`; a periodic tick covers notifications lost while reconnecting. On an
//! SQLite file the ledger writer hands each committed batch's events over as they are, and the
//! task delivers them without reading them back whenever nothing else committed in between
//! (`ctihub_store::CommittedHubEvents`).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use ctihub_domain::Id;
use ctihub_store::{CommittedHubEvents, HubEvent, Store, StoreResult};
use tokio::sync::{Notify, broadcast, mpsc, watch};

/// Kinds of hub events the console understands.
pub mod kinds {
    /// A call is ringing for the recipients.
    pub const INCOMING_CALL: &str = "incoming_call";
    /// Something in the journal changed; consoles re-read it.
    pub const JOURNAL_CHANGED: &str = "journal_changed";
    /// Open a screen for the recipient: a caller's profile or a new ticket.
    pub const SCREEN_POP: &str = "screen_pop";
    /// An agent's presence changed.
    pub const PRESENCE_CHANGED: &str = "presence_changed";
}

const POLL_EVERY: Duration = Duration::from_secs(2);
/// How far back a resync looks for events whose transaction committed after a later one.
const RESYNC_WINDOW: Id = 1000;
/// Events per read; a busy node reads on until it has them all.
const READ_PAGE: i64 = 500;

#[derive(Clone, Debug)]
pub struct Hub {
    store: Store,
    sender: broadcast::Sender<Arc<HubEvent>>,
    wake: Arc<Notify>,
    /// The ledger writer hands its committed events to this hub, so they need no wake.
    writer_hands_over: bool,
    /// Set when the server shuts down: open event streams end, so graceful shutdown does not
    /// wait forever for consoles that never hang up.
    closing: Arc<watch::Sender<bool>>,
}

impl Hub {
    /// Start the hub's delivery task on the current runtime.
    pub fn start(store: Store) -> Hub {
        let (sender, _) = broadcast::channel(1024);
        let committed = store.committed_hub_events();
        let hub = Hub {
            store,
            sender,
            wake: Arc::new(Notify::new()),
            writer_hands_over: committed.is_some(),
            closing: Arc::new(watch::Sender::new(false)),
        };
        let task = hub.clone();
        tokio::spawn(async move { task.deliver(committed).await });
        hub
    }

    /// Store an event for `recipients` (`None`: every agent) and have it delivered.
    pub async fn publish(
        &self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: serde_json::Value,
    ) -> StoreResult<HubEvent> {
        let event = self.publish_once(kind, recipients, payload, None).await?;
        Ok(event.expect("an event without a once-key is always published"))
    }

    /// The same, but only if no event was published with `once_key` before (`None` then).
    pub async fn publish_once(
        &self,
        kind: &str,
        recipients: Option<&[Id]>,
        payload: serde_json::Value,
        once_key: Option<&str>,
    ) -> StoreResult<Option<HubEvent>> {
        let event = self.store.publish_hub_event_once(kind, recipients, &payload, once_key).await?;
        if event.is_some() {
            self.announce(&[kind]);
        }
        Ok(event)
    }

    /// Events of these kinds were stored and committed by someone else (the CTI pipeline's
    /// ledger): count them and deliver.
    pub fn announce(&self, kinds: &[&str]) {
        self.count_published(kinds);
        if !kinds.is_empty() {
            self.wake.notify_one();
        }
    }

    /// The same for events the SQLite ledger writer stored: it hands them to this hub itself,
    /// unless another hub of the same store takes them.
    pub fn announce_from_writer(&self, kinds: &[&str]) {
        if self.writer_hands_over {
            self.count_published(kinds);
        } else {
            self.announce(kinds);
        }
    }

    fn count_published(&self, kinds: &[&str]) {
        for kind in kinds {
            metrics::counter!("ctihub_hub_events_published_total", "kind" => (*kind).to_owned()).increment(1);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubEvent>> {
        self.sender.subscribe()
    }

    /// End every open event stream (the server is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Hub::close`] was called.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }

    async fn deliver(self, mut committed: Option<mpsc::UnboundedReceiver<CommittedHubEvents>>) {
        let mut cursor = loop {
            match self.store.last_hub_event_id().await {
                Ok(id) => break id,
                Err(e) => {
                    tracing::warn!(error = %e, "hub: cannot read the events table yet; retrying");
                    tokio::time::sleep(POLL_EVERY).await;
                }
            }
        };
        // Every hub event with an id up to this one is delivered (or was there before the hub
        // started): known after a read on SQLite, kept up by the writer's batches.
        let mut settled: Option<Id> = None;
        let mut delivered = Delivered::default();
        let mut notifications = match self.store.hub_notifications().await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "hub: cannot LISTEN for other nodes' events; polling only");
                None
            }
        };
        loop {
            let lookback = tokio::select! {
                // Before the wake-ups: a handed-over batch may spare the read they ask for.
                biased;
                Some(batch) = next_batch(&mut committed) => {
                    match settled {
                        // Read already, with whatever committed before it.
                        Some(upto) if batch.through <= upto => continue,
                        // Nothing committed between the last delivery and this batch.
                        Some(upto) if batch.after == upto => {
                            for event in batch.events {
                                cursor = cursor.max(event.id);
                                self.send(&mut delivered, event);
                            }
                            settled = Some(batch.through);
                            continue;
                        }
                        // Something else committed in between: read it all in order.
                        _ => 0,
                    }
                }
                () = self.wake.notified() => 0,
                () = tokio::time::sleep(POLL_EVERY) => 0,
                announced = next_notification(&mut notifications) => match announced {
                    // Delivered already: this node's own commit woke the hub before its
                    // announcement came round.
                    Some(id) if delivered.contains(id) => continue,
                    // An id at or below the cursor committed late: look back to it.
                    Some(id) if id <= cursor => cursor - id + 1,
                    Some(_) => 0,
                    None => RESYNC_WINDOW,
                },
            };
            let mut after = (cursor - lookback).max(0);
            loop {
                match self.store.hub_events_for_delivery(after, READ_PAGE).await {
                    Ok((events, upto)) => {
                        // Reading on is for a backlog of new events; a look-back reads one page,
                        // as it reads events delivered already.
                        let more = lookback == 0 && upto.is_none() && events.len() == READ_PAGE as usize;
                        for event in events {
                            after = event.id;
                            cursor = cursor.max(event.id);
                            self.send(&mut delivered, event);
                        }
                        settled = upto;
                        if more {
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "hub: reading events failed; will retry"),
                }
                break;
            }
        }
    }

    /// Broadcast `event` to this node's streams, unless it was delivered already.
    fn send(&self, delivered: &mut Delivered, event: HubEvent) {
        if delivered.insert(event.id) {
            // No receivers is fine: nobody has a console open.
            let _ = self.sender.send(Arc::new(event));
        }
    }
}

/// The writer's next committed batch; never resolves where it hands nothing over.
async fn next_batch(committed: &mut Option<mpsc::UnboundedReceiver<CommittedHubEvents>>) -> Option<CommittedHubEvents> {
    match committed {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits for the next PostgreSQL announcement. `Some(id)` for an event id, `None` after a lost
/// connection. Never resolves on SQLite.
async fn next_notification(notifications: &mut Option<ctihub_store::HubNotifications>) -> Option<Id> {
    match notifications {
        Some(listener) => match listener.recv().await {
            Ok(Some(id)) => Some(id),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "hub: LISTEN connection failed; resyncing");
                tokio::time::sleep(POLL_EVERY).await;
                None
            }
        },
        None => std::future::pending().await,
    }
}

/// The ids delivered recently, so a look-back never delivers an event twice.
#[derive(Default)]
struct Delivered {
    order: VecDeque<Id>,
    set: HashSet<Id>,
}

impl Delivered {
    const CAPACITY: usize = 4 * RESYNC_WINDOW as usize;

    fn contains(&self, id: Id) -> bool {
        self.set.contains(&id)
    }

    fn insert(&mut self, id: Id) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > Self::CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}
