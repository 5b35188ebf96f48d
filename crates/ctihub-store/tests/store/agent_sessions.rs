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
