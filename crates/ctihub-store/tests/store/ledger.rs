//! The SQLite ledger writer: what a job records through it reads back through the pool exactly
//! as the pool would have written it, and a batch keeps its good jobs when one fails.

use std::time::Duration;

use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, CallState, Direction, ExternalRef, NewCallEvent};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{NewUser, Role, UserPatch};
use ctihub_store::testing::fresh_sqlite_store;
use ctihub_store::{CallLedger, LedgerJob, SqliteLedger, Store, StoreResult};
use serde_json::json;
use tokio::sync::oneshot;

fn event(kind: &str) -> NewCallEvent {
    NewCallEvent { source: "zammad".into(), kind: kind.into(), payload: json!({"event": kind}), occurred_at: 1_000 }
}

type Work = Box<dyn FnMut(&mut SqliteLedger<'_>) -> StoreResult<Option<Call>> + Send>;
/// Whether the batch committed, and what the job's work returned (nothing if it panicked).
type Finished = (StoreResult<()>, Option<StoreResult<Option<Call>>>);

/// A job that runs `work` and reports what it returned once the batch is committed.
struct TestJob {
    work: Work,
    outcome: Option<StoreResult<Option<Call>>>,
    done: oneshot::Sender<Finished>,
}

impl LedgerJob for TestJob {
    fn run(&mut self, ledger: &mut SqliteLedger<'_>) -> bool {
        let outcome = (self.work)(ledger);
        let kept = outcome.is_ok();
        self.outcome = Some(outcome);
        kept
    }

    fn finish(self: Box<Self>, committed: StoreResult<()>) {
        let _ = self.done.send((committed, self.outcome));
    }
}

fn submit(store: &Store, work: Work) -> oneshot::Receiver<Finished> {
    let (done, finished) = oneshot::channel();
    store.ledger_writer().expect("an SQLite file has a writer").submit(Box::new(TestJob { work, outcome: None, done }));
    finished
}

/// The ledger's futures never wait: poll them to completion on the writer thread.
fn now<T>(future: impl Future<Output = T>) -> T {
    futures::executor::block_on(future)
}

#[tokio::test]
async fn what_the_writer_records_reads_back_through_the_pool() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    let mut caller = NewUser::new(Role::EndUser, "Cincinnati");
    caller.phones = vec![(PhoneKind::Phone, "+1 513 555 7611".into())];
    let caller = store.create_user(caller).await.unwrap();
    let mut agent = NewUser::new(Role::Agent, "Alice Agent");
    agent.agent_id = Some("A-17".into());
    let agent = store.create_user(agent).await.unwrap();
    // Sent before its call existed: it joins the call the writer creates.
    let early = NewCallEvent { kind: "dtmf".into(), ..event("dtmf") };
    store.park_call_event(&ExternalRef::new("zammad", "c-1"), &early).await.unwrap();

    let (caller_id, agent_id) = (caller.id, agent.id);
    let finished = submit(
        store,
        Box::new(move |ledger| {
            now(async {
                let found = ledger.identify_caller("(513) 555-7611").await?;
                assert_eq!(found.iter().map(|m| m.user.id).collect::<Vec<_>>(), vec![caller_id]);
                assert_eq!(ledger.find_staff_by_name(" alice AGENT ").await?.map(|u| u.id), Some(agent_id));
                assert_eq!(ledger.find_agent_by_agent_id("A-17").await?.map(|u| u.id), Some(agent_id));
                assert_eq!(ledger.find_user(caller_id).await?.map(|u| u.name), Some("Cincinnati".into()));
                assert_eq!(ledger.active_staff_ids().await?, vec![agent_id]);

                let mut data = CallData::new(Direction::Inbound, "+1 513 555 7611", "+18005550100", 1_000);
                data.end_user_id = Some(caller_id);
                let refs = [ExternalRef::new("zammad", "c-1")];
                let call = ledger.create_call(&data, &refs, &event("newCall")).await?;
                assert_eq!(ledger.find_call_by_ref("zammad", "c-1").await?.as_ref(), Some(&call));
                let mut answered = data.clone();
                answered.state = CallState::InProgress;
                answered.agent_id = Some(agent_id);
                let stale = ledger.update_call_if_state(&call, CallState::Ended, &answered, &event("answer")).await?;
                assert!(stale.is_none(), "a call not in the expected state is left alone");
                let call = ledger.update_call_if_state(&call, CallState::Ringing, &answered, &event("answer")).await?;
                let call = call.expect("the call was ringing");
                ledger.append_call_event(call.id, &event("hangup")).await?;

                let payload = json!({"call_id": call.id});
                let once = ctihub_store::once_key(call.id, "screen_pop");
                assert!(ledger.publish_hub_event_once("screen_pop", Some(&[agent_id]), &payload, Some(&once)).await?);
                assert!(!ledger.publish_hub_event_once("screen_pop", Some(&[agent_id]), &payload, Some(&once)).await?);
                Ok(Some(call))
            })
        }),
    );
    let (committed, outcome) = finished.await.unwrap();
    committed.unwrap();
    let call = outcome.unwrap().unwrap().unwrap();

    // The pool sees exactly what the ledger said it wrote.
    let stored = store.find_call_by_ref("zammad", "c-1").await.unwrap().unwrap();
    assert_eq!(stored, call);
    let kinds: Vec<String> = store.list_call_events(call.id).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["dtmf", "newCall", "answer", "hangup"]);
    let pops = store.hub_events_after(0, 10).await.unwrap();
    assert_eq!(pops.len(), 1, "the once-key kept the second pop out");
    assert_eq!(pops[0].recipients, Some(vec![agent.id]));

    // The writer counts ids in memory during a batch and writes the counter back before the
    // commit: the pool's next id comes after every id the batch used.
    let events = store.list_call_events(call.id).await.unwrap();
    let used = events.iter().map(|e| e.id).chain([call.id, pops[0].id]).max().unwrap();
    assert!(store.allocate_id().await.unwrap() > used);
}

