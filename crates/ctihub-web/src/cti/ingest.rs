//! Where a CTI event is handed over to be recorded. On an SQLite file it queues for the ledger
//! writer, which records many events per commit; on PostgreSQL it is recorded right here in a
//! transaction of its own, as other nodes record theirs. Either way the answer waits until the
//! event is committed, and the hub delivers its messages only then (on SQLite the writer hands
//! them over itself).

use std::sync::Arc;

use ctihub_domain::cti::SharedCtiConfig;
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_store::{LedgerJob, SqliteLedger, StoreResult};
use tokio::sync::oneshot;

use super::service::{Decision, IncomingEvent, Processed, process};
use crate::AppState;
use crate::error::ApiError;

/// Record `event` and tell the agents concerned; what the PBX should do with the call.
pub async fn ingest(
    state: &AppState,
    config: Arc<SharedCtiConfig>,
    event: IncomingEvent,
) -> Result<Decision, ApiError> {
    metrics::counter!("ctihub_cti_events_total", "source" => event.source, "event" => event.signal.kind.as_str())
        .increment(1);
    if let Some(writer) = state.store.ledger_writer() {
        read_numbers_ahead(state.store.phones(), &event);
        let (reply, answer) = oneshot::channel();
        writer.submit(Box::new(WriterJob { config, event, outcome: None, reply }));
        let processed = answer.await.map_err(|_| ApiError::internal("the event writer dropped an event"))??;
        state.hub.announce_from_writer(&processed.published);
        return Ok(processed.decision);
    }
    // Boxed: that path's future is large (about 14 KB, the whole pipeline's), and held inline it
    // made every PBX request's future that large, copied into a box at each layer of the router.
    Box::pin(ingest_on_pool(state, config, event)).await
}

/// Without the SQLite writer: the pipeline in a transaction of the PostgreSQL pool.
async fn ingest_on_pool(
    state: &AppState,
    config: Arc<SharedCtiConfig>,
    event: IncomingEvent,
) -> Result<Decision, ApiError> {
    let processed = match state.store.begin_pg_ledger().await? {
        Some(mut ledger) => {
            let processed = process(&mut ledger, &config, event).await?;
            ledger.commit().await?;
            processed
        }
        // An in-memory database (tests): straight on its pool.
        None => process(&mut state.store.clone(), &config, event).await?,
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
    event: IncomingEvent,
    outcome: Option<Result<Processed, ApiError>>,
    reply: oneshot::Sender<Result<Processed, ApiError>>,
}

impl LedgerJob for WriterJob {
    fn run(&mut self, ledger: &mut SqliteLedger<'_>) -> bool {
        // The SQLite ledger never waits, so its futures complete on the first poll. Pinned where
        // it is made: the pipeline's future is kilobytes, and handing it over by value copied it.
        let pipeline = std::pin::pin!(process(ledger, &self.config, self.event.clone()));
        let outcome = futures::executor::block_on(pipeline);
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
