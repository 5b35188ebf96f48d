use std::collections::BTreeMap;

use ctihub_domain::custom_field::{FieldOption, FieldTarget, FieldType, NewCustomField};
use ctihub_domain::organization::{NewGroup, NewOrganization};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{Email, NewUser, Role, UserPatch};
use ctihub_store::{StoreError, UserFilter};
use serde_json::json;

use crate::helpers::on_each_backend;

fn end_user(name: &str) -> NewUser {
    NewUser::new(Role::EndUser, name)
}

#[tokio::test]
async fn users_round_trip_with_phones_tags_and_custom_fields() {
    on_each_backend("US", async |store| {
        store
            .create_custom_field(NewCustomField {
                target: FieldTarget::User,
                key: "agentID".into(),
                title: "Agent ID".into(),
                field_type: FieldType::Integer,
                description: None,
                options: vec![],
            })
            .await
            .unwrap();
        let org =
            store.create_organization(NewOrganization { name: "Acme".into(), ..Default::default() }).await.unwrap();
        let mut new = end_user("Jane Caller");
        new.email = Some(Email::parse("Jane@Example.com").unwrap());
        new.phones = vec![(PhoneKind::Phone, "+1 513.555.7611".into()), (PhoneKind::Mobile, "(513) 555-0199".into())];
        new.organization_id = Some(org.id);
        new.tags = vec!["VIP".into(), "gold vip".into()];
        new.custom_fields = BTreeMap::from([("agentID".to_string(), json!("1234"))]);
        new.external_id = Some("crm-7".into());
        let user = store.create_user(new).await.unwrap();

        let read = store.get_user(user.id).await.unwrap();
        assert_eq!(read, user);
        assert_eq!(read.role, Role::EndUser);
        assert_eq!(read.email.as_deref(), Some("Jane@Example.com"));
        assert_eq!(read.phone_of(PhoneKind::Mobile), Some("(513) 555-0199"));
        assert_eq!(read.phones[0].key.as_ref().unwrap().as_str(), "+15135557611");
        assert_eq!(read.tags, vec!["vip", "gold"]);
        assert_eq!(read.custom_fields["agentID"], json!(1234));
        assert_eq!(read.organization_id, Some(org.id));
        assert!(read.active);
        assert!(read.id > 0 && read.id < (1 << 53));

        assert_eq!(store.find_user_by_email("jane@EXAMPLE.com").await.unwrap().unwrap().id, user.id);
        assert_eq!(store.find_user_by_external_id("crm-7").await.unwrap().unwrap().id, user.id);
        assert!(store.find_user_by_email("nobody@example.com").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn emails_are_unique_ignoring_case_but_optional() {
    on_each_backend("US", async |store| {
        let mut a = end_user("A");
        a.email = Some(Email::parse("a@example.com").unwrap());
        store.create_user(a).await.unwrap();
        let mut b = end_user("B");
        b.email = Some(Email::parse("A@EXAMPLE.COM").unwrap());
        match store.create_user(b).await {
            Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "email"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        // End-users may have no e-mail, any number of them.
        store.create_user(end_user("No mail 1")).await.unwrap();
        store.create_user(end_user("No mail 2")).await.unwrap();
        let (all, total) = store.list_users(&UserFilter::default(), 0, 10).await.unwrap();
        assert_eq!(total, 3);
        assert_eq!(all.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn nameless_users_and_unknown_fields_are_rejected() {
    on_each_backend("US", async |store| {
        match store.create_user(end_user("  ")).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, "name"),
            other => panic!("expected invalid name, got {other:?}"),
        }
        let mut new = end_user("X");
        new.custom_fields.insert("nope".into(), json!(1));
        match store.create_user(new).await {
            Err(StoreError::Invalid(e)) => assert!(e.message.contains("not a defined custom field"), "{e}"),
            other => panic!("expected invalid field, got {other:?}"),
        }
        let mut new = end_user("Y");
        new.organization_id = Some(999_999);
        assert!(matches!(store.create_user(new).await, Err(StoreError::Invalid(e)) if e.field == "organization_id"));
    })
    .await;
}

#[tokio::test]
async fn updates_replace_phones_and_reindex() {
    on_each_backend("US", async |store| {
        let mut new = end_user("Mover");
        new.phones = vec![(PhoneKind::Phone, "513-555-7611".into())];
        let user = store.create_user(new).await.unwrap();
        assert_eq!(store.identify_caller("5135557611").await.unwrap().len(), 1);

        let patch = UserPatch {
            phones: Some(vec![(PhoneKind::Work, "+1 212 555 0147".into())]),
            name: Some("Mover Moved".into()),
            ..Default::default()
        };
        let updated = store.update_user(user.id, patch).await.unwrap();
        assert_eq!(updated.name, "Mover Moved");
        assert!(updated.updated_at >= user.updated_at);
        assert!(store.identify_caller("5135557611").await.unwrap().is_empty(), "old number still indexed");
        let found = store.identify_caller("(212) 555-0147").await.unwrap();
        assert_eq!(found[0].user.id, user.id);
    })
    .await;
}

#[tokio::test]
async fn agents_have_unique_call_center_ids_and_join_groups() {
    on_each_backend("US", async |store| {
        let mut agent = NewUser::new(Role::Agent, "Agent Smith");
        agent.email = Some(Email::parse("smith@example.com").unwrap());
        agent.agent_id = Some("4711".into());
        agent.extension = Some("201".into());
        agent.password_hash = Some("$argon2id$fake".into());
        let agent = store.create_user(agent).await.unwrap();
        assert_eq!(store.find_agent_by_agent_id("4711").await.unwrap().unwrap().id, agent.id);
        assert_eq!(agent.password_hash.as_deref(), Some("$argon2id$fake"));

        let mut clash = NewUser::new(Role::Agent, "Clash");
        clash.agent_id = Some("4711".into());
        assert!(
            matches!(store.create_user(clash).await, Err(StoreError::Conflict { field, .. }) if field == "agent_id")
        );

        let group = store.create_group(NewGroup { name: "Support".into(), description: None }).await.unwrap();
        assert!(matches!(
            store.create_group(NewGroup { name: "support".into(), description: None }).await,
            Err(StoreError::Conflict { .. })
        ));
        let m = store.add_group_member(group.id, agent.id, true).await.unwrap();
        assert!(m.is_default);
        store.add_group_member(group.id, agent.id, true).await.unwrap();
        assert_eq!(store.group_members(group.id).await.unwrap().len(), 1);
        let caller = store.create_user(end_user("Caller")).await.unwrap();
        assert!(store.add_group_member(group.id, caller.id, false).await.is_err());
        assert!(store.remove_group_member(group.id, agent.id).await.unwrap());
        assert!(store.group_memberships_of_user(agent.id).await.unwrap().is_empty());
        assert!(!store.admin_exists().await.unwrap());
        store.create_user(NewUser::new(Role::Admin, "Root")).await.unwrap();
        assert!(store.admin_exists().await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn custom_field_definitions_are_validated() {
    on_each_backend("US", async |store| {
        let def = NewCustomField {
            target: FieldTarget::Ticket,
            key: "disposition".into(),
            title: "Disposition".into(),
            field_type: FieldType::Dropdown,
            description: Some("wrap-up code".into()),
            options: vec![FieldOption { name: "Solved".into(), value: "solved".into() }],
        };
        let created = store.create_custom_field(def.clone()).await.unwrap();
        assert_eq!(created.options.len(), 1);
        assert!(matches!(store.create_custom_field(def.clone()).await, Err(StoreError::Conflict { .. })));
        // The same key on the other target is a different field.
        store.create_custom_field(NewCustomField { target: FieldTarget::User, ..def }).await.unwrap();
        assert_eq!(store.list_custom_fields(FieldTarget::Ticket).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn import_keeps_good_rows_and_reports_bad_ones() {
    on_each_backend("US", async |store| {
        let mut existing = end_user("Existing");
        existing.email = Some(Email::parse("taken@example.com").unwrap());
        store.create_user(existing).await.unwrap();

        let mut rows = Vec::new();
        for i in 0..5 {
            let mut u = end_user(&format!("Row {i}"));
            u.email = Some(Email::parse(&format!("row{i}@example.com")).unwrap());
            u.phones = vec![(PhoneKind::Phone, format!("513-555-{:04}", 1000 + i))];
            rows.push(u);
        }
        let mut taken = end_user("Taken");
        taken.email = Some(Email::parse("TAKEN@example.com").unwrap());
        rows.push(taken);
        let mut twice = end_user("Twice");
        twice.email = Some(Email::parse("row0@example.com").unwrap());
        rows.push(twice);
        rows.push(end_user(""));

        let mut lost_org = end_user("Lost");
        lost_org.organization_id = Some(987_654);
        rows.push(lost_org);
        let call = store
            .create_call(
                &ctihub_domain::call::CallData::new(ctihub_domain::call::Direction::Inbound, "513 555 1004", "1", 1),
                &[],
                None,
            )
            .await
            .unwrap();

        let outcomes = store.import_users(rows).await.unwrap();
        assert_eq!(outcomes.len(), 9);
        assert!(matches!(&outcomes[8], Err(StoreError::Invalid(e)) if e.field == "organization_id"));
        let row4 = *outcomes[4].as_ref().unwrap();
        assert_eq!(
            store.get_call(call.id).await.unwrap().data.end_user_id,
            Some(row4),
            "earlier calls get their caller"
        );
        assert!(outcomes[..5].iter().all(Result::is_ok));
        assert!(matches!(&outcomes[5], Err(StoreError::Conflict { field, .. }) if field == "email"));
        assert!(matches!(&outcomes[6], Err(StoreError::Conflict { message, .. }) if message.contains("twice")));
        assert!(matches!(&outcomes[7], Err(StoreError::Invalid(e)) if e.field == "name"));
        let found = store.identify_caller("(513) 555-1003").await.unwrap();
        assert_eq!(found[0].user.name, "Row 3");
        let (_, total) = store.list_users(&UserFilter::default(), 0, 1).await.unwrap();
        assert_eq!(total, 6);
    })
    .await;
}

#[tokio::test]
async fn ids_come_from_one_sequence_and_migrations_rerun() {
    on_each_backend("US", async |store| {
        let user = store.create_user(end_user("One")).await.unwrap();
        let org =
            store.create_organization(NewOrganization { name: "Two".into(), ..Default::default() }).await.unwrap();
        let group = store.create_group(NewGroup { name: "Three".into(), description: None }).await.unwrap();
        assert!(user.id < org.id && org.id < group.id, "one increasing sequence across tables");
        store.migrate().await.expect("migrating twice is a no-op");
        store.ping().await.unwrap();
        store.put_setting("cti", &json!({"enabled": true})).await.unwrap();
        store.put_setting("cti", &json!({"enabled": false})).await.unwrap();
        let value: serde_json::Value = store.get_setting("cti").await.unwrap().unwrap();
        assert_eq!(value, json!({"enabled": false}));
        assert!(store.get_setting::<serde_json::Value>("missing").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn api_tokens_resolve_to_active_users() {
    on_each_backend("US", async |store| {
        let agent = store.create_user(NewUser::new(Role::Agent, "Token Owner")).await.unwrap();
        let token = store.create_api_token(agent.id, Some("pbx"), "hash-1").await.unwrap();
        assert_eq!(token.label.as_deref(), Some("pbx"));
        assert_eq!(store.user_for_token_hash("hash-1").await.unwrap().unwrap().id, agent.id);
        assert!(store.user_for_token_hash("hash-2").await.unwrap().is_none());
        assert_eq!(store.list_api_tokens(agent.id).await.unwrap().len(), 1);
        store.update_user(agent.id, UserPatch { active: Some(false), ..Default::default() }).await.unwrap();
        assert!(store.user_for_token_hash("hash-1").await.unwrap().is_none(), "inactive users lose API access");
        assert!(store.revoke_api_token(token.id).await.unwrap());
    })
    .await;
}
