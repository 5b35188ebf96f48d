use std::collections::BTreeMap;

use ctihub_domain::custom_field::{FieldTarget, FieldType, NewCustomField};
use ctihub_domain::organization::{NewGroup, NewOrganization};
use ctihub_domain::ticket::{Channel, NewComment, NewTicket, Priority, TicketPatch, TicketStatus, Via, VoicePart};
use ctihub_domain::user::{NewUser, Role};
use ctihub_store::StoreError;
use serde_json::json;

use crate::helpers::on_each_backend;

#[tokio::test]
async fn tickets_with_comments_voice_parts_and_custom_fields() {
    on_each_backend("US", async |store| {
        let org =
            store.create_organization(NewOrganization { name: "Acme".into(), ..Default::default() }).await.unwrap();
        let mut requester = NewUser::new(Role::EndUser, "Caller");
        requester.organization_id = Some(org.id);
        let requester = store.create_user(requester).await.unwrap();
        let agent = store.create_user(NewUser::new(Role::Agent, "Agent")).await.unwrap();
        let group = store.create_group(NewGroup { name: "Tier 1".into(), description: None }).await.unwrap();
        store
            .create_custom_field(NewCustomField {
                target: FieldTarget::Ticket,
                key: "talk_time".into(),
                title: "Talk time".into(),
                field_type: FieldType::Integer,
                description: None,
                options: vec![],
            })
            .await
            .unwrap();

        let ticket = store
            .create_ticket(NewTicket {
                subject: "Call from +1 513 555 7611".into(),
                description: "Printer on fire".into(),
                priority: Some(Priority::High),
                requester_id: requester.id,
                assignee_id: Some(agent.id),
                group_id: Some(group.id),
                tags: vec!["Phone".into()],
                custom_fields: BTreeMap::from([("talk_time".to_string(), json!(360))]),
                via: Via { channel: Channel::PhoneInbound, source: json!({"from": {"phone": "+15135557611"}}) },
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(ticket.status, TicketStatus::Open, "assigned tickets start open");
        assert_eq!(ticket.organization_id, Some(org.id), "organization defaults to the requester's");
        assert_eq!(ticket.submitter_id, requester.id);
        assert_eq!(ticket.via.channel.via_id(), 45);
        assert_eq!(ticket.tags, vec!["phone"]);
        assert_eq!(ticket.custom_fields["talk_time"], json!(360));
        assert_eq!(store.get_ticket(ticket.id).await.unwrap(), ticket);

        let comments = store.list_comments(ticket.id).await.unwrap();
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0].body, "Printer on fire");
        assert!(comments[0].public);

        let voice = VoicePart {
            from: Some("+15135557611".into()),
            to: Some("+18005550100".into()),
            recording_url: Some("https://rec.example/1.mp3".into()),
            started_at: Some(1_643_293_900_000),
            duration: Some(345),
            answered_by_id: Some(agent.id),
            transcript: Some("Hello?\nHi.".into()),
            location: Some("Dublin".into()),
            call_id: None,
            call_fields: vec![("queue_name".into(), json!("priority_one"))],
        };
        let note = store
            .add_comment(NewComment {
                ticket_id: ticket.id,
                author_id: agent.id,
                body: "Call recording".into(),
                public: false,
                voice: Some(voice.clone()),
            })
            .await
            .unwrap();
        assert_eq!(note.voice.as_ref(), Some(&voice));
        assert!(!note.public);
        assert_eq!(store.list_comments(ticket.id).await.unwrap().len(), 2);

        let solved = store
            .update_ticket(ticket.id, TicketPatch { status: Some(TicketStatus::Closed), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(solved.status, TicketStatus::Closed);
        let reopen = store
            .update_ticket(ticket.id, TicketPatch { status: Some(TicketStatus::Open), ..Default::default() })
            .await;
        assert!(matches!(reopen, Err(StoreError::Invalid(e)) if e.field == "status"));
    })
    .await;
}

#[tokio::test]
async fn ticket_references_are_checked() {
    on_each_backend("US", async |store| {
        let caller = store.create_user(NewUser::new(Role::EndUser, "Caller")).await.unwrap();
        let new = |requester_id, assignee_id| NewTicket {
            subject: "S".into(),
            description: "D".into(),
            requester_id,
            assignee_id,
            ..Default::default()
        };
        assert!(matches!(store.create_ticket(new(424_242, None)).await, Err(StoreError::Invalid(e)) if e.field == "requester_id"));
        assert!(matches!(store.create_ticket(new(caller.id, Some(caller.id))).await, Err(StoreError::Invalid(e)) if e.field == "assignee_id"));
        let empty = NewTicket { requester_id: caller.id, ..Default::default() };
        assert!(matches!(store.create_ticket(empty).await, Err(StoreError::Invalid(e)) if e.field == "subject"));
        let t = store.create_ticket(new(caller.id, None)).await.unwrap();
        assert_eq!(t.status, TicketStatus::New);
        assert!(matches!(store.get_ticket(t.id + 1000).await, Err(StoreError::NotFound { .. })));
    })
    .await;
}

#[tokio::test]
async fn requested_tickets_are_listed_most_recent_first() {
    on_each_backend("US", async |store| {
        let caller = store.create_user(NewUser::new(Role::EndUser, "Caller")).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let t = store
                .create_ticket(NewTicket {
                    subject: format!("T{i}"),
                    description: "d".into(),
                    requester_id: caller.id,
                    ..Default::default()
                })
                .await
                .unwrap();
            ids.push(t.id);
        }
        let (tickets, total) = store.tickets_requested_by(caller.id, 0, 2).await.unwrap();
        assert_eq!(total, 3);
        assert_eq!(tickets.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ids[2], ids[1]]);
        let (all, total) = store.list_tickets(0, 10).await.unwrap();
        assert_eq!((all.len(), total), (3, 3));
    })
    .await;
}

#[tokio::test]
async fn a_voice_part_is_replaced_and_the_ticket_touched() {
    on_each_backend("US", async |store| {
        let caller = store.create_user(NewUser::new(Role::EndUser, "Caller")).await.unwrap();
        let ticket = store
            .create_ticket(NewTicket {
                subject: "Call".into(),
                description: "d".into(),
                requester_id: caller.id,
                ..Default::default()
            })
            .await
            .unwrap();
        let voice = VoicePart {
            from: Some("+15135557611".into()),
            call_fields: vec![("duration".into(), json!(10))],
            ..Default::default()
        };
        let comment = store
            .add_comment(NewComment {
                ticket_id: ticket.id,
                author_id: caller.id,
                body: "Call recording".into(),
                public: false,
                voice: Some(voice.clone()),
            })
            .await
            .unwrap();
        let before = store.get_ticket(ticket.id).await.unwrap().updated_at;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;

        let mut rerendered = voice.clone();
        rerendered.duration = Some(120);
        rerendered.call_fields = vec![("duration".into(), json!(120))];
        let updated = store.update_comment_voice(comment.id, &rerendered).await.unwrap();
        assert_eq!(updated.voice.as_ref(), Some(&rerendered));
        assert_eq!((updated.body.as_str(), updated.author_id, updated.public), ("Call recording", caller.id, false));
        assert_eq!(store.get_comment(comment.id).await.unwrap(), updated);
        assert!(store.get_ticket(ticket.id).await.unwrap().updated_at > before, "the ticket shows a change");

        let missing = store.update_comment_voice(comment.id + 10_000, &rerendered).await;
        assert!(matches!(missing, Err(StoreError::NotFound { what: "comment" })));
    })
    .await;
}
