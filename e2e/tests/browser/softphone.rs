//! The softphone slot and click-to-dial in Chromium: an admin sets them up on the settings page,
//! a softphone page served by a test-local server drives the console through postMessage, and a
//! click on a phone number makes the server call a test-local dialer.

use std::time::Duration;

use ctihub_domain::user::Role;
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::harness::{Console, report};
use crate::tiny::TinyServer;
use crate::{SECOND, desk_and_caller, missed, new_call};

/// The softphone: it shows the parameters it was loaded with; tests post its messages.
const PHONE_PAGE: &str = "<!doctype html><title>Test phone</title><p id=\"params\"></p>\
    <script>document.getElementById('params').textContent = location.search;</script>";

/// Sign in as an admin (who takes calls too) and save the softphone settings page.
async fn set_up(console: &Console, iframe: &str, numbers: &str, dial: &str, post: bool) {
    console.goto("/console/admin/softphone").await;
    for (css, value) in [("#softphone-url", iframe), ("#helpdesk-numbers", numbers), ("#dial-url", dial)] {
        let field = console.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }
    console.find(if post { "#dial-post" } else { "#dial-get" }).await.click().await.unwrap();
    console.find("#save-softphone").await.click().await.unwrap();
    console.wait_for_text("h1", "Softphone and click-to-dial", SECOND * 5).await;
    assert_eq!(console.count("#settings-error").await, 0, "the settings were taken");
}

/// Post `message` to the console from inside the softphone frame, as the softphone would.
async fn from_phone(console: &Console, message: Value) {
    console.find("#softphone-frame").await.enter_frame().await.unwrap();
    console.browser.execute("window.parent.postMessage(arguments[0], '*')", vec![message]).await.unwrap();
    console.browser.enter_parent_frame().await.unwrap();
}

async fn slot_shown(console: &Console) -> bool {
    console.browser.find(Locator::Css("#softphone")).await.unwrap().is_displayed().await.unwrap()
}

