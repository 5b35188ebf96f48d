//! Call events as real PBXs deliver them: duplicated, reordered, lost, and the same event many
//! times at once. Generated streams go through the Zammad push endpoint on every backend; every
//! event is answered 200 and stored, each call id has exactly one journal entry, and that entry
//! is what the journal rules make of the delivered events, duplicates or not.
//!
//! Streams per backend: `PROPTEST_CASES / 8` (32 by default).

use ctihub_domain::call::{CallData, Direction};
use ctihub_domain::journal::{CallSignal, SignalKind, Transition, apply};
use ctihub_store::JournalFilter;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::helpers::{TestApp, on_each_app};

/// One event of a generated stream; `original` tells copies of the same delivery apart from
/// different events.
#[derive(Debug, Clone)]
struct Event {
    call: usize,
    original: usize,
    kind: SignalKind,
    direction: Direction,
    users: Vec<&'static str>,
    cause: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct Call {
    direction: Direction,
    /// newCall, then maybe answer, then maybe hangup, as the PBX meant to send them.
    answered: bool,
    hung_up: bool,
    answer_user: &'static str,
    cause: &'static str,
}

fn call() -> impl Strategy<Value = Call> {
    (
        select(&[Direction::Inbound, Direction::Outbound][..]),
        any::<bool>(),
        prop::bool::weighted(0.8),
        select(&["Agent Smith", "voicemail", "Jane Roe"][..]),
        select(&["normalClearing", "cancel", "busy", "noAnswer", "forwarded", "congestion"][..]),
    )
        .prop_map(|(direction, answered, hung_up, answer_user, cause)| Call {
            direction,
            answered,
            hung_up,
            answer_user,
            cause,
        })
}

/// What happens to each intended event on the way: lost, delivered, delivered many times; and
/// the order the network hands them over in.
#[derive(Debug, Clone)]
struct Stream {
    calls: Vec<Call>,
    fates: Vec<(bool, usize)>,
    order: Vec<Index>,
}

fn stream() -> impl Strategy<Value = Stream> {
    (
        proptest::collection::vec(call(), 1..4),
        proptest::collection::vec(
            (prop::bool::weighted(0.2), prop_oneof![6 => Just(1usize), 3 => 2..4usize, 1 => Just(10usize)]),
            9,
        ),
        proptest::collection::vec(any::<Index>(), 0..40),
    )
        .prop_map(|(calls, fates, order)| Stream { calls, fates, order })
}

impl Stream {
    /// The events as delivered, in delivery order.
    fn delivered(&self) -> Vec<Event> {
        let mut intended = Vec::new();
        for (c, call) in self.calls.iter().enumerate() {
            let event = |kind, users: Vec<&'static str>, cause| Event {
                call: c,
                original: 0,
                kind,
                direction: call.direction,
                users,
                cause,
            };
            intended.push(event(SignalKind::NewCall, vec!["Agent Smith", "Jane Roe"], None));
            if call.answered {
                intended.push(event(SignalKind::Answer, vec![call.answer_user], None));
            }
            if call.hung_up {
                intended.push(event(SignalKind::Hangup, vec![], Some(call.cause)));
            }
        }
        let mut delivered = Vec::new();
        for (i, mut event) in intended.into_iter().enumerate() {
            event.original = i;
            let (lost, copies) = self.fates[i % self.fates.len()];
            if !lost {
                delivered.extend(std::iter::repeat_n(event, copies));
            }
        }
        // Reorder: each index moves one delivered event to the end, as a late retry would.
        for index in &self.order {
            if !delivered.is_empty() {
                let moved = delivered.remove(index.index(delivered.len()));
                delivered.push(moved);
            }
        }
        delivered
    }
}

fn form(event: &Event, call_id: &str) -> String {
    let kind = event.kind.as_str();
    let direction = if event.direction == Direction::Inbound { "in" } else { "out" };
    let (from, to) = ("4917112345670", "4930600000");
    let mut form = format!("event={kind}&direction={direction}&from={from}&to={to}&callId={call_id}");
    for user in &event.users {
        form.push_str(&format!("&user%5B%5D={}", user.replace(' ', "+")));
    }
    if let Some(cause) = event.cause {
        form.push_str(&format!("&cause={cause}"));
    }
    form
}

/// The journal rules applied to events, without a server.
fn model(events: &[&Event]) -> Option<CallData> {
    let mut call = None;
    for e in events {
        let signal = CallSignal {
            kind: e.kind,
            direction: e.direction,
            from: "4917112345670".into(),
            to: "4930600000".into(),
            users: e.users.iter().map(|u| u.to_string()).collect(),
            queue: None,
            cause: e.cause.map(str::to_owned),
            at: 0,
        };
        match apply(call.as_ref(), &signal) {
            Transition::Start(c) | Transition::Update(c) => call = Some(c),
            Transition::Ignore(_) => {}
        }
    }
    call
}

