//! Where a CTI event is handed over to be recorded. On an SQLite file it queues for the ledger
//! writer, which records many events per commit; on PostgreSQL it is recorded right here in a
//! transaction of its own, as other nodes record theirs. Either way the answer waits until the
//! event is committed, and the hub delivers its messages only then (on SQLite the writer hands
//! them over itself). Every dialect's handler comes through [`EventHandling`].

use std::sync::Arc;

use ctihub_domain::cti::SharedCtiConfig;
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_store::{LedgerJob, SqliteLedger, StoreResult};
use tokio::sync::oneshot;

use super::config::EventConfig;
use super::service::{Decision, IncomingEvent, Processed, process};
use crate::AppState;
use crate::error::ApiError;

/// What a dialect's handler made of a request under a configuration.
pub enum Admission {
    /// A call event to record.
    Ingest(IncomingEvent),
    /// Answered without recording a call event.
    Decided(Decision),
    /// Handling it has effects of its own, so only under a configuration read now.
    NeedsFreshConfig,
}

/// Handling one PBX request, as each dialect's handler drives it:
///
/// ```ignore
/// let mut handling = EventHandling::start(&state).await?;
/// let decision = loop {
///     let admission = admit(handling.config(), &request).await;
///     if let Some(decision) = handling.settle(admission).await? {
///         break decision;
///     }
/// };
/// ```
///
/// The dialect's `admit` checks the request under the CTI configuration (access, signature, the
/// event itself); `settle` records the event. Under a cached configuration (see
/// [`EventConfig`]) a refusal, or a change the writer finds committed since, has the request
/// admitted again under a fresh read, so `admit` runs once or twice and must not act before it
/// is sure (see [`Admission::NeedsFreshConfig`]).
pub struct EventHandling<'s> {
    state: &'s AppState,
    config: EventConfig,
}

