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
