use ctihub_domain::phone::{CallerLevel, PhoneKind};
use ctihub_domain::user::{NewUser, Role, UserPatch};

use crate::helpers::on_each_backend;

fn caller(name: &str, phones: &[(PhoneKind, &str)]) -> NewUser {
    let mut u = NewUser::new(Role::EndUser, name);
    u.phones = phones.iter().map(|(k, p)| (*k, p.to_string())).collect();
    u
}

#[tokio::test]
async fn any_us_spelling_finds_the_stored_number() {
    on_each_backend("US", async |store| {
        let user = store.create_user(caller("Cincinnati", &[(PhoneKind::Phone, "+1 513.555.7611")])).await.unwrap();
        store.create_user(caller("Someone else", &[(PhoneKind::Phone, "+1 513.555.7612")])).await.unwrap();
        for spelling in ["(513) 555-7611", "513-555-7611", "513.555.7611", "5135557611", "+15135557611"] {
            let found = store.identify_caller(spelling).await.unwrap();
            assert_eq!(found.len(), 1, "{spelling}");
            assert_eq!(found[0].user.id, user.id, "{spelling}");
            assert_eq!(found[0].level, CallerLevel::Known);
        }
    })
    .await;
}

#[tokio::test]
async fn any_german_spelling_finds_the_stored_number() {
    on_each_backend("DE", async |store| {
        let user = store.create_user(caller("Berlin", &[(PhoneKind::Work, "030 5557 1600")])).await.unwrap();
        for spelling in ["+49 30 55571600", "0049 30 55571600", "493055571600", "030/5557-1600"] {
            let found = store.identify_caller(spelling).await.unwrap();
            assert_eq!(found.iter().map(|m| m.user.id).collect::<Vec<_>>(), vec![user.id], "{spelling}");
        }
        // A call from an extension of the same line is from the same company.
        let found = store.identify_caller("+49 30 55571600 ext. 12").await.unwrap();
        assert_eq!(found[0].user.id, user.id);
    })
    .await;
}

#[tokio::test]
async fn withheld_numbers_and_garbage_match_nobody() {
    on_each_backend("US", async |store| {
        store.create_user(caller("Has phone", &[(PhoneKind::Phone, "5135557611")])).await.unwrap();
        // Garbage stored as a phone is kept as entered but indexes nothing that a lookup can hit
        // by accident.
        let odd = store.create_user(caller("Odd", &[(PhoneKind::Other, "call me maybe")])).await.unwrap();
        assert_eq!(odd.phones[0].raw, "call me maybe");
        assert!(odd.phones[0].key.is_none());
        for input in ["anonymous", "", "   ", "unknown", "garbage", "sip:alice@pbx", "\u{0}\u{ffff}"] {
            assert!(store.identify_caller(input).await.unwrap().is_empty(), "{input:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn several_users_on_one_number_are_all_listed_once() {
    on_each_backend("US", async |store| {
        let a = store
            .create_user(caller("Reception", &[(PhoneKind::Phone, "513 555 7611"), (PhoneKind::Work, "+15135557611")]))
            .await
            .unwrap();
        let b = store.create_user(caller("Colleague", &[(PhoneKind::Mobile, "513-555-7611")])).await.unwrap();
        let found = store.identify_caller("5135557611").await.unwrap();
        assert_eq!(found.len(), 2, "each user once, even with the number in two fields");
        // Newest user first, whatever was edited last.
        assert_eq!(found[0].user.id, b.id);
        store.update_user(a.id, UserPatch { name: Some("Reception desk".into()), ..Default::default() }).await.unwrap();
        let found = store.identify_caller("5135557611").await.unwrap();
        assert_eq!(found[0].user.id, b.id);
        // Deactivated users are not offered as callers.
        store.update_user(a.id, UserPatch { active: Some(false), ..Default::default() }).await.unwrap();
        let found = store.identify_caller("5135557611").await.unwrap();
        assert_eq!(found.iter().map(|m| m.user.id).collect::<Vec<_>>(), vec![b.id]);
    })
    .await;
}

#[tokio::test]
async fn internal_extensions_match_by_digits() {
    on_each_backend("US", async |store| {
        let mut agent = NewUser::new(Role::Agent, "Desk 201");
        agent.phones = vec![(PhoneKind::Work, "201".into())];
        let agent = store.create_user(agent).await.unwrap();
        assert_eq!(store.identify_caller(" 201 ").await.unwrap()[0].user.id, agent.id);
    })
    .await;
}

#[tokio::test]
async fn changing_the_default_region_rekeys_everything_once() {
    use ctihub_domain::call::{CallData, Direction};
    use ctihub_domain::ticket::{NewComment, NewTicket};

    crate::helpers::on_each_database("US", async |db| {
        let us = &db.store;
        assert_eq!(us.phone_index_region().await.unwrap().as_deref(), Some("US"));
        let berliner = us.create_user(caller("Berliner", &[(PhoneKind::Work, "030 5557 1600")])).await.unwrap();
        let writer = us.create_user(caller("Writer", &[])).await.unwrap();
        us.create_ticket(NewTicket {
            subject: "Hi".into(),
            requester_id: writer.id,
            first_comment: Some(NewComment {
                author_id: writer.id,
                body: "Tel 089 1234567".into(),
                public: true,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
        let call =
            us.create_call(&CallData::new(Direction::Inbound, "030 5557 1600", "100", 1), &[], None).await.unwrap();
        // Read in the US, the national German spelling is just digits.
        assert!(us.identify_caller("+49 30 55571600").await.unwrap().is_empty());

        let de = db.reopen_in("DE").await;
        de.migrate().await.unwrap();
        assert_eq!(de.phone_index_region().await.unwrap().as_deref(), Some("DE"));
        assert_eq!(de.identify_caller("+49 30 55571600").await.unwrap()[0].user.id, berliner.id);
        let user = de.get_user(berliner.id).await.unwrap();
        assert_eq!(user.phones[0].key.as_ref().unwrap().as_str(), "+493055571600");
        let maybe = de.identify_caller("+49 89 1234567").await.unwrap();
        assert_eq!((maybe[0].user.id, maybe[0].level), (writer.id, CallerLevel::Maybe));
        // Migrating again with the same region re-keys nothing.
        assert_eq!(de.align_phone_index().await.unwrap(), None);
        // Calls follow: a user who gains the number in its new form is attributed the call.
        let second = de.create_user(caller("Second", &[(PhoneKind::Mobile, "+49 30 55571600")])).await.unwrap();
        assert_eq!(de.get_call(call.id).await.unwrap().data.end_user_id, Some(second.id));
        de.close().await;
    })
    .await;
}

#[tokio::test]
async fn many_identifications_at_once_all_answer() {
    // More at once than an SQLite file's reader has connections: the rest wait their turn.
    on_each_backend("US", async |store| {
        let user = store.create_user(caller("Busy line", &[(PhoneKind::Phone, "+1 513 555 7611")])).await.unwrap();
        let lookups = (0..50).map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let spelling = if n % 2 == 0 { "513-555-7611" } else { "+1 513 555 7612" };
                (n, store.identify_caller(spelling).await.unwrap())
            })
        });
        for lookup in futures::future::join_all(lookups).await {
            let (n, found) = lookup.unwrap();
            let expected = if n % 2 == 0 { vec![user.id] } else { vec![] };
            assert_eq!(found.iter().map(|m| m.user.id).collect::<Vec<_>>(), expected, "lookup {n}");
        }
    })
    .await;
}
