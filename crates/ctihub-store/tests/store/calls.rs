use ctihub_domain::call::{CallData, CallState, CompletionStatus, Direction, ExternalRef, NewCallEvent};
use ctihub_store::StoreError;
use serde_json::json;

use crate::helpers::on_each_backend;

fn event(kind: &str, at: i64) -> NewCallEvent {
    NewCallEvent { source: "zammad".into(), kind: kind.into(), payload: json!({"event": kind}), occurred_at: at }
}

#[tokio::test]
async fn calls_are_found_by_any_external_id_and_keep_their_events() {
    on_each_backend("US", async |store| {
        let mut data = CallData::new(Direction::Inbound, "+1 513 555 7611", "+18005550100", 1_000);
        data.queue_name = Some("support".into());
        data.details.insert("app_id".into(), json!(735264019863524_i64));
        let call = store
            .create_call(&data, &[ExternalRef::new("zammad", "c-1")], Some(&event("newCall", 1_000)))
            .await
            .unwrap();
        assert_eq!(call.data, data);
        assert_eq!(call.external_refs, vec![ExternalRef::new("zammad", "c-1")]);

        store.add_call_ref(call.id, &ExternalRef::new("freshdesk", "ref-9")).await.unwrap();
        let by_zammad = store.find_call_by_ref("zammad", "c-1").await.unwrap().unwrap();
        let by_freshdesk = store.find_call_by_ref("freshdesk", "ref-9").await.unwrap().unwrap();
        assert_eq!(by_zammad.id, call.id);
        assert_eq!(by_freshdesk.id, call.id);
        assert_eq!(by_freshdesk.external_refs.len(), 2);
        assert!(store.find_call_by_ref("zammad", "ref-9").await.unwrap().is_none(), "ids are per source");

        let clash = store.create_call(&data, &[ExternalRef::new("zammad", "c-1")], None).await;
        assert!(matches!(clash, Err(StoreError::Conflict { field, .. }) if field == "external_id"));

        let mut answered = call.data.clone();
        answered.state = CallState::InProgress;
        answered.answered_at = Some(5_000);
        store.update_call(call.id, &answered, Some(&event("answer", 5_000))).await.unwrap();
        let mut ended = answered.clone();
        ended.state = CallState::Ended;
        ended.ended_at = Some(65_000);
        ended.completion_status = Some(CompletionStatus::Completed);
        ended.hangup_cause = Some("normalClearing".into());
        ended.talk_time = Some(60);
        let done = store.update_call(call.id, &ended, Some(&event("hangup", 65_000))).await.unwrap();
        assert_eq!(done.data, ended);
        assert!(done.updated_at >= call.updated_at);

        let events = store.list_call_events(call.id).await.unwrap();
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), vec!["newCall", "answer", "hangup"]);
        assert_eq!(events[1].payload, json!({"event": "answer"}));
        let extra = store.append_call_event(call.id, &event("hangup", 66_000)).await.unwrap();
        assert_eq!(extra.kind, "hangup");
        assert_eq!(store.list_call_events(call.id).await.unwrap().len(), 4);

        assert!(matches!(store.update_call(call.id + 10_000, &ended, None).await, Err(StoreError::NotFound { .. })));
    })
    .await;
}

#[tokio::test]
async fn events_for_unknown_calls_wait_for_them_and_are_purged_with_old_calls() {
    on_each_backend("US", async |store| {
        let early = ExternalRef::new("freshdesk", "ref-early");
        store.park_call_event(&early, &event("pop", 1_000)).await.unwrap();
        store.park_call_event(&early, &event("pop", 2_000)).await.unwrap();
        assert_eq!(store.parked_call_events(&early).await.unwrap(), 2);

        // A ref added to an existing call adopts what waited for it.
        let data = CallData::new(Direction::Inbound, "+1 513 555 7611", "+18005550100", 3_000);
        let call = store.create_call(&data, &[ExternalRef::new("zammad", "z-1")], Some(&event("newCall", 3_000))).await;
        let call = call.unwrap();
        store.add_call_ref(call.id, &early).await.unwrap();
        let kinds: Vec<String> = store.list_call_events(call.id).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["pop", "pop", "newCall"]);
        assert_eq!(store.parked_call_events(&early).await.unwrap(), 0);

        // One that never finds its call goes when calls of its time are purged.
        let orphan = ExternalRef::new("sipgate", "gone");
        store.park_call_event(&orphan, &event("dtmf", 1_000)).await.unwrap();
        store.purge_calls_before(ctihub_domain::time::now_millis() + 1).await.unwrap();
        assert_eq!(store.parked_call_events(&orphan).await.unwrap(), 0);
    })
    .await;
}