#[tokio::test]
async fn the_softphone_drives_the_console_through_post_message() {
    let console = Console::start().await;
    let (_, erika) = desk_and_caller(&console).await;
    let ada = console.user(Role::Admin, "Ada Admin", "ada@example.com", "ada password").await;
    let phone = TinyServer::start("127.0.0.1", PHONE_PAGE);
    console.sign_in("ada@example.com", "ada password").await;
    set_up(&console, &format!("{}/phone?tenant=7", phone.base), "+49 30 600\n+49 30 700", "", false).await;

    // Loaded with the agent's id, hidden until shown.
    assert!(!slot_shown(&console).await, "hidden until shown");
    console.find("#helpdesk-number").await.select_by_value("+49 30 700").await.unwrap();
    // The frame is hidden, so what it shows has no rendered text: read what it was loaded with.
    let params = format!("?tenant=7&agent_id={}&number=%2B49+30+700", ada.id);
    let deadline = std::time::Instant::now() + SECOND * 5;
    loop {
        console.find("#softphone-frame").await.enter_frame().await.unwrap();
        let shown = console.browser.execute("return location.search", vec![]).await.unwrap();
        console.browser.enter_parent_frame().await.unwrap();
        if shown == params {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the softphone was loaded with {shown}, not {params}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    from_phone(&console, json!({"action": "show_softphone"})).await;
    console.wait_for("#softphone:not([hidden])", SECOND * 5).await;
    assert!(slot_shown(&console).await);
    assert_eq!(console.find("#softphone-toggle").await.attr("aria-expanded").await.unwrap().as_deref(), Some("true"));
    from_phone(&console, json!({"action": "notify", "value": "Call on hold"})).await;
    console.wait_for_text(".toast.notice", "Call on hold", SECOND * 5).await;
    from_phone(&console, json!({"action": "resize", "width": 400, "height": 300})).await;
    let deadline = std::time::Instant::now() + SECOND * 5;
    while console.find("#softphone-frame").await.css_value("width").await.unwrap() != "400px" {
        assert!(std::time::Instant::now() < deadline, "the frame was not resized");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    report(&format!("screenshot: {}", console.screenshot("softphone").await.display()));

    // Messages from anywhere but the softphone frame are ignored.
    let here = console.browser.current_url().await.unwrap();
    let spoof = format!("window.postMessage({{action: 'open_contact', value: {}}}, '*')", erika.id);
    console.browser.execute(&spoof, vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(console.browser.current_url().await.unwrap(), here, "the page's own message is not the phone's");
    // The sandbox keeps the softphone from navigating the console itself, even on a click.
    console.find("#softphone-frame").await.enter_frame().await.unwrap();
    let link = "const a = document.createElement('a'); a.id = 'away'; a.target = '_top'; \
                a.href = arguments[0]; a.textContent = 'away'; document.body.append(a);";
    console.browser.execute(link, vec![json!(console.node.url("/console/board"))]).await.unwrap();
    console.find("#away").await.click().await.unwrap();
    console.browser.enter_parent_frame().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(console.browser.current_url().await.unwrap(), here, "no top navigation from the frame");

    from_phone(&console, json!({"action": "open_contact", "value": erika.id})).await;
    console.wait_for_text("#user-name", "Erika Mustermann", SECOND * 5).await;
    assert!(slot_shown(&console).await, "the slot stays shown from page to page");
    let (tickets, _) = console.store().tickets_requested_by(erika.id, 0, 1).await.unwrap();
    from_phone(&console, json!({"action": "open_ticket", "value": tickets[0].id.to_string()})).await;
    console.wait_for_text("#ticket-subject", "Printer on fire", SECOND * 5).await;
    console.find("#softphone-toggle").await.click().await.unwrap();
    console.wait_for("#softphone[hidden]", SECOND).await;
    console.close().await;
}

#[tokio::test]
async fn clicking_a_phone_number_makes_the_server_call_the_dialer() {
    let console = Console::start().await;
    let (_, erika) = desk_and_caller(&console).await;
    let ada = console.user(Role::Admin, "Ada Admin", "ada@example.com", "ada password").await;
    let dialer = TinyServer::start("127.0.0.1", PHONE_PAGE);
    console.sign_in("ada@example.com", "ada password").await;
    set_up(&console, "", "+49 30 600", &format!("{}/dial?secret=s3cr3t", dialer.base), true).await;
    console.find("#helpdesk-number").await.select_by_value("+49 30 600").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let dialed = async |count: usize| {
        let deadline = std::time::Instant::now() + SECOND * 5;
        loop {
            let requests = dialer.requests();
            if requests.len() >= count {
                let last = requests[count - 1].clone();
                assert_eq!((last.method.as_str(), last.target.as_str()), ("POST", "/dial?secret=s3cr3t"));
                assert_eq!(last.content_type, "application/json");
                return serde_json::from_str::<Value>(&last.body).unwrap();
            }
            assert!(std::time::Instant::now() < deadline, "the dialer was not called");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    // The profile's phone field.
    console.goto(&format!("/console/users/{}", erika.id)).await;
    console.find("a.dial").await.click().await.unwrap();
    console.wait_for_text(".toast.notice.ok", "Calling +493055571600", SECOND * 5).await;
    let expected = json!({"requester_number": "+493055571600", "agent_number": "+49 30 600", "agent_id": ada.id,
                          "ticket_id": null, "requester_id": erika.id});
    assert_eq!(dialed(1).await, expected);
    assert_eq!(console.browser.current_url().await.unwrap().path(), format!("/console/users/{}", erika.id));
    report(&format!("screenshot: {}", console.screenshot("click-to-dial").await.display()));

    // The ticket's requester.
    let (tickets, _) = console.store().tickets_requested_by(erika.id, 0, 1).await.unwrap();
    console.goto(&format!("/console/tickets/{}", tickets[0].id)).await;
    console.find(".meta a.dial").await.click().await.unwrap();
    let got = dialed(2).await;
    assert_eq!((got["ticket_id"].as_i64(), got["requester_id"].as_i64()), (Some(tickets[0].id), Some(erika.id)));
    assert_eq!(got["requester_number"], "030 55571600", "as shown");

    // The journal's call back.
    console.enable_cti().await;
    console.goto("/console/journal").await;
    console.live().await;
    console.push(&new_call("dial-1")).await;
    console.push(&missed("dial-1")).await;
    console.wait_for("#journal-list tr.open a.dial", SECOND * 5).await.click().await.unwrap();
    let got = dialed(3).await;
    assert_eq!(
        (got["requester_number"].as_str(), got["requester_id"].as_i64()),
        (Some("+493055571600"), Some(erika.id))
    );

    // A dialer that cannot be reached: the agent is told.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    set_up(&console, "", "+49 30 600", &format!("http://{closed}/dial"), false).await;
    console.goto(&format!("/console/users/{}", erika.id)).await;
    console.find("a.dial").await.click().await.unwrap();
    console.wait_for_text(".toast.notice.error", "The dialer could not be reached.", SECOND * 15).await;
    console.close().await;
}