#[tokio::test]
async fn a_failing_job_undoes_only_its_own_writes() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    let create = |name: &'static str, outcome: &'static str| -> Work {
        Box::new(move |ledger| {
            now(async {
                if outcome == "slow" {
                    // Hold the writer so the jobs after this one queue into one batch.
                    std::thread::sleep(Duration::from_millis(300));
                }
                let data = CallData::new(Direction::Inbound, "+1 513 555 7611", "+18005550100", 1_000);
                let call = ledger.create_call(&data, &[ExternalRef::new("zammad", name)], &event("newCall")).await?;
                ledger.publish_for_calls("journal_changed", None, call.id).await?;
                match outcome {
                    "fail" => Err(ctihub_store::StoreError::invalid("call", "refused after writing")),
                    "panic" => panic!("a job that panics after writing"),
                    _ => Ok(Some(call)),
                }
            })
        })
    };
    let slow = submit(store, create("slow", "slow"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let batch = [
        submit(store, create("good-1", "ok")),
        submit(store, create("failed", "fail")),
        submit(store, create("panicked", "panic")),
        submit(store, create("good-2", "ok")),
    ];
    slow.await.unwrap().0.unwrap();
    let mut outcomes = Vec::new();
    for finished in batch {
        let (committed, outcome) = finished.await.unwrap();
        committed.expect("the batch commits despite its failed jobs");
        outcomes.push(outcome.map(|o| o.is_ok()));
    }
    assert_eq!(outcomes, [Some(true), Some(false), None, Some(true)], "the panicking job reports nothing");
    for (name, kept) in [("slow", true), ("good-1", true), ("failed", false), ("panicked", false), ("good-2", true)] {
        assert_eq!(store.find_call_by_ref("zammad", name).await.unwrap().is_some(), kept, "{name}");
    }

    // One journal notice per batch, naming the calls of the jobs that were kept.
    let id = async |name| store.find_call_by_ref("zammad", name).await.unwrap().unwrap().id;
    let notices: Vec<_> = store.hub_events_after(0, 10).await.unwrap().into_iter().map(|e| e.payload).collect();
    assert_eq!(
        notices,
        [json!({"call_ids": [id("slow").await]}), json!({"call_ids": [id("good-1").await, id("good-2").await]})]
    );
}

#[tokio::test]
async fn the_first_call_of_a_batch_starts_its_notice_and_the_others_join_it() {
    let test = fresh_sqlite_store("US").await;
    let finished = submit(
        &test.store,
        Box::new(|ledger| {
            now(async {
                assert!(ledger.publish_for_calls("journal_changed", None, 11).await?);
                assert!(!ledger.publish_for_calls("journal_changed", None, 12).await?, "joins the batch's notice");
                assert!(!ledger.publish_for_calls("journal_changed", None, 11).await?, "named once");
                assert!(ledger.publish_for_calls("journal_changed", Some(&[7, 8]), 13).await?, "other recipients");
                assert!(!ledger.publish_for_calls("journal_changed", Some(&[7, 8]), 14).await?);
                assert!(ledger.publish_for_calls("other_kind", None, 12).await?, "each kind has its own notice");
                Ok(None)
            })
        }),
    );
    finished.await.unwrap().0.unwrap();
    let events = test.store.hub_events_after(0, 10).await.unwrap();
    let seen: Vec<_> = events.iter().map(|e| (e.kind.as_str(), e.recipients.clone(), e.payload.clone())).collect();
    assert_eq!(
        seen,
        [
            ("journal_changed", None, json!({"call_ids": [11, 12]})),
            ("journal_changed", Some(vec![7, 8]), json!({"call_ids": [13, 14]})),
            ("other_kind", None, json!({"call_ids": [12]}))
        ]
    );
}

#[tokio::test]
async fn once_the_log_cannot_be_synced_no_event_is_answered_as_stored() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    let create = |name: &'static str| -> Work {
        Box::new(move |ledger| {
            now(async {
                let data = CallData::new(Direction::Inbound, "+1 513 555 7611", "+18005550100", 1_000);
                Ok(Some(ledger.create_call(&data, &[ExternalRef::new("zammad", name)], &event("newCall")).await?))
            })
        })
    };
    submit(store, create("synced")).await.unwrap().0.expect("stored and synced");
    assert!(store.ledger_failure().is_none());

    // The write-ahead log's file gone: SQLite goes on writing to its open handle, but nothing
    // can be synced any more.
    let mut log = test.sqlite_path().unwrap().as_os_str().to_owned();
    log.push("-wal");
    std::fs::remove_file(&log).unwrap();
    // A connection that opens the database meanwhile (a reader, the CLI) makes a new, empty log
    // at the path (and fails to read: the log it finds is not the one the index describes);
    // syncing that file would prove nothing.
    let other = rusqlite::Connection::open(test.sqlite_path().unwrap()).unwrap();
    let _ = other.query_row("SELECT count(*) FROM calls", [], |row| row.get::<_, i64>(0));
    assert!(std::path::Path::new(&log).exists(), "the other connection made a log again");
    let (committed, _) = submit(store, create("unsynced")).await.unwrap();
    let refused = committed.expect_err("an event that is not on disk is not answered as stored");
    assert!(refused.to_string().contains("could not be synced to disk"), "{refused}");
    let shown = store.ledger_failure().expect("the health check is told");
    assert!(shown.to_string().contains("restart ctihub"), "{shown}");

    // A file of that name again does not make the log trustworthy: the failure is final.
    std::fs::File::create(&log).unwrap();
    let (committed, outcome) = submit(store, create("later")).await.unwrap();
    assert!(committed.is_err());
    assert!(outcome.is_none(), "nothing more is recorded");
}

