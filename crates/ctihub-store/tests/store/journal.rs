use std::collections::BTreeMap;

use ctihub_domain::call::{CallData, Direction, ExternalRef};
use ctihub_domain::custom_field::{FieldTarget, FieldType, NewCustomField};
use ctihub_domain::phone::{CallerLevel, PhoneKind};
use ctihub_domain::ticket::{NewComment, NewTicket};
use ctihub_domain::user::{NewUser, Role, UserPatch};
use ctihub_store::{JournalFilter, Presence};
use serde_json::json;

use crate::helpers::on_each_backend;

fn call(direction: Direction, from: &str, to: &str, queue: &str, started_at: i64) -> CallData {
    let mut data = CallData::new(direction, from, to, started_at);
    data.queue_name = Some(queue.into());
    data.done = direction == Direction::Outbound;
    data
}

#[tokio::test]
async fn journal_lists_newest_first_with_filters_and_marks_done() {
    on_each_backend("DE", async |store| {
        let a = store
            .create_call(&call(Direction::Inbound, "0301111111", "4930600", "support", 1_000), &[], None)
            .await
            .unwrap();
        let b = store
            .create_call(&call(Direction::Outbound, "4930600", "0302222222", "sales", 2_000), &[], None)
            .await
            .unwrap();
        let c = store
            .create_call(
                &call(Direction::Inbound, "0303333333", "4930600", "support", 3_000),
                &[ExternalRef::new("zammad", "c")],
                None,
            )
            .await
            .unwrap();

        let all = store.list_journal(&JournalFilter::default(), 60).await.unwrap();
        assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c.id, b.id, a.id]);

        let open = JournalFilter { done: Some(false), ..Default::default() };
        assert_eq!(store.count_journal(&open).await.unwrap(), 2);
        let inbound_support = JournalFilter {
            direction: Some(Direction::Inbound),
            queue: Some("support".into()),
            since: Some(2_000),
            ..Default::default()
        };
        assert_eq!(
            store.list_journal(&inbound_support, 60).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![c.id]
        );
        let page2 = JournalFilter { before_id: Some(b.id), ..Default::default() };
        assert_eq!(store.list_journal(&page2, 60).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), vec![a.id]);
        let mapped = JournalFilter { queues: Some(vec!["sales".into()]), ..Default::default() };
        assert_eq!(store.list_journal(&mapped, 60).await.unwrap().len(), 1);
        let nothing = JournalFilter { queues: Some(vec![]), ..Default::default() };
        assert!(store.list_journal(&nothing, 60).await.unwrap().is_empty());

        assert_eq!(store.set_calls_done(&[a.id], true).await.unwrap(), 1);
        assert_eq!(store.count_journal(&open).await.unwrap(), 1);
        let changed = store.set_done_matching(&open, true).await.unwrap();
        assert_eq!(changed, vec![c.id]);
        assert_eq!(store.count_journal(&open).await.unwrap(), 0);

        // Retention counts from when a call was stored, not when it started. (The pause makes
        // sure the last call is stored in a later millisecond than the others.)
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let stored_later =
            store.create_call(&call(Direction::Inbound, "0304444444", "4930600", "q", 500), &[], None).await.unwrap();
        assert_eq!(store.purge_calls_before(stored_later.created_at).await.unwrap(), 3);
        let left = store.list_journal(&JournalFilter::default(), 60).await.unwrap();
        assert_eq!(left.iter().map(|c| c.id).collect::<Vec<_>>(), vec![stored_later.id]);
    })
    .await;
}

