use ctihub_domain::user::{NewUser, Role};
use ctihub_store::{BackendKind, ClusterNode, WhenLocked};

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
async fn a_console_is_open_while_its_stream_is_on_a_live_node_and_its_session_holds() {
    on_each_backend("DE", async |store| {
        let agent = store.create_user(NewUser::new(Role::Agent, "Anna")).await.unwrap();
        let now = 1_000 * HOUR;
        let beat = 2_000;
        let node = |id: &str| ClusterNode {
            id: id.into(),
            address: "127.0.0.1:8080".into(),
            version: "test".into(),
            started_at: now,
            seen_at: now,
        };
        store.beat_node(&node("node-a"), now).await.unwrap();
        store.beat_node(&node("node-b"), now).await.unwrap();
        store.create_console_session(agent.id, "session-a", now, now + HOUR).await.unwrap();
        assert!(!store.has_open_console(agent.id, now, now - 3 * beat).await.unwrap(), "signed in, no stream yet");

        store.open_console_stream("stream-1", "node-a", agent.id, "session-a", now).await.unwrap();
        assert!(store.has_open_console(agent.id, now, now - 3 * beat).await.unwrap());

        // Node A stops beating (killed): a few beats later its streams stop counting, while a
        // stream on node B, which goes on beating, does.
        let later = now + 4 * beat;
        store.beat_node(&node("node-b"), later).await.unwrap();
        assert!(!store.has_open_console(agent.id, later, later - 3 * beat).await.unwrap(), "node A is dead");
        store.open_console_stream("stream-2", "node-b", agent.id, "session-a", later).await.unwrap();
        assert!(store.has_open_console(agent.id, later, later - 3 * beat).await.unwrap());

        // A sweep forgets the dead node and its streams; the live one stays.
        assert_eq!(store.sweep_dead_nodes(later - 3 * beat).await.unwrap(), 1);
        let live = store.live_nodes(0).await.unwrap();
        assert_eq!(live.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["node-b"]);

        // A stream that ends stops counting, and so does one whose session expired.
        store.close_console_stream("stream-2").await.unwrap();
        assert!(!store.has_open_console(agent.id, later, later - 3 * beat).await.unwrap());
        store.open_console_stream("stream-3", "node-b", agent.id, "session-a", later).await.unwrap();
        store.beat_node(&node("node-b"), now + HOUR).await.unwrap();
        assert!(!store.has_open_console(agent.id, now + HOUR, now + HOUR - 3 * beat).await.unwrap());

        // A node leaving on purpose takes its streams along.
        store.create_console_session(agent.id, "session-b", now, now + 2 * HOUR).await.unwrap();
        store.open_console_stream("stream-4", "node-b", agent.id, "session-b", later).await.unwrap();
        assert!(store.has_open_console(agent.id, now + HOUR, now + HOUR - 3 * beat).await.unwrap());
        store.remove_node("node-b").await.unwrap();
        assert!(!store.has_open_console(agent.id, now + HOUR, 0).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn rate_limit_hits_add_up_across_nodes_per_key_and_window() {
    on_each_backend("DE", async |store| {
        let window = 60_000;
        let totals = store.add_rate_limit_hits(window, &[("a".into(), 3), ("b".into(), 1)]).await.unwrap();
        assert_eq!(totals, [3, 1]);
        // Another node adds its own count for the same window: both see the sum.
        let totals = store.add_rate_limit_hits(window, &[("a".into(), 2)]).await.unwrap();
        assert_eq!(totals, [5]);
        assert_eq!(store.add_rate_limit_hits(2 * window, &[("a".into(), 1)]).await.unwrap(), [1], "a new window");
        assert_eq!(store.purge_rate_limit_counts(2 * window).await.unwrap(), 2);
        assert_eq!(store.add_rate_limit_hits(2 * window, &[("a".into(), 1)]).await.unwrap(), [2]);
    })
    .await;
}

#[tokio::test]
async fn an_exclusive_task_runs_on_one_node_at_a_time() {
    on_each_backend("DE", async |store| {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let running = Arc::new(AtomicU32::new(0));
        let task = |store: ctihub_store::Store, running: Arc<AtomicU32>| async move {
            store
                .exclusively("test-task", WhenLocked::Skip, async {
                    running.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    Ok(running.fetch_sub(1, Ordering::SeqCst))
                })
                .await
                .unwrap()
        };
        let (a, b) = tokio::join!(task(store.clone(), running.clone()), task(store.clone(), running.clone()));
        if store.kind() == BackendKind::Postgres {
            // One ran alone, the other found it locked and skipped.
            let ran: Vec<_> = [a, b].into_iter().flatten().collect();
            assert_eq!(ran, [1], "exactly one ran, and alone");
        } else {
            assert!(a.is_some() && b.is_some(), "one node on SQLite: nothing to exclude");
        }
        // Released afterwards: the next run takes the lock, and a waiting task runs too.
        assert!(task(store.clone(), running.clone()).await.is_some());
        let waited = store.exclusively("test-task", WhenLocked::Wait, async { Ok(7) }).await.unwrap();
        assert_eq!(waited, Some(7));
    })
    .await;
}