#[tokio::test]
async fn a_purge_goes_on_past_its_first_chunk_and_keeps_what_came_after() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    // More hub events than one chunk of the purge deletes, in one batch.
    let finished = submit(
        store,
        Box::new(|ledger| {
            now(async {
                for n in 0..4_500 {
                    ledger.publish_hub_event_once("incoming_call", Some(&[7]), &json!({"n": n}), None).await?;
                }
                Ok(None)
            })
        }),
    );
    finished.await.unwrap().0.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let kept = store.publish_hub_event("incoming_call", Some(&[7]), &json!({"n": "kept"})).await.unwrap();

    assert_eq!(store.purge_hub_events_before(kept.created_at).await.unwrap(), 4_500);
    assert_eq!(store.hub_events_after(0, 10).await.unwrap(), vec![kept.clone()]);
    assert_eq!(store.purge_hub_events_before(kept.created_at).await.unwrap(), 0, "nothing left before the cutoff");
    assert_eq!(store.purge_hub_events_before(kept.created_at + 1).await.unwrap(), 1, "nothing stored after: all go");
}

/// The writer hands each committed batch's hub events to the one hub that listens, with the ids
/// the batch drew: the events exactly as they read back, and a range that shows whether anything
/// else committed between two batches (then the hub reads instead).
#[tokio::test]
async fn committed_hub_events_are_handed_over_with_the_ids_their_batch_drew() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    let mut handed = store.committed_hub_events().expect("an SQLite file's writer hands its events over");
    assert!(store.committed_hub_events().is_none(), "to one hub only");
    let publish = |kind: &'static str, fail: bool| -> Work {
        Box::new(move |ledger| {
            now(async {
                ledger.publish_hub_event_once(kind, Some(&[7]), &json!({"kind": kind}), None).await?;
                ledger.publish_for_calls("journal_changed", None, 42).await?;
                if fail {
                    return Err(ctihub_store::StoreError::Config("this job fails after publishing".into()));
                }
                Ok(None)
            })
        })
    };

    submit(store, publish("first", false)).await.unwrap().0.unwrap();
    let first = handed.recv().await.unwrap();
    let stored = store.hub_events_after(0, 10).await.unwrap();
    assert_eq!(first.events, stored, "the job's event and the batch's notice, as stored");
    assert!(first.events.iter().all(|e| e.id > first.after && e.id <= first.through));

    // The pool takes an id between two batches: the next batch does not start where the last
    // one ended.
    let between = store.publish_hub_event("presence_changed", None, &json!({})).await.unwrap();
    submit(store, publish("second", false)).await.unwrap().0.unwrap();
    let second = handed.recv().await.unwrap();
    assert_eq!(second.after, between.id);
    assert_eq!(second.events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["second", "journal_changed"]);

    // A failed job's events are undone with it; the batch still reports the ids it drew.
    submit(store, publish("third", false)).await.unwrap().0.unwrap();
    let third = handed.recv().await.unwrap();
    assert_eq!(third.after, second.through, "nothing committed in between");
    let (_, failing) = submit(store, publish("undone", true)).await.unwrap();
    assert!(failing.unwrap().is_err());
    let fourth = handed.recv().await.unwrap();
    assert_eq!((fourth.after, fourth.events.len()), (third.through, 0), "nothing of the failed job");

    // A read for delivery says up to which id it holds every hub event.
    let (events, settled) = store.hub_events_for_delivery(0, 100).await.unwrap();
    assert_eq!(events.len(), 7);
    assert_eq!(settled, Some(fourth.through));
    let (_, page_end) = store.hub_events_for_delivery(0, 7).await.unwrap();
    assert_eq!(page_end, None, "a full page may not hold everything");
}