#[tokio::test]
async fn numbers_customers_write_are_maybe_matches_ranked_after_known() {
    on_each_backend("DE", async |store| {
        let writer = store.create_user(NewUser::new(Role::EndUser, "Writer")).await.unwrap();
        let agent = store.create_user(NewUser::new(Role::Agent, "Agent")).await.unwrap();
        store
            .create_ticket(NewTicket {
                subject: "Printer".into(),
                requester_id: writer.id,
                first_comment: Some(NewComment {
                    author_id: writer.id,
                    body: "It is broken.\n--\nWriter GmbH, Fon: +49 (0)30 5557-1600".into(),
                    public: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        // A number an agent writes on the customer's behalf says nothing about the customer.
        store
            .create_ticket(NewTicket {
                subject: "Other".into(),
                requester_id: writer.id,
                submitter_id: Some(agent.id),
                first_comment: Some(NewComment {
                    author_id: agent.id,
                    body: "Call 0170 9999999".into(),
                    public: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(store.identify_caller("01709999999").await.unwrap().is_empty());

        let found = store.identify_caller("030 55571600").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].user.id, found[0].level), (writer.id, CallerLevel::Maybe));

        let mut owner = NewUser::new(Role::EndUser, "Owner");
        owner.phones = vec![(PhoneKind::Work, "+49 30 55571600".into())];
        let owner = store.create_user(owner).await.unwrap();
        let found = store.identify_caller("+493055571600").await.unwrap();
        assert_eq!(
            found.iter().map(|m| (m.user.id, m.level)).collect::<Vec<_>>(),
            vec![(owner.id, CallerLevel::Known), (writer.id, CallerLevel::Maybe)]
        );
    })
    .await;
}

#[tokio::test]
async fn phone_custom_fields_and_extensions_are_known_numbers() {
    on_each_backend("US", async |store| {
        store
            .create_custom_field(NewCustomField {
                target: FieldTarget::User,
                key: "fax".into(),
                title: "Fax".into(),
                field_type: FieldType::Phone,
                description: None,
                options: vec![],
            })
            .await
            .unwrap();
        let mut u = NewUser::new(Role::EndUser, "Fax Owner");
        u.custom_fields = BTreeMap::from([("fax".to_string(), json!("(212) 555-0100"))]);
        let u = store.create_user(u).await.unwrap();
        assert_eq!(store.identify_caller("2125550100").await.unwrap()[0].user.id, u.id);

        let mut agent = NewUser::new(Role::Agent, "Desk");
        agent.extension = Some("4711".into());
        let agent = store.create_user(agent).await.unwrap();
        assert_eq!(store.identify_caller("4711").await.unwrap()[0].user.id, agent.id);
        assert!(
            store.identify_caller("+1 212 555 4711").await.unwrap().is_empty(),
            "extensions never match external numbers"
        );
    })
    .await;
}

#[tokio::test]
async fn calls_are_reattributed_when_a_user_gains_or_loses_the_number() {
    on_each_backend("US", async |store| {
        let earlier = store
            .create_call(&call(Direction::Inbound, "513-555-7611", "8005550100", "q", 1_000), &[], None)
            .await
            .unwrap();
        assert_eq!(earlier.data.end_user_id, None);
        let mut caller = NewUser::new(Role::EndUser, "Late Caller");
        caller.phones = vec![(PhoneKind::Mobile, "+1 513 555 7611".into())];
        let caller = store.create_user(caller).await.unwrap();
        assert_eq!(store.get_call(earlier.id).await.unwrap().data.end_user_id, Some(caller.id));
        let found = store.identify_keys(&["+15135557611".into(), "+15135557611".into(), "999".into()]).await.unwrap();
        assert_eq!(found["+15135557611"][0].user.id, caller.id);
        assert!(!found.contains_key("999"));

        store.update_user(caller.id, UserPatch { phones: Some(vec![]), ..Default::default() }).await.unwrap();
        assert_eq!(store.get_call(earlier.id).await.unwrap().data.end_user_id, None);
    })
    .await;
}

#[tokio::test]
async fn hub_events_replay_in_order_and_presence_is_kept() {
    on_each_backend("US", async |store| {
        assert_eq!(store.last_hub_event_id().await.unwrap(), 0);
        let all = store.publish_hub_event("list_changed", None, &json!({})).await.unwrap();
        let one = store.publish_hub_event("incoming_call", Some(&[7]), &json!({"call_id": 1})).await.unwrap();
        assert!(all.is_for(7) && all.is_for(8));
        assert!(one.is_for(7) && !one.is_for(8));
        let replay = store.hub_events_after(0, 10).await.unwrap();
        assert_eq!(replay, vec![all.clone(), one.clone()]);
        assert_eq!(store.hub_events_after(all.id, 10).await.unwrap(), vec![one.clone()]);
        assert_eq!(store.last_hub_event_id().await.unwrap(), one.id);
        assert_eq!(store.purge_hub_events_before(one.created_at + 1).await.unwrap(), 2);

        let agent = store.create_user(NewUser::new(Role::Agent, "Agent")).await.unwrap();
        store.set_presence(agent.id, Presence::DoNotDisturb).await.unwrap();
        store.set_presence(agent.id, Presence::Away).await.unwrap();
        assert_eq!(store.list_presence().await.unwrap(), vec![(agent.id, Presence::Away)]);
        assert_eq!(store.find_staff_by_name("AGENT").await.unwrap().unwrap().id, agent.id);
        assert!(store.find_staff_by_name("nobody").await.unwrap().is_none());
    })
    .await;
}
