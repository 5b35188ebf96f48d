//! The agent console in headless Chromium against a live ctihub: sign-in, incoming-call toasts,
//! screen pops, the live journal, do-not-disturb, and a node restart; Freshdesk's widget
//! (`freshdesk`), the softphone slot and click-to-dial (`softphone`). Pop latencies (event POST
//! to element visible) and screenshot paths are written to the test output.

mod board;
mod freshdesk;
mod harness;
mod softphone;
mod tiny;

use std::time::{Duration, Instant};

use ctihub_domain::organization::NewOrganization;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::NewTicket;
use ctihub_domain::user::{NewUser, Role, UserPatch};
use harness::{Console, Node, epoch_ms, report};

const CALLER: &str = "493055571600";
const SECOND: Duration = Duration::from_secs(1);

fn new_call(id: &str) -> String {
    format!("event=newCall&direction=in&from={CALLER}&to=4930600000000&callId={id}&user[]=Support")
}

fn answer(id: &str) -> String {
    format!("event=answer&direction=in&from={CALLER}&to=4930600000000&callId={id}&answeringNumber=201")
}

fn missed(id: &str) -> String {
    format!("event=hangup&direction=in&from={CALLER}&to=4930600000000&callId={id}&cause=cancel")
}

/// An agent on extension 201 and a known caller with an organization and an open ticket.
async fn desk_and_caller(console: &Console) -> (ctihub_domain::user::User, ctihub_domain::user::User) {
    let store = console.store();
    let agent = console.user(Role::Agent, "Dana Desk", "dana@example.com", "dana password").await;
    store.update_user(agent.id, UserPatch { extension: Some(Some("201".into())), ..Default::default() }).await.unwrap();
    let org =
        store.create_organization(NewOrganization { name: "Muster GmbH".into(), ..Default::default() }).await.unwrap();
    let mut caller = NewUser::new(Role::EndUser, "Erika Mustermann");
    caller.phones = vec![(PhoneKind::Phone, "030 55571600".into())];
    caller.organization_id = Some(org.id);
    let caller = store.create_user(caller).await.unwrap();
    store
        .create_ticket(NewTicket {
            subject: "Printer on fire".into(),
            description: "It smokes.".into(),
            requester_id: caller.id,
            ..Default::default()
        })
        .await
        .unwrap();
    console.enable_cti().await;
    (agent, caller)
}

/// How long after `posted_at` (epoch ms) the page stamped the element as shown.
async fn shown_after(console: &Console, css: &str, posted_at: i64) -> i64 {
    let element = console.find(css).await;
    let shown: i64 = element.attr("data-shown-at").await.unwrap().expect("data-shown-at").parse().unwrap();
    shown - posted_at
}

#[tokio::test]
async fn agents_sign_in_and_out() {
    let console = Console::start().await;
    console.user(Role::Agent, "Dana Desk", "dana@example.com", "dana password").await;

    console.goto("/console/journal").await;
    console.find("#email").await;
    assert!(console.browser.current_url().await.unwrap().as_str().contains("/console/login?next="));
    console.find("#email").await.send_keys("dana@example.com").await.unwrap();
    console.find("#password").await.send_keys("not the password").await.unwrap();
    console.find("#sign-in").await.click().await.unwrap();
    console.wait_for_text("#signin-error", "Wrong e-mail or password", SECOND * 5).await;

    console.sign_in("dana@example.com", "dana password").await;
    console.wait_for_text("h1", "Caller journal", SECOND * 5).await;
    console.find("#sign-out").await.click().await.unwrap();
    console.find("#email").await;
    // The old session is gone on the server: the journal sends us back to the sign-in form.
    console.goto("/console/journal").await;
    console.find("#sign-in").await;
    console.close().await;
}

