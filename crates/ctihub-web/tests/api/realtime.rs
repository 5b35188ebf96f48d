//! What agents' consoles receive while calls happen: incoming calls for the agents concerned,
//! journal changes for those whose journal shows the call, screen pops for the agent who answered; replay after a reconnect;
//! delivery across nodes.

use ctihub_domain::cti::NotifyRule;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::NewTicket;
use ctihub_domain::user::{NewUser, Role, UserPatch};
use serde_json::json;

use crate::helpers::{TestApp, on_each_app_in};
use crate::sse::EventStream;

const FROM: &str = "493055571600";

async fn new_call(app: &TestApp, url: &str, call_id: &str) {
    let body = format!("event=newCall&direction=in&from={FROM}&to=4930600000000&callId={call_id}&user[]=Support");
    assert_eq!(app.push(url, &body).await.0, 200);
}

async fn hangup(app: &TestApp, url: &str, call_id: &str) {
    let body = format!("event=hangup&direction=in&from={FROM}&to=4930600000000&callId={call_id}&cause=cancel");
    assert_eq!(app.push(url, &body).await.0, 200);
}

async fn set_presence(app: &TestApp, token: &str, status: &str) {
    let response = app
        .client
        .put(app.url("/api/hub/presence"))
        .bearer_auth(token)
        .json(&json!({ "status": status }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

fn kinds(events: &[crate::sse::SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn incoming_calls_reach_the_agents_concerned_but_not_those_in_do_not_disturb() {
    on_each_app_in("DE", async |app| {
        let (anna, anna_token) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let (_, ben_token) = app.user(Role::Agent, "ben@example.com", "ben password").await;
        let url = app.enable_cti(|_| {}).await;
        set_presence(app, &ben_token, "do_not_disturb").await;
        let mut anna_stream = EventStream::open(app, &anna_token, None).await;
        let mut ben_stream = EventStream::open(app, &ben_token, None).await;

        new_call(app, &url, "c1").await;
        let seen = anna_stream.until("incoming_call").await;
        let ring = seen.last().unwrap();
        assert_eq!(ring.data["from"], FROM);
        assert_eq!(ring.data["from_pretty"], "+49 30 55571600");
        assert_eq!(ring.data["to_name"], "Support");
        hangup(app, &url, "c1").await;
        // Ben sees the journal change twice (ringing, then missed), never the ringing toast.
        let mut ben_seen = ben_stream.until("journal_changed").await;
        ben_seen.extend(ben_stream.until("journal_changed").await);
        assert!(!kinds(&ben_seen).contains(&"incoming_call"), "do-not-disturb: {:?}", kinds(&ben_seen));

        // With a notify map, only the mapped agents hear the phone.
        app.enable_cti(|c| c.notify_map = vec![NotifyRule { queue: "4930600000000".into(), user_ids: vec![anna.id] }])
            .await;
        set_presence(app, &ben_token, "available").await;
        new_call(app, &url, "c2").await;
        hangup(app, &url, "c2").await;
        let c2 = app.store.find_call_by_ref("zammad", "c2").await.unwrap().unwrap().id;
        // Her journal shows the call: she is told it changed (each `until` waits a bounded time).
        let mut anna_seen = anna_stream.until("incoming_call").await;
        while !anna_seen.iter().any(|e| e.kind == "journal_changed" && e.data == json!({"call_ids": [c2]})) {
            anna_seen.extend(anna_stream.until("journal_changed").await);
        }
        // Ben's journal does not show the queue's calls, so nothing about c2 reaches him: the
        // next thing he sees is Anna's presence change, sent to everybody after the call.
        let ben_own_change = ben_stream.until("presence_changed").await;
        set_presence(app, &anna_token, "away").await;
        let ben_seen = ben_stream.until("presence_changed").await;
        assert_eq!(kinds(&ben_seen), ["presence_changed"], "not mapped; before: {:?}", kinds(&ben_own_change));
    })
    .await;
}

#[tokio::test]
async fn the_answering_agent_gets_the_right_screen() {
    on_each_app_in("DE", async |app| {
        let (agent, token) = app.user(Role::Agent, "desk@example.com", "desk password").await;
        app.store
            .update_user(agent.id, UserPatch { extension: Some(Some("201".into())), ..Default::default() })
            .await
            .unwrap();
        let (other, other_token) = app.user(Role::Agent, "other@example.com", "other password").await;
        let url = app.enable_cti(|_| {}).await;
        let mut stream = EventStream::open(app, &token, None).await;
        let mut other_stream = EventStream::open(app, &other_token, None).await;

        // An unknown caller: a new-ticket screen titled after the number.
        new_call(app, &url, "unknown").await;
        let answer =
            format!("event=answer&direction=in&from={FROM}&to=4930600000000&callId=unknown&answeringNumber=201");
        app.push(&url, &answer).await;
        let pop = stream.until("screen_pop").await.pop().unwrap();
        assert_eq!(pop.data["screen"], "ticket_create");
        assert_eq!(pop.data["title"], format!("Call from {FROM}"));
        assert_eq!(pop.data["customer_id"], serde_json::Value::Null);
        let call = app.store.find_call_by_ref("zammad", "unknown").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, Some(agent.id));

        // A known caller without recent tickets: new ticket for them.
        let mut caller = NewUser::new(Role::EndUser, "Caller");
        caller.phones = vec![(PhoneKind::Phone, "030 55571600".into())];
        let caller = app.store.create_user(caller).await.unwrap();
        new_call(app, &url, "known").await;
        let answer =
            format!("event=answer&direction=in&from={FROM}&to=4930600000000&callId=known&user=other%40example.com");
        app.push(&url, &answer).await;
        let pop = other_stream.until("screen_pop").await.pop().unwrap();
        assert_eq!(
            (pop.data["screen"].as_str(), pop.data["customer_id"].as_i64()),
            (Some("ticket_create"), Some(caller.id))
        );
        assert_eq!(app.store.find_call_by_ref("zammad", "known").await.unwrap().unwrap().data.agent_id, Some(other.id));

        // With a ticket changed recently, the caller's profile.
        app.store
            .create_ticket(NewTicket {
                subject: "Earlier".into(),
                description: "x".into(),
                requester_id: caller.id,
                ..Default::default()
            })
            .await
            .unwrap();
        new_call(app, &url, "recent").await;
        let answer =
            format!("event=answer&direction=in&from={FROM}&to=4930600000000&callId=recent&answeringNumber=201");
        app.push(&url, &answer).await;
        let pop = stream.until("screen_pop").await.pop().unwrap();
        assert_eq!(
            (pop.data["screen"].as_str(), pop.data["user_id"].as_i64()),
            (Some("user_profile"), Some(caller.id))
        );
    })
    .await;
}

#[tokio::test]
async fn a_reconnecting_console_gets_what_it_missed() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app.enable_cti(|_| {}).await;
        let mut stream = EventStream::open(app, &token, None).await;
        new_call(app, &url, "first").await;
        let last_seen = stream.until("incoming_call").await.pop().unwrap().id.unwrap();
        drop(stream);

        hangup(app, &url, "first").await;
        new_call(app, &url, "second").await;
        let mut resumed = EventStream::open(app, &token, Some(last_seen)).await;
        let missed = resumed.until("incoming_call").await;
        assert_eq!(kinds(&missed), vec!["journal_changed", "journal_changed", "incoming_call"]);
        assert!(missed.iter().all(|e| e.id.unwrap() > last_seen));
        assert_eq!(
            missed[2].data["call_id"],
            app.store.find_call_by_ref("zammad", "second").await.unwrap().unwrap().id
        );
    })
    .await;
}

#[tokio::test]
async fn events_published_on_one_node_reach_consoles_on_another() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app.enable_cti(|_| {}).await;
        let node_b = app.another_node().await;
        let mut on_b = EventStream::open(&node_b, &token, None).await;
        new_call(app, &url, "across").await;
        let ring = on_b.until("incoming_call").await.pop().unwrap();
        assert_eq!(ring.data["from"], FROM);
    })
    .await;
}

