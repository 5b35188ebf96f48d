//! Freshdesk's CTI pop in Chromium: the widget a pop opens (latency measured), filing the call
//! from it, forwarding it to another agent, and a new pop while the previous call's widget is
//! still open.

use std::time::Instant;

use ctihub_domain::user::{Role, User};
use ctihub_web::auth::secrets;
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::harness::{Console, epoch_ms, report};
use crate::{SECOND, desk_and_caller, shown_after};

const FROM: &str = "+493055571600";

/// An API key for `user`, as a telephony integration holds one.
async fn api_key(console: &Console, user: &User) -> String {
    let key = secrets::generate_token();
    console.store().create_api_token(user.id, Some("freshdesk"), &secrets::hash_token(&key)).await.unwrap();
    key
}

/// POST a Freshdesk screen pop; returns when it was sent (epoch ms) and the answer.
async fn pop(console: &Console, key: &str, body: Value) -> (i64, Value) {
    let posted = epoch_ms();
    let response = console
        .http
        .post(console.node.url("/api/v2/integrations/cti/pop"))
        .basic_auth(key, Some("X"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    (posted, response.json().await.unwrap())
}

async fn details(console: &Console, key: &str, reference: &str) -> Value {
    let url = console.node.url(&format!("/api/v2/integrations/cti/details?call_reference_id={reference}"));
    let answer: Value = console.http.get(url).basic_auth(key, Some("X")).send().await.unwrap().json().await.unwrap();
    answer[0].clone()
}

#[tokio::test]
async fn a_freshdesk_pop_opens_the_widget_and_the_agent_links_the_call_to_a_ticket() {
    let console = Console::start().await;
    let (dana, erika) = desk_and_caller(&console).await;
    let key = api_key(&console, &dana).await;
    console.sign_in("dana@example.com", "dana password").await;

    let started = Instant::now();
    let body = json!({"requester_phone": FROM, "responder_id": dana.id, "call_reference_id": "fd-e2e-1",
                      "call_info": {"Queue": "Support"}});
    let (posted, answer) = pop(&console, &key, body).await;
    assert_eq!(answer["ticket_id"], Value::Null, "an online agent files the call");
    console.wait_for_text("#pop .caller-name", "Erika Mustermann", SECOND * 5).await;
    let seen = started.elapsed();
    let pop_ms = shown_after(&console, "#pop", posted).await;
    report(&format!("screen pop (Freshdesk CTI pop): {pop_ms} ms after the POST (WebDriver saw it after {seen:?})"));
    console.wait_for_text("#pop .org", "Muster GmbH", SECOND).await;
    console.wait_for_text("#pop .tickets", "Printer on fire", SECOND).await;
    console.find("#pop[data-screen='user_profile'] #pop-card[data-freshdesk]").await;
    report(&format!("screenshot: {}", console.screenshot("freshdesk-pop").await.display()));

    // After the call: the notes and a link to the caller's open ticket.
    console.find("#notepad").await.send_keys("Printer smokes again").await.unwrap();
    console.find("#pop .tickets input[type='radio']").await.click().await.unwrap();
    console.find("#pop-link").await.click().await.unwrap();
    console.wait_for_text("#ticket-subject", "Printer on fire", SECOND * 5).await;
    console.wait_for_text(".comment.private .body", "Call reference: fd-e2e-1", SECOND).await;
    console.wait_for_text(".comment.private .body", "Printer smokes again", SECOND).await;
    let details = details(&console, &key, "fd-e2e-1").await;
    let (tickets, _) = console.store().tickets_requested_by(erika.id, 0, 1).await.unwrap();
    assert_eq!(details["ticket_id"], tickets[0].id);
    assert!(details["note_id"].is_i64(), "linked to an existing ticket: {details}");
    console.close().await;
}

#[tokio::test]
async fn a_forwarded_call_pops_in_the_other_agents_console() {
    let console = Console::start().await;
    let (dana, erika) = desk_and_caller(&console).await;
    let otto = console.user(Role::Agent, "Otto Other", "otto@example.com", "otto password").await;
    let key = api_key(&console, &dana).await;
    console.sign_in("dana@example.com", "dana password").await;

    let body = json!({"requester_phone": FROM, "responder_id": dana.id, "call_reference_id": "fd-fwd-1"});
    pop(&console, &key, body).await;
    console.wait_for_text("#pop .caller-name", "Erika Mustermann", SECOND * 5).await;
    let seen_by_dana: String = console
        .browser
        .execute("return sessionStorage.getItem('ctihub.lastEventId')", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    console.find("#notepad").await.send_keys("Needs someone from billing").await.unwrap();
    console.find("#pop-forward-to").await.select_by_label("Otto Other").await.unwrap();
    console.find("#pop-forward").await.click().await.unwrap();
    console.wait_for_text("h1", "Caller journal", SECOND * 5).await;
    // The pop lies over the journal, whose heading is there before the forward lands: wait for
    // the stored call (bounded), not for the page.
    let mut call = console.store().find_call_by_ref("freshdesk", "fd-fwd-1").await.unwrap().unwrap();
    for _ in 0..50 {
        if call.data.agent_id == Some(otto.id) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        call = console.store().find_call_by_ref("freshdesk", "fd-fwd-1").await.unwrap().unwrap();
    }
    assert_eq!(call.data.agent_id, Some(otto.id));

    // Otto signs in on this browser; his console picks up from where this tab left off, so the
    // pop forwarded to him meanwhile is replayed, as after any reconnect.
    console.find("#sign-out").await.click().await.unwrap();
    console.find("#email").await;
    let restore = format!("sessionStorage.setItem('ctihub.lastEventId', '{seen_by_dana}')");
    console.browser.execute(&restore, vec![]).await.unwrap();
    let started = Instant::now();
    console.sign_in("otto@example.com", "otto password").await;
    console.wait_for_text("#pop .caller-name", "Erika Mustermann", SECOND * 5).await;
    report(&format!("forwarded pop: visible {:?} after the other agent signed in", started.elapsed()));
    assert_eq!(console.count("#pop-forward-to option").await, 1, "Otto can forward to Dana only");

    console.find("#pop-new-ticket").await.click().await.unwrap();
    console.wait_for("#ticket-subject", SECOND * 5).await;
    console.wait_for_text(".comment.private .body", "Needs someone from billing", SECOND).await;
    let ticket_id = details(&console, &key, "fd-fwd-1").await["ticket_id"].as_i64().expect("ticketed");
    let ticket = console.store().get_ticket(ticket_id).await.unwrap();
    assert_eq!((ticket.requester_id, ticket.assignee_id), (erika.id, Some(otto.id)));
    console.close().await;
}

#[tokio::test]
async fn a_new_pop_while_the_previous_calls_widget_is_open_tickets_the_previous_call() {
    let console = Console::start().await;
    let (dana, erika) = desk_and_caller(&console).await;
    let key = api_key(&console, &dana).await;
    console.sign_in("dana@example.com", "dana password").await;

    let body = json!({"requester_phone": FROM, "responder_id": dana.id, "call_reference_id": "fd-prev-1",
                      "call_info": {"Queue": "Support"}});
    let (_, first) = pop(&console, &key, body).await;
    console.wait_for_text("#pop .caller-name", "Erika Mustermann", SECOND * 5).await;
    console.find("#notepad").await.send_keys("Erika asked about her invoice").await.unwrap();
    // The notepad is kept with the call on the server as the agent types.
    let deadline = Instant::now() + SECOND * 5;
    loop {
        let call = console.store().get_call(first["id"].as_i64().unwrap()).await.unwrap();
        if call.data.details.get("freshdesk_notepad").and_then(Value::as_str) == Some("Erika asked about her invoice") {
            break;
        }
        assert!(Instant::now() < deadline, "the notepad never reached the server: {:?}", call.data.details);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The next call comes in with the widget still open.
    let body = json!({"requester_phone": "+4930999888777", "responder_id": dana.id, "call_reference_id": "fd-prev-2"});
    let (posted, second) = pop(&console, &key, body).await;
    let card = format!("#pop #pop-card[data-call-id='{}']", second["id"]);
    console.wait_for(&card, SECOND * 5).await;
    report(&format!(
        "screen pop replacing an open widget: {} ms after the POST",
        shown_after(&console, "#pop", posted).await
    ));
    console.wait_for_text("#pop .caller-name", "4930999888777", SECOND).await;
    assert_eq!(console.count("#pop #pop-card").await, 1, "the previous widget is closed");
    report(&format!("screenshot: {}", console.screenshot("freshdesk-previous-call").await.display()));

    let previous = details(&console, &key, "fd-prev-1").await;
    let ticket = console.store().get_ticket(previous["ticket_id"].as_i64().expect("ticketed")).await.unwrap();
    assert_eq!((ticket.requester_id, ticket.assignee_id), (erika.id, Some(dana.id)));
    let comments = console.store().list_comments(ticket.id).await.unwrap();
    assert!(comments.iter().any(|c| c.body.contains("Queue: Support")), "the call's details");
    assert!(comments.iter().any(|c| c.body == "Erika asked about her invoice" && !c.public), "{comments:?}");
    assert_eq!(details(&console, &key, "fd-prev-2").await["ticket_id"], Value::Null, "the new call is popped");

    // The ticket is in the journal for the agent to open.
    console.goto(&format!("/console/tickets/{}", ticket.id)).await;
    console.wait_for_text(".comment.private .body", "Erika asked about her invoice", SECOND * 5).await;
    assert!(console.browser.find(Locator::Css("#ticket-subject")).await.is_ok());
    console.close().await;
}

#[tokio::test]
async fn with_the_new_ticket_option_the_widget_shows_the_calls_ticket_and_nothing_to_file() {
    let console = Console::start().await;
    let (_, erika) = desk_and_caller(&console).await;
    let ada = console.user(Role::Admin, "Ada Admin", "ada@example.com", "ada password").await;
    let key = api_key(&console, &ada).await;
    console.sign_in("ada@example.com", "ada password").await;
    console.goto("/console/admin/cti").await;
    console.find("#freshdesk-new-ticket").await.click().await.unwrap();
    console.find("#save-freshdesk").await.click().await.unwrap();
    console.wait_for("#freshdesk-new-ticket[checked]", SECOND * 5).await;
    console.live().await;

    let body = json!({"requester_phone": FROM, "responder_id": ada.id, "call_reference_id": "fd-opt-1"});
    let (posted, answer) = pop(&console, &key, body).await;
    let ticket_id = answer["ticket_id"].as_i64().expect("a ticket as the call comes in");
    console.wait_for_text("#pop #pop-linked", &format!("#{ticket_id}"), SECOND * 5).await;
    report(&format!(
        "screen pop (Freshdesk, New Ticket option): {} ms after the POST",
        shown_after(&console, "#pop", posted).await
    ));
    console.wait_for_text("#pop .caller-name", "Erika Mustermann", SECOND).await;
    console.wait_for_text("#pop .filed", "nothing to file", SECOND).await;
    assert_eq!(console.count("#pop #notepad, #pop #pop-new-ticket, #pop #pop-link").await, 0);
    assert_eq!(console.store().get_ticket(ticket_id).await.unwrap().requester_id, erika.id);
    console.close().await;
}