/// Migration 0013 rewrites the once keys stored before it into the new form, so that a PBX
/// retrying an event across the upgrade still finds its toast or pop published.
#[tokio::test]
async fn once_keys_stored_before_migration_0013_still_keep_a_retry_out() {
    let test = fresh_sqlite_store("US").await;
    let path = test.sqlite_path().expect("an SQLite file").to_owned();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        // The table as it was before 0013: keys in the old form, every row in the index.
        conn.execute_batch(
            "DROP INDEX hub_events_once_key_key;
             CREATE UNIQUE INDEX hub_events_once_key_key ON hub_events (once_key);
             INSERT INTO hub_events (id, kind, recipients, payload, created_at, once_key) VALUES
                 (9000001, 'incoming_call', '[1]', '{}', 0, 'incoming_call:17'),
                 (9000002, 'journal_changed', NULL, '{}', 0, NULL),
                 (9000003, 'screen_pop', '[1]', '{}', 0, 'screen_pop:17'),
                 (9000004, 'screen_pop', '[1]', '{}', 0, 'screen_pop:1843501');",
        )
        .unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0013_hub_events_once_key_order.sql")).unwrap();
        let keys: Vec<Option<String>> = conn
            .prepare("SELECT once_key FROM hub_events WHERE id > 9000000 ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = |id, kind| Some(ctihub_store::once_key(id, kind));
        assert_eq!(keys, [key(17, "incoming_call"), None, key(17, "screen_pop"), key(1_843_501, "screen_pop")]);
    }

    let retried = submit(
        &test.store,
        Box::new(|ledger| {
            now(async {
                let (again, new) = (ctihub_store::once_key(17, "screen_pop"), ctihub_store::once_key(18, "screen_pop"));
                assert!(!ledger.publish_hub_event_once("screen_pop", Some(&[1]), &json!({}), Some(&again)).await?);
                assert!(ledger.publish_hub_event_once("screen_pop", Some(&[1]), &json!({}), Some(&new)).await?);
                // Events without a key are not kept out by each other.
                assert!(ledger.publish_hub_event_once("journal_changed", None, &json!({}), None).await?);
                Ok(None)
            })
        }),
    );
    let (committed, outcome) = retried.await.unwrap();
    committed.unwrap();
    outcome.unwrap().unwrap();
}