#[tokio::test]
async fn a_retried_answer_pops_once_even_when_the_first_attempt_died_before_popping() {
    on_each_app_in("DE", async |app| {
        let (agent, token) = app.user(Role::Agent, "desk@example.com", "desk password").await;
        let url = app.enable_cti(|_| {}).await;
        let mut stream = EventStream::open(app, &token, None).await;
        let answer =
            format!("event=answer&direction=in&from={FROM}&to=4930600000000&callId=retried&user=desk%40example.com");

        // A node stored the answer and died before popping it (its hub event never written):
        // here, the answer applied to the call straight through the store.
        new_call(app, &url, "retried").await;
        let call = app.store.find_call_by_ref("zammad", "retried").await.unwrap().unwrap();
        let mut answered = call.data.clone();
        answered.state = ctihub_domain::call::CallState::InProgress;
        answered.answered_at = Some(answered.started_at + 1_000);
        answered.agent_id = Some(agent.id);
        app.store.update_call(call.id, &answered, None).await.unwrap();
        stream.until("incoming_call").await;

        // The PBX, with no answer from the dead node, sends the answer again (anywhere): the
        // pop that is still due comes now, and a further repeat pops nothing more.
        assert_eq!(app.push(&url, &answer).await.0, 200);
        let pop = stream.until("screen_pop").await.pop().unwrap();
        assert_eq!(pop.data["call_id"], call.id);
        assert_eq!(app.push(&url, &answer).await.0, 200);
        let again = stream.next(std::time::Duration::from_millis(500)).await;
        assert!(again.as_ref().is_none_or(|e| e.kind != "screen_pop"), "popped twice: {again:?}");

        // Once the call is over, a late repeat pops nothing either.
        hangup(app, &url, "retried").await;
        assert_eq!(app.push(&url, &answer).await.0, 200);
        while let Some(event) = stream.next(std::time::Duration::from_millis(500)).await {
            assert_ne!(event.kind, "screen_pop", "a pop after the call ended");
        }
    })
    .await;
}