impl<'s> EventHandling<'s> {
    pub async fn start(state: &'s AppState) -> Result<EventHandling<'s>, ApiError> {
        Ok(EventHandling { state, config: EventConfig::cached(&state.store).await? })
    }

    /// The configuration to admit the request under.
    pub fn config(&self) -> &EventConfig {
        &self.config
    }

    /// Act on an admission made under [`Self::config`]: `Some` with the PBX's answer once done,
    /// `None` to admit the request again under the configuration read now.
    pub async fn settle<E: From<ApiError>>(&mut self, admission: Result<Admission, E>) -> Result<Option<Decision>, E> {
        let fresh = self.config.unconfirmed().is_none();
        let event = match admission {
            Ok(Admission::Ingest(event)) => event,
            Ok(Admission::Decided(decision)) => return Ok(Some(decision)),
            Err(refused) if fresh => return Err(refused),
            Ok(Admission::NeedsFreshConfig) if fresh => {
                return Err(ApiError::internal("an event asked for a fresh configuration under one").into());
            }
            Err(_) | Ok(Admission::NeedsFreshConfig) => return self.read_again().await.map(|()| None),
        };
        match ingest(self.state, &self.config, event).await? {
            Some(decision) => Ok(Some(decision)),
            None => self.read_again().await.map(|()| None),
        }
    }

    async fn read_again<E: From<ApiError>>(&mut self) -> Result<(), E> {
        self.config = EventConfig::read(&self.state.store).await.map_err(ApiError::from)?;
        Ok(())
    }
}

/// Record `event` and tell the agents concerned; what the PBX should do with the call, or
/// `None` when `config` was cached and has changed since (nothing was recorded).
async fn ingest(state: &AppState, config: &EventConfig, event: IncomingEvent) -> Result<Option<Decision>, ApiError> {
    let (source, kind) = (event.source, event.signal.kind.as_str());
    let outcome = record(state, config, event).await;
    // Once per event: one sent back under a changed configuration comes here again.
    if !matches!(outcome, Ok(None)) {
        metrics::counter!("ctihub_cti_events_total", "source" => source, "event" => kind).increment(1);
    }
    outcome
}

/// [`ingest`] without the count: on the ledger writer, or on the pool.
async fn record(state: &AppState, config: &EventConfig, event: IncomingEvent) -> Result<Option<Decision>, ApiError> {
    if let Some(writer) = state.store.ledger_writer() {
        read_numbers_ahead(state.store.phones(), &event);
        let (reply, answer) = oneshot::channel();
        let job = WriterJob {
            config: config.shared().clone(),
            unconfirmed: config.unconfirmed(),
            event,
            outcome: None,
            reply,
        };
        writer.submit(Box::new(job));
        let Some(processed) = answer.await.map_err(|_| ApiError::internal("the event writer dropped an event"))??
        else {
            return Ok(None);
        };
        state.hub.announce_from_writer(&processed.published);
        return Ok(Some(processed.decision));
    }
    // Boxed: that path's future is large (about 14 KB, the whole pipeline's), and held inline it
    // made every PBX request's future that large, copied into a box at each layer of the router.
    Box::pin(ingest_on_pool(state, config.shared().clone(), event)).await.map(Some)
}

/// Without the SQLite writer: the pipeline in a transaction of the PostgreSQL pool.
async fn ingest_on_pool(
    state: &AppState,
    config: Arc<SharedCtiConfig>,
    event: IncomingEvent,
) -> Result<Decision, ApiError> {
    let processed = match state.store.begin_pg_ledger().await? {
        Some(mut ledger) => {
            let processed = process(&mut ledger, &config, &event).await?;
            ledger.commit().await?;
            processed
        }
        // An in-memory database (tests): straight on its pool.
        None => process(&mut state.store.clone(), &config, &event).await?,
    };
    state.hub.announce(&processed.published);
    Ok(processed.decision)
}

/// Read the event's numbers here, on the request's thread, so that the one writer every event
/// waits on finds them read (`phone::recent`): parsing a number it had not seen was a tenth of
/// its time.
fn read_numbers_ahead(phones: &PhoneNormalizer, event: &IncomingEvent) {
    for number in [&event.signal.from, &event.signal.to] {
        phones.key_and_pretty(number);
    }
}

/// One event on the writer thread.
struct WriterJob {
    config: Arc<SharedCtiConfig>,
    /// The settings' generation `config` was cached at, if it was not read for this event.
    unconfirmed: Option<i64>,
    event: IncomingEvent,
    /// `None` inside: the configuration had changed, nothing was recorded.
    outcome: Option<Result<Option<Processed>, ApiError>>,
    reply: oneshot::Sender<Result<Option<Processed>, ApiError>>,
}

impl WriterJob {
    fn config_changed(&self, ledger: &mut SqliteLedger<'_>) -> StoreResult<bool> {
        match self.unconfirmed {
            Some(generation) => Ok(ledger.settings_generation()? != generation),
            None => Ok(false),
        }
    }
}

impl LedgerJob for WriterJob {
    fn run(&mut self, ledger: &mut SqliteLedger<'_>) -> bool {
        let outcome = match self.config_changed(ledger) {
            Ok(true) => Ok(None),
            Ok(false) => {
                // The SQLite ledger never waits, so its futures complete on the first poll.
                // Pinned where it is made: the pipeline's future is kilobytes, and handing it over
                // by value copied it. The event is lent, not cloned: a copy of its payload for
                // each run was a fortieth of the writer's time.
                let pipeline = std::pin::pin!(process(ledger, &self.config, &self.event));
                futures::executor::block_on(pipeline).map(Some)
            }
            Err(e) => Err(e.into()),
        };
        let kept = outcome.is_ok();
        self.outcome = Some(outcome);
        kept
    }

    fn finish(self: Box<Self>, committed: StoreResult<()>) {
        let answer = match committed {
            Ok(()) => self.outcome.unwrap_or_else(|| Err(ApiError::internal("recording the event failed"))),
            Err(e) => Err(e.into()),
        };
        // The request may have gone (client hung up); the event is stored all the same.
        let _ = self.reply.send(answer);
    }
}