#[tokio::test]
async fn a_call_rings_pops_the_caller_card_and_files_a_ticket_while_the_journal_follows() {
    let console = Console::start().await;
    desk_and_caller(&console).await;
    console.sign_in("dana@example.com", "dana password").await;

    // Ringing: a toast for the agent, and the journal shows the call as it happens.
    let posted = epoch_ms();
    let started = Instant::now();
    console.push(&new_call("e2e-1")).await;
    console.wait_for(".toast[data-call-id]", SECOND * 5).await;
    let seen = started.elapsed();
    let toast_ms = shown_after(&console, ".toast[data-call-id]", posted).await;
    report(&format!("incoming-call toast: {toast_ms} ms after the event POST (WebDriver saw it after {seen:?})"));
    console.wait_for_text("#journal-list tr.state-ringing", "Erika Mustermann", SECOND * 5).await;

    // Answered on extension 201: the caller card pops with everything about the caller.
    let posted = epoch_ms();
    let started = Instant::now();
    console.push(&answer("e2e-1")).await;
    console.wait_for_text("#pop .caller-name", "Erika Mustermann", SECOND * 5).await;
    let seen = started.elapsed();
    let pop_ms = shown_after(&console, "#pop", posted).await;
    report(&format!("screen pop (Zammad answer): {pop_ms} ms after the event POST (WebDriver saw it after {seen:?})"));
    assert_eq!(console.count(".toast").await, 0, "the pop replaces the ringing toast");
    console.wait_for_text("#pop .org", "Muster GmbH", SECOND).await;
    console.wait_for_text("#pop .tickets", "Printer on fire", SECOND).await;
    report(&format!("screenshot: {}", console.screenshot("pop").await.display()));

    // Missed calls wait for a callback; they are marked done one by one or all at once.
    console.push(&new_call("e2e-2")).await;
    console.push(&missed("e2e-2")).await;
    console.push(&new_call("e2e-3")).await;
    console.push(&missed("e2e-3")).await;
    console.wait_for("#open-count[data-count='2']", SECOND * 5).await;
    console.find("#journal-list tr.open .mark-done").await.click().await.unwrap();
    console.wait_for("#open-count[data-count='1']", SECOND * 5).await;
    report(&format!("screenshot: {}", console.screenshot("journal").await.display()));
    console.find("#mark-all").await.click().await.unwrap();
    console.wait_for("#open-count[data-count='0']", SECOND * 5).await;
    assert_eq!(console.count("#journal-list tr.open").await, 0);

    // The notepad becomes a private note on the new ticket, which the call is linked to.
    console.find("#notepad").await.send_keys("Wants a callback about invoice 4711").await.unwrap();
    console.find("#pop-new-ticket").await.click().await.unwrap();
    console.wait_for_text("#ticket-subject", "Call from 493055571600", SECOND * 5).await;
    console.wait_for_text(".comment.voice .voice-part", "+49 30 55571600", SECOND).await;
    console.wait_for_text(".comment.private .body", "Wants a callback about invoice 4711", SECOND).await;
    let call = console.store().find_call_by_ref("zammad", "e2e-1").await.unwrap().unwrap();
    let ticket_id = call.data.ticket_id.expect("the call is linked to the new ticket");
    assert!(console.browser.current_url().await.unwrap().as_str().ends_with(&format!("/console/tickets/{ticket_id}")));
    report(&format!("screenshot: {}", console.screenshot("ticket").await.display()));

    // Status changes and replies from the ticket page.
    console.find("#ticket-status").await.select_by_value("pending").await.unwrap();
    console.find("#save-ticket").await.click().await.unwrap();
    console.wait_for_text("#ticket-status-badge", "pending", SECOND * 5).await;
    console.find("#reply-body").await.send_keys("We called back.").await.unwrap();
    console.find("#add-comment").await.click().await.unwrap();
    console.wait_for_text(".comment.public .body", "We called back.", SECOND * 5).await;
    console.close().await;
}

