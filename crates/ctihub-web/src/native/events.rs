//! `GET /api/hub/events`: the signed-in agent's real-time stream (Server-Sent Events).
//! A reconnecting client sends `Last-Event-ID` and first gets what it missed from the store.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;

use crate::extract::Query;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use ctihub_domain::Id;
use ctihub_domain::time::Millis;
use ctihub_store::HubEvent;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::StaffUser;
use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct StreamParams {
    /// Replay events after this id (as `Last-Event-ID` does).
    after: Option<Id>,
}

/// Missed events are read from the store in pages of this size.
const REPLAY_PAGE: i64 = 1000;

fn sse_event(event: &HubEvent) -> Event {
    Event::default().id(event.id.to_string()).event(event.kind.clone()).data(event.payload.to_string())
}

/// A dropped connection is retried after this, not after the browser's default of seconds.
const RECONNECT_AFTER: Duration = Duration::from_millis(1000);

/// The id a reconnecting client last saw: the `Last-Event-ID` header an `EventSource` sends by
/// itself, else an `after` parameter (a reloaded page starts a new `EventSource`, which cannot
/// set the header).
pub(crate) fn last_seen(headers: &HeaderMap, after: Option<Id>) -> Option<Id> {
    headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<Id>().ok()).or(after)
}

/// `user_id`'s hub events as SSE: first those after `last_seen` from the store (only those
/// created at or after `not_before`, when given), then live ones, each once.
pub(crate) async fn hub_events(
    state: &AppState,
    user_id: Id,
    last_seen: Option<Id>,
    not_before: Option<Millis>,
) -> Result<impl Stream<Item = Result<Event, Infallible>> + Send + use<>, ApiError> {
    // Subscribe before reading the replay, so nothing published in between is lost; the id
    // filter below drops what the replay already sent.
    let live = BroadcastStream::new(state.hub.subscribe()).take_until(state.hub.closed());
    let mut replay = Vec::new();
    if let Some(mut after) = last_seen {
        // Page through everything missed, so nothing falls between the replay and live events.
        loop {
            let page = state.store.hub_events_after(after, REPLAY_PAGE).await?;
            let full = page.len() as i64 == REPLAY_PAGE;
            after = page.last().map_or(after, |e| e.id);
            replay.extend(page);
            if !full {
                break;
            }
        }
    }
    let mut high_water = replay.last().map(|e| e.id).or(last_seen).unwrap_or(0);
    let hello = stream::once(async { Ok(Event::default().retry(RECONNECT_AFTER).comment("ctihub")) });
    let wanted = move |e: &HubEvent| e.is_for(user_id) && not_before.is_none_or(|t| e.created_at >= t);
    let replayed = stream::iter(replay.into_iter().filter(wanted).map(|e| Ok(sse_event(&e))));
    let live = live.filter_map(move |item: Result<Arc<HubEvent>, _>| {
        let out = match item {
            Ok(event) if event.id > high_water && event.is_for(user_id) => {
                high_water = event.id;
                Some(Ok(sse_event(&event)))
            }
            Ok(_) => None,
            // This console fell too far behind; a reconnect with Last-Event-ID replays the gap.
            Err(_) => Some(Ok(Event::default().event("lagged").data("{}"))),
        };
        async move { out }
    });
    Ok(hello.chain(replayed).chain(live))
}

/// Wrap an event stream as an SSE response with keep-alives (proxies drop idle connections).
pub(crate) fn sse<S>(events: S) -> Sse<KeepAliveStream<S>>
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The signed-in agent's events: screen pops, incoming calls, journal changes, presence.
#[utoipa::path(get, path = "/api/hub/events", tag = "events", params(StreamParams),
    responses((status = 200, description = "text/event-stream of hub events", content_type = "text/event-stream")))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    Ok(sse(hub_events(&state, user.id, last_seen(&headers, params.after), None).await?))
}