/// The fields the rules decide (times come from the server's clock, ids from enrichment).
fn decided(call: &CallData) -> String {
    format!(
        "state={} done={} status={:?} cause={:?} direction={} from_name={:?} to_name={:?} answered={} ended={}",
        call.state.as_str(),
        call.done,
        call.completion_status.map(|s| s.as_str()),
        call.hangup_cause,
        call.direction.as_str(),
        call.from_name,
        call.to_name,
        call.answered_at.is_some(),
        call.ended_at.is_some(),
    )
}

fn cases() -> usize {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse::<usize>().ok()).map_or(32, |n| (n / 8).max(1))
}

#[tokio::test]
async fn generated_event_streams_make_consistent_journal_entries() {
    let mut runner = TestRunner::default();
    let streams: Vec<Stream> = (0..cases()).map(|_| stream().new_tree(&mut runner).unwrap().current()).collect();
    on_each_app(async |app: &TestApp| {
        let url = app.enable_cti(|_| {}).await;
        for (n, stream) in streams.iter().enumerate() {
            let delivered = stream.delivered();
            let before = app.store.count_journal(&JournalFilter::default()).await.unwrap();
            for event in &delivered {
                let (status, body) = app.push(&url, &form(event, &format!("seq-{n}-{}", event.call))).await;
                assert_eq!((status, body.to_string()), (200, "{}".to_owned()), "stream {n} {stream:?}");
            }
            let mut journal_entries = 0;
            for c in 0..stream.calls.len() {
                let call_id = format!("seq-{n}-{c}");
                let events: Vec<&Event> = delivered.iter().filter(|e| e.call == c).collect();
                let stored = app.store.find_call_by_ref("zammad", &call_id).await.unwrap();
                let Some(stored) = stored else {
                    assert!(events.is_empty(), "{call_id}: {} events delivered but no call: {stream:?}", events.len());
                    continue;
                };
                journal_entries += 1;
                let recorded = app.store.list_call_events(stored.id).await.unwrap();
                assert_eq!(recorded.len(), events.len(), "{call_id}: every delivered event is recorded: {stream:?}");
                let expected = model(&events).unwrap();
                assert_eq!(decided(&stored.data), decided(&expected), "{call_id}: {events:#?}");
                // Duplicates change nothing: the stream without copies gives the same entry.
                let mut seen = Vec::new();
                let unique: Vec<&Event> = events
                    .iter()
                    .copied()
                    .filter(|e| {
                        let first = !seen.contains(&e.original);
                        seen.push(e.original);
                        first
                    })
                    .collect();
                assert_eq!(decided(&model(&unique).unwrap()), decided(&stored.data), "{call_id}: {events:#?}");
            }
            let after = app.store.count_journal(&JournalFilter::default()).await.unwrap();
            assert_eq!(after - before, journal_entries, "one journal entry per call id: {stream:?}");
        }
    })
    .await;
}

/// The same event sent many times at once (a PBX retrying on a timeout, several PBX nodes
/// reporting one call), phase after phase, and answer racing hangup: one call per id, every
/// event answered 200 and recorded, and the call ends up ended.
#[tokio::test]
async fn concurrent_duplicates_and_races_stay_consistent() {
    on_each_app(async |app: &TestApp| {
        let url = app.enable_cti(|_| {}).await;
        let send_all = async |forms: Vec<String>| {
            let sends = forms.iter().map(|f| app.push(&url, f));
            for (status, body) in futures_util::future::join_all(sends).await {
                assert_eq!((status, body.to_string()), (200, "{}".to_owned()));
            }
        };
        let base = "direction=in&from=4917112345670&to=4930600000&callId=burst";
        for event in ["newCall", "answer", "hangup"] {
            send_all(vec![format!("event={event}&{base}&user=Agent&cause=normalClearing"); 10]).await;
        }
        let call = app.store.find_call_by_ref("zammad", "burst").await.unwrap().expect("one call");
        assert_eq!(app.store.list_call_events(call.id).await.unwrap().len(), 30);
        assert_eq!(call.data.state.as_str(), "ended");
        assert!(call.data.done, "answered, then hung up");

        // answer and hangup of one call at the same moment, for many calls.
        for i in 0..12 {
            app.push(&url, &format!("event=newCall&direction=in&from=4917112345670&to=4930600000&callId=race-{i}"))
                .await;
        }
        let mut forms = Vec::new();
        for i in 0..12 {
            let base = format!("direction=in&from=4917112345670&to=4930600000&callId=race-{i}");
            forms.push(format!("event=answer&{base}&user=Agent"));
            forms.push(format!("event=hangup&{base}&cause=normalClearing"));
        }
        send_all(forms).await;
        for i in 0..12 {
            let call = app.store.find_call_by_ref("zammad", &format!("race-{i}")).await.unwrap().unwrap();
            assert_eq!(app.store.list_call_events(call.id).await.unwrap().len(), 3, "race-{i}");
            assert_eq!(call.data.state.as_str(), "ended", "race-{i}: a hangup was acknowledged, so the call ended");
        }
    })
    .await;
}
