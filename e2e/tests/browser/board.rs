//! The live board in Chromium: a Zammad push shows up as it rings and is answered, and another
//! agent's presence change shows without a reload.

use std::time::Instant;

use ctihub_domain::user::Role;
use ctihub_store::Presence;

use crate::harness::{Console, report};
use crate::{SECOND, answer, desk_and_caller, new_call};

#[tokio::test]
async fn the_live_board_follows_calls_and_presence() {
    let console = Console::start().await;
    let (dana, _) = desk_and_caller(&console).await;
    let otto = console.user(Role::Agent, "Otto Other", "otto@example.com", "otto password").await;
    console.sign_in("dana@example.com", "dana password").await;
    console.find("a[href='/console/board']").await.click().await.unwrap();
    console.wait_for_text("h1", "Live board", SECOND * 5).await;
    console.live().await;
    console.wait_for_text("#board-calls", "No calls right now.", SECOND).await;

    let started = Instant::now();
    console.push(&new_call("board-1")).await;
    console.wait_for_text("#board-calls tr[data-state='ringing']", "Erika Mustermann", SECOND * 5).await;
    report(&format!("live board: ringing call visible {:?} after the event POST", started.elapsed()));

    console.push(&answer("board-1")).await;
    console.wait_for_text("#board-calls tr[data-state='in_progress']", "Erika Mustermann", SECOND * 5).await;
    let on_call = format!("[data-presence-of='{}'] .on-call", dana.id);
    console.wait_for_text(&on_call, "Erika Mustermann", SECOND * 5).await;

    // Another agent goes to do-not-disturb, as the top bar's select does it.
    let store = console.node.state.store.clone();
    let hub = console.node.state.hub.clone();
    console
        .node
        .run(async move {
            store.set_presence(otto.id, Presence::DoNotDisturb).await.unwrap();
            let change = serde_json::json!({"user_id": otto.id, "status": "do_not_disturb"});
            hub.publish(ctihub_web::hub::kinds::PRESENCE_CHANGED, None, change).await.unwrap();
        })
        .await;
    console.wait_for(&format!("[data-presence-of='{}'].presence-do_not_disturb", otto.id), SECOND * 5).await;
    report(&format!("screenshot: {}", console.screenshot("board").await.display()));

    console
        .push("event=hangup&direction=in&from=493055571600&to=4930600000000&callId=board-1&cause=normalClearing")
        .await;
    console.wait_for_text("#board-calls", "No calls right now.", SECOND * 5).await;
    assert_eq!(console.count("[data-presence-of] .on-call").await, 0);
    console.close().await;
}
