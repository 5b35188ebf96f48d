use ctihub_domain::user::{NewUser, Role};

use crate::helpers::on_each_backend;

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn an_agent_has_a_live_console_session_until_it_expires_or_ends() {
    on_each_backend("DE", async |store| {
        let agent = store.create_user(NewUser::new(Role::Agent, "Anna")).await.unwrap();
        let other = store.create_user(NewUser::new(Role::Agent, "Ben")).await.unwrap();
        let now = 1_000 * HOUR;
        assert!(!store.has_live_console_session(agent.id, now).await.unwrap());
        store.create_console_session(agent.id, "live-a", now, now + HOUR).await.unwrap();
        assert!(store.has_live_console_session(agent.id, now).await.unwrap());
        assert!(!store.has_live_console_session(other.id, now).await.unwrap(), "sessions are per user");
        assert!(!store.has_live_console_session(agent.id, now + HOUR).await.unwrap(), "expired at its expiry");
        store.delete_console_sessions_of(agent.id).await.unwrap();
        assert!(!store.has_live_console_session(agent.id, now).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_console_is_open_while_its_stream_keeps_saying_so() {
    on_each_backend("DE", async |store| {
        let agent = store.create_user(NewUser::new(Role::Agent, "Anna")).await.unwrap();
        let now = 1_000 * HOUR;
        let minute = 60_000;
        store.create_console_session(agent.id, "stream-a", now, now + HOUR).await.unwrap();
        assert!(!store.has_open_console(agent.id, now, now - minute).await.unwrap(), "signed in, no stream yet");
        store.touch_console_stream("stream-a", now).await.unwrap();
        assert!(store.has_open_console(agent.id, now + 30_000, now + 30_000 - minute).await.unwrap());
        // A browser closed without signing out: the stream stops saying so, and a minute later
        // the console no longer counts as open although the session lives on.
        let later = now + 2 * minute;
        assert!(store.has_live_console_session(agent.id, later).await.unwrap());
        assert!(!store.has_open_console(agent.id, later, later - minute).await.unwrap());
        // An expired session's last stream does not count either.
        store.touch_console_stream("stream-a", now + HOUR - 1).await.unwrap();
        assert!(!store.has_open_console(agent.id, now + HOUR, now).await.unwrap());
    })
    .await;
}