/// A job that looks the call up by its PBX id and returns it as the writer finds it.
fn find(name: &'static str) -> Work {
    Box::new(move |ledger| now(ledger.find_call_by_ref("zammad", name)))
}

/// A job that moves the call from ringing to in progress.
fn answer(name: &'static str) -> Work {
    Box::new(move |ledger| {
        now(async {
            let call = ledger.find_call_by_ref("zammad", name).await?.expect("the call exists");
            let mut answered = call.data.clone();
            answered.state = CallState::InProgress;
            answered.answered_at = Some(2_000);
            ledger.update_call_if_state(&call, CallState::Ringing, &answered, &event("answer")).await
        })
    })
}

/// A job that starts a ringing call with a few details.
fn ring(name: &'static str) -> Work {
    Box::new(move |ledger| {
        now(async {
            let mut data = CallData::new(Direction::Inbound, "+1 513 555 7611", "+18005550100", 1_000);
            data.queue_name = Some("support".into());
            data.details.insert("answering_number".into(), json!("+18005550111"));
            Ok(Some(ledger.create_call(&data, &[ExternalRef::new("zammad", name)], &event("newCall")).await?))
        })
    })
}

async fn run(store: &Store, work: Work) -> Option<Call> {
    let (committed, outcome) = submit(store, work).await.unwrap();
    committed.unwrap();
    outcome.expect("the job ran").expect("the job succeeded")
}

#[tokio::test]
async fn later_batches_find_a_call_exactly_as_stored_without_reading_it() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    run(store, ring("c-1")).await.unwrap();
    let stored = || async { store.find_call_by_ref("zammad", "c-1").await.unwrap() };
    assert_eq!(run(store, find("c-1")).await, stored().await);
    let answered = run(store, answer("c-1")).await.expect("it was ringing");
    assert_eq!(Some(answered), stored().await);
    assert_eq!(run(store, find("c-1")).await, stored().await);
}

