use ctihub_domain::call::{CallData, Direction};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{NewUser, Role};

use crate::helpers::on_each_backend;

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn console_sessions_expire_slide_and_end_on_sign_out() {
    on_each_backend("DE", async |store| {
        let agent = store.create_user(NewUser::new(Role::Agent, "Anna")).await.unwrap();
        let now = 1_000 * HOUR;
        let session = store.create_console_session(agent.id, "hash-a", now, now + 12 * HOUR).await.unwrap();
        assert_eq!(session.user_id, agent.id);
        assert!(session.id > 0);
        let other = store.create_console_session(agent.id, "hash-b", now, now + HOUR).await.unwrap();
        assert_ne!(other.id, session.id);

        assert_eq!(store.console_session("hash-a", now + HOUR).await.unwrap(), Some(session.clone()));
        assert_eq!(store.console_session("unknown", now).await.unwrap(), None);
        // Expired at exactly its expiry.
        assert_eq!(store.console_session("hash-a", now + 12 * HOUR).await.unwrap(), None);

        // Sliding: later expiry is taken, an earlier one is not, an expired session stays dead.
        assert!(store.extend_console_session(session.id, now + 2 * HOUR, now + 14 * HOUR).await.unwrap());
        assert!(!store.extend_console_session(session.id, now + 2 * HOUR, now + 13 * HOUR).await.unwrap());
        let slid = store.console_session("hash-a", now + 13 * HOUR).await.unwrap().unwrap();
        assert_eq!((slid.seen_at, slid.expires_at), (now + 2 * HOUR, now + 14 * HOUR));
        assert!(!store.extend_console_session(other.id, now + 2 * HOUR, now + 20 * HOUR).await.unwrap());

        assert_eq!(store.purge_expired_console_sessions(now + 2 * HOUR).await.unwrap(), 1);
        assert!(store.delete_console_session("hash-a").await.unwrap());
        assert!(!store.delete_console_session("hash-a").await.unwrap());
        assert_eq!(store.console_session("hash-a", now).await.unwrap(), None);

        store.create_console_session(agent.id, "hash-c", now, now + HOUR).await.unwrap();
        store.create_console_session(agent.id, "hash-d", now, now + HOUR).await.unwrap();
        assert_eq!(store.delete_console_sessions_of(agent.id).await.unwrap(), 2);
        assert_eq!(store.console_session("hash-c", now).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_token_hash_names_one_session_only() {
    on_each_backend("DE", async |store| {
        let agent = store.create_user(NewUser::new(Role::Agent, "Anna")).await.unwrap();
        store.create_console_session(agent.id, "same", 0, HOUR).await.unwrap();
        assert!(store.create_console_session(agent.id, "same", 0, HOUR).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn a_users_calls_are_found_by_their_numbers() {
    on_each_backend("DE", async |store| {
        let mut caller = NewUser::new(Role::EndUser, "Caller");
        caller.phones = vec![(PhoneKind::Phone, "030 55571600".into()), (PhoneKind::Mobile, "0151 23456789".into())];
        let caller = store.create_user(caller).await.unwrap();
        let keys: Vec<String> =
            caller.phones.iter().filter_map(|p| p.key.as_ref().map(|k| k.as_str().to_owned())).collect();
        assert_eq!(keys.len(), 2);
        let first = store
            .create_call(&CallData::new(Direction::Inbound, "493055571600", "200", 1_000), &[], None)
            .await
            .unwrap();
        let second = store
            .create_call(&CallData::new(Direction::Outbound, "200", "015123456789", 2_000), &[], None)
            .await
            .unwrap();
        store.create_call(&CallData::new(Direction::Inbound, "0309999999", "200", 3_000), &[], None).await.unwrap();
        let found: Vec<_> =
            store.calls_with_customer_keys(&keys, 10).await.unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(found, vec![second.id, first.id]);
        assert!(store.calls_with_customer_keys(&[], 10).await.unwrap().is_empty());
    })
    .await;
}