/// Calls recorded by the SQLite event writer and presence changes stored through the pool
/// interleave. A console still gets every event meant for it once, in id order: the writer hands
/// its committed batches to the hub, which reads from the database instead whenever something
/// else committed in between.
#[tokio::test]
async fn interleaved_calls_and_presence_changes_arrive_once_and_in_order() {
    on_each_app_in("DE", async |app| {
        let (anna, token) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let (_, ben_token) = app.user(Role::Agent, "ben@example.com", "ben password").await;
        let url = app.enable_cti(|_| {}).await;
        let mut stream = EventStream::open(app, &token, None).await;
        let before = app.store.last_hub_event_id().await.unwrap();

        for n in 0..6 {
            let call = format!("interleaved-{n}");
            let status = if n % 2 == 0 { "away" } else { "available" };
            tokio::join!(new_call(app, &url, &call), set_presence(app, &ben_token, status));
            tokio::join!(hangup(app, &url, &call), set_presence(app, &ben_token, "available"));
        }

        let stored = app.store.hub_events_after(before, 500).await.unwrap();
        let meant_for_anna: Vec<i64> = stored
            .iter()
            .filter(|e| e.recipients.as_ref().is_none_or(|r| r.contains(&anna.id)))
            .map(|e| e.id)
            .collect();
        assert!(meant_for_anna.len() >= 12, "calls and presence changes: {}", meant_for_anna.len());
        let mut seen = Vec::new();
        while seen.len() < meant_for_anna.len() {
            let event = stream.next(std::time::Duration::from_secs(8)).await;
            let event = event.unwrap_or_else(|| panic!("stalled after {seen:?}; stored {meant_for_anna:?}"));
            seen.push(event.id.expect("every hub event has an id"));
        }
        assert_eq!(seen, meant_for_anna);
        let extra = stream.next(std::time::Duration::from_millis(300)).await;
        assert!(extra.is_none(), "nothing twice: {extra:?}");
    })
    .await;
}

/// More events than the hub reads at once, stored by another node: a console gets every one,
/// once and in order. (Fewer than the hub's broadcast channel holds, 1,024: a bigger burst may
/// outrun a console, which is then told it lagged and replays from `Last-Event-ID`.) On PostgreSQL each comes with an announcement, most of them for events
/// the hub has delivered by then; those must not send it back to the database (reading back
/// from each announced id once swamped 1,000 consoles with repeats in the benchmark).
#[tokio::test]
async fn a_burst_from_another_node_arrives_once_and_in_order() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let mut stream = EventStream::open(app, &token, None).await;
        let node_b = app.another_node().await;
        let mut published = Vec::new();
        for n in 0..800 {
            let event = node_b.store.publish_hub_event("presence_changed", None, &json!({ "n": n })).await.unwrap();
            published.push(event.id);
        }
        let mut seen = Vec::new();
        while seen.len() < published.len() {
            let event = stream.next(std::time::Duration::from_secs(8)).await;
            let event = event.unwrap_or_else(|| panic!("stalled after {} of {}", seen.len(), published.len()));
            assert_ne!(event.kind, "lagged", "the console fell behind after {} events", seen.len());
            seen.push(event.id.unwrap());
        }
        assert_eq!(seen, published);
        let extra = stream.next(std::time::Duration::from_millis(300)).await;
        assert!(extra.is_none(), "nothing twice: {extra:?}");
    })
    .await;
}