#[tokio::test]
async fn a_call_another_connection_changed_is_read_again() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    let call = run(store, ring("c-2")).await.unwrap();
    // The console (the pool) ends the call between two batches.
    let mut ended = call.data.clone();
    ended.state = CallState::Ended;
    ended.ended_at = Some(3_000);
    store.update_call(call.id, &ended, None).await.unwrap();
    let found = run(store, find("c-2")).await.unwrap();
    assert_eq!(found.data.state, CallState::Ended);
    assert_eq!(Some(found), store.find_call_by_ref("zammad", "c-2").await.unwrap());
    assert!(run(store, answer("c-2")).await.is_none(), "an ended call is not answered");
}

#[tokio::test]
async fn after_a_failed_job_the_calls_its_batch_wrote_are_read_again() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    run(store, ring("c-3")).await.unwrap();
    let slow: Work = Box::new(|_| {
        // Hold the writer so the jobs after this one queue into one batch.
        std::thread::sleep(Duration::from_millis(300));
        Ok(None)
    });
    let slow = submit(store, slow);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answered = submit(store, answer("c-3"));
    let failing = submit(store, Box::new(|_| Err(ctihub_store::StoreError::invalid("call", "refused"))));
    slow.await.unwrap().0.unwrap();
    answered.await.unwrap().0.unwrap();
    failing.await.unwrap().0.unwrap();
    // The answer was kept although its batch ran again with savepoints; the ringing call the
    // batch started from is not what the next one finds.
    let found = run(store, find("c-3")).await.unwrap();
    assert_eq!(found.data.state, CallState::InProgress);
    assert_eq!(Some(found), store.find_call_by_ref("zammad", "c-3").await.unwrap());
}

/// What the writer knows of users lasts from batch to batch, until another connection commits:
/// a renamed agent, a customer's new number and a changed name are seen by the next batch.
#[tokio::test]
async fn users_another_connection_changed_are_read_again() {
    let test = fresh_sqlite_store("US").await;
    let store = &test.store;
    let mut customer = NewUser::new(Role::EndUser, "Cincinnati");
    customer.phones = vec![(PhoneKind::Phone, "+1 513 555 7611".into())];
    let customer = store.create_user(customer).await.unwrap();
    let agent = store.create_user(NewUser::new(Role::Agent, "Alice Agent")).await.unwrap();
    let (customer_id, agent_id) = (customer.id, agent.id);

    // What one batch reads: the customer by id and by number, the agent by name.
    type Seen = (Option<String>, Vec<Id>, Vec<Id>, Option<Id>);
    let seen = async || -> Seen {
        let (told, seen) = std::sync::mpsc::channel();
        let look: Work = Box::new(move |ledger| {
            now(async {
                let ids = |matches: Vec<ctihub_store::CallerMatch>| matches.into_iter().map(|m| m.user.id).collect();
                told.send((
                    ledger.find_user(customer_id).await?.map(|u| u.name),
                    ids(ledger.identify_caller("+1 513 555 7611").await?),
                    ids(ledger.identify_caller("+1 513 555 9999").await?),
                    ledger.find_staff_by_name("alice agent").await?.map(|u| u.id),
                ))
                .unwrap();
                Ok(None)
            })
        });
        run(store, look).await;
        seen.recv().unwrap()
    };
    assert_eq!(seen().await, (Some("Cincinnati".into()), vec![customer_id], vec![], Some(agent_id)));
    assert_eq!(seen().await, (Some("Cincinnati".into()), vec![customer_id], vec![], Some(agent_id)), "known now");

    let patch = UserPatch {
        name: Some("Cincinnati Bell".into()),
        phones: Some(vec![(PhoneKind::Phone, "+1 513 555 9999".into())]),
        ..UserPatch::default()
    };
    store.update_user(customer_id, patch).await.unwrap();
    store.update_user(agent_id, UserPatch { name: Some("Alice Other".into()), ..UserPatch::default() }).await.unwrap();
    assert_eq!(seen().await, (Some("Cincinnati Bell".into()), vec![], vec![customer_id], None));
}