#[tokio::test]
async fn an_agent_in_do_not_disturb_gets_no_toast() {
    let console = Console::start().await;
    desk_and_caller(&console).await;
    console.sign_in("dana@example.com", "dana password").await;

    console.find("#presence").await.select_by_value("do_not_disturb").await.unwrap();
    // The board shows the change to everyone, this page included, once the server has it.
    console.wait_for("[data-presence-of].presence-do_not_disturb", SECOND * 5).await;
    console.push(&new_call("dnd-1")).await;
    // The journal still updates live, so events do arrive; the toast alone is withheld.
    console.wait_for_text("#journal-list tr.state-ringing", "Erika Mustermann", SECOND * 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(console.count(".toast").await, 0, "no toast in do-not-disturb");

    console.find("#presence").await.select_by_value("available").await.unwrap();
    console.wait_for("[data-presence-of].presence-available", SECOND * 5).await;
    console.push(&new_call("dnd-2")).await;
    console.wait_for(".toast[data-call-id]", SECOND * 5).await;
    console.close().await;
}

#[tokio::test]
async fn a_console_whose_node_restarts_still_gets_the_pop() {
    let mut console = Console::start().await;
    desk_and_caller(&console).await;
    // A second node on the same database takes the PBX's events while the first is down.
    let other = Node::start(console.db.clone(), None).await;
    console.sign_in("dana@example.com", "dana password").await;

    let addr = console.node.addr;
    console.node.crash();
    console.wait_for("body[data-live='down']", SECOND * 5).await;
    console.push_to(&other, &new_call("restart-1")).await;
    console.push_to(&other, &answer("restart-1")).await;

    let restarted = Instant::now();
    console.node = Node::start(console.db.clone(), Some(addr)).await;
    console.wait_for_text("#pop .caller-name", "Erika Mustermann", SECOND * 10).await;
    report(&format!(
        "screen pop after a node restart: visible {:?} after the node came back (replayed via Last-Event-ID)",
        restarted.elapsed()
    ));
    console.live().await;
    console.close().await;
}

#[tokio::test]
async fn zendesk_display_calls_open_the_ticket_and_the_profile() {
    let console = Console::start().await;
    let (agent, caller) = desk_and_caller(&console).await;
    // The telephony integration, signed in as Zendesk integrations are: e-mail and API token.
    let integration = console.user(Role::Admin, "Telephony", "pbx@example.com", "pbx password").await;
    let token = ctihub_web::auth::secrets::generate_token();
    let hash = ctihub_web::auth::secrets::hash_token(&token);
    console.store().create_api_token(integration.id, Some("pbx"), &hash).await.unwrap();
    let display = async |what: String| {
        let url = console.node.url(&format!("/api/v2/channels/voice/agents/{}/{what}/display.json", agent.id));
        let posted = Instant::now();
        let response = console.http.post(url).basic_auth("pbx@example.com/token", Some(&token)).send().await.unwrap();
        (response.status().as_u16(), posted)
    };
    let (tickets, _) = console.store().tickets_requested_by(caller.id, 0, 1).await.unwrap();
    let ticket = tickets[0].id;

    // No console open yet: nothing can be shown, and the API says so.
    assert_eq!(display(format!("tickets/{ticket}")).await.0, 409);

    console.sign_in("dana@example.com", "dana password").await;
    let (status, posted) = display(format!("tickets/{ticket}")).await;
    assert_eq!(status, 200);
    console.wait_for_text("#ticket-subject", "Printer on fire", SECOND * 5).await;
    report(&format!(
        "screen pop (Zendesk ticket display): ticket page shown {} ms after the POST",
        posted.elapsed().as_millis()
    ));
    report(&format!("screenshot: {}", console.screenshot("zendesk-display-ticket").await.display()));

    console.live().await;
    let (status, posted) = display(format!("users/{}", caller.id)).await;
    assert_eq!(status, 200);
    console.wait_for_text("#user-name", "Erika Mustermann", SECOND * 5).await;
    report(&format!(
        "screen pop (Zendesk user display): profile shown {} ms after the POST",
        posted.elapsed().as_millis()
    ));
    console.close().await;
}
