//! The console's integration settings and actions over plain HTTP: Freshdesk's "New Ticket"
//! option, the softphone slot, click-to-dial, custom fields, and the pop widget's actions on
//! Freshdesk calls. What a browser does with them is tested in Chromium by `ctihub-e2e`.

use ctihub_domain::user::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::console_helpers::{FormBody, no_redirects, sign_in};
use crate::helpers::{TestApp, on_each_app};

async fn get_page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = no_redirects().get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    no_redirects().post(app.url(path)).header(COOKIE, cookie).form_body(form).send().await.unwrap()
}

#[tokio::test]
async fn admins_switch_freshdesks_new_ticket_option_on_the_cti_page() {
    on_each_app(async |app| {
        app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let (root, csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (anna, anna_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let path = "/console/admin/cti/freshdesk";

        let (_, html) = get_page(app, &root, "/console/admin/cti").await;
        assert!(html.contains(r#"id="freshdesk-new-ticket">"#), "unticked at first: {html}");
        let forged = post_form(app, &root, path, &[("new_ticket", "on")]).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token, no change");
        let by_agent = post_form(app, &anna, path, &[("csrf", &anna_csrf), ("new_ticket", "on")]).await;
        assert_eq!(by_agent.status(), StatusCode::FORBIDDEN);
        assert!(!ctihub_web::freshdesk::load_config(&app.store).await.unwrap().new_ticket);

        let saved = post_form(app, &root, path, &[("csrf", &csrf), ("new_ticket", "on")]).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        assert_eq!(saved.headers()[LOCATION], "/console/admin/cti");
        assert!(ctihub_web::freshdesk::load_config(&app.store).await.unwrap().new_ticket);
        let (_, html) = get_page(app, &root, "/console/admin/cti").await;
        assert!(html.contains(r#"id="freshdesk-new-ticket" checked>"#), "{html}");

        let cleared = post_form(app, &root, path, &[("csrf", &csrf)]).await;
        assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
        assert!(!ctihub_web::freshdesk::load_config(&app.store).await.unwrap().new_ticket);
    })
    .await;
}

const CALLER: &str = "+15135557611";

/// A Freshdesk screen pop as a telephony integration sends it; returns the answer.
async fn freshdesk_pop(app: &TestApp, key: &str, body: serde_json::Value) -> serde_json::Value {
    let response = app
        .client
        .post(app.url("/api/v2/integrations/cti/pop"))
        .basic_auth(key, Some("X"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn freshdesk_details(app: &TestApp, key: &str, reference: &str) -> serde_json::Value {
    let url = app.url(&format!("/api/v2/integrations/cti/details?call_reference_id={reference}"));
    let answer: serde_json::Value =
        app.client.get(url).basic_auth(key, Some("X")).send().await.unwrap().json().await.unwrap();
    answer[0].clone()
}

async fn carl(app: &TestApp) -> ctihub_domain::user::User {
    use ctihub_domain::custom_field::{FieldTarget, FieldType, NewCustomField};
    let city = NewCustomField {
        target: FieldTarget::User,
        key: "city".into(),
        title: "City".into(),
        field_type: FieldType::Text,
        description: None,
        options: Vec::new(),
    };
    app.store.create_custom_field(city).await.unwrap();
    let mut new = ctihub_domain::user::NewUser::new(Role::EndUser, "Carl Caller");
    new.phones = vec![(ctihub_domain::phone::PhoneKind::Phone, CALLER.into())];
    new.custom_fields.insert("city".into(), serde_json::json!("Cincinnati"));
    app.store.create_user(new).await.unwrap()
}

#[tokio::test]
async fn the_widget_files_a_freshdesk_call_as_the_pop_api_would() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Agent, "ben@example.com", "ben password").await;
        let carl = carl(app).await;
        let new = ctihub_domain::ticket::NewTicket {
            subject: "Invoice question".into(),
            description: "?".into(),
            requester_id: carl.id,
            ..Default::default()
        };
        let existing = app.store.create_ticket(new).await.unwrap().id;
        // Signed in: online, so the pop leaves the call for the agent to file.
        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let pop = serde_json::json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "w-1",
                                     "ticket_id": existing, "call_info": {"Queue": "Billing"}});
        let answer = freshdesk_pop(app, &key, pop).await;
        assert_eq!(answer["ticket_id"], serde_json::Value::Null);
        let call_id = answer["id"].as_i64().unwrap();

        let (status, html) = get_page(app, &cookie, &format!("/console/pop?call_id={call_id}")).await;
        assert_eq!(status, 200);
        assert!(html.contains(r#"data-freshdesk="1""#), "{html}");
        assert!(html.contains(&format!(r#"href="/console/users/{}">Carl Caller</a>"#, carl.id)), "{html}");
        assert!(html.contains(r#"<span class="location">Cincinnati</span>"#), "{html}");
        assert!(html.contains(r#"id="pop-ticket-pick" aria-label="Link the call to this ticket" checked>"#), "{html}");
        assert!(html.contains(r#"id="pop-forward""#) && html.contains(">ben</option>"), "{html}");
        assert!(!html.contains(">anna</option>"), "not to oneself: {html}");

        let file = format!("/console/calls/{call_id}/file");
        let forged = post_form(app, &cookie, &file, &[("action", "link"), ("ticket", &existing.to_string())]).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let linked = post_form(
            app,
            &cookie,
            &file,
            &[("csrf", &csrf), ("action", "link"), ("ticket", &existing.to_string()), ("note", "Wants a refund")],
        )
        .await;
        assert_eq!(linked.status(), StatusCode::SEE_OTHER);
        assert_eq!(linked.headers()[LOCATION], format!("/console/tickets/{existing}").as_str());
        let details = freshdesk_details(app, &key, "w-1").await;
        assert_eq!(details["ticket_id"], existing);
        assert!(details["note_id"].is_i64(), "linked to an existing ticket: a note: {details}");
        assert_eq!(details["time_entry"]["timer_running"], false);
        let comments = app.store.list_comments(existing).await.unwrap();
        let call_note = comments.iter().find(|c| Some(c.id) == details["note_id"].as_i64()).unwrap();
        assert!(call_note.body.contains("Call reference: w-1") && call_note.body.contains("Queue: Billing"));
        let notes: Vec<_> = comments.iter().filter(|c| c.body == "Wants a refund").collect();
        assert_eq!(notes.len(), 1, "the notepad, once");
        assert!(!notes[0].public && notes[0].author_id == anna.id);

        let again = post_form(app, &cookie, &file, &[("csrf", &csrf), ("action", "create")]).await;
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "a tied call is not filed twice");
        let (_, html) = get_page(app, &cookie, &format!("/console/pop?call_id={call_id}")).await;
        assert!(html.contains("nothing to file") && !html.contains("pop-new-ticket"), "{html}");

        let pop = serde_json::json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "w-2"});
        let call_id = freshdesk_pop(app, &key, pop).await["id"].as_i64().unwrap();
        let file = format!("/console/calls/{call_id}/file");
        let form = [("csrf", csrf.as_str()), ("action", "create"), ("subject", "Printer jam"), ("note", "Model X")];
        let created = post_form(app, &cookie, &file, &form).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let details = freshdesk_details(app, &key, "w-2").await;
        let ticket = app.store.get_ticket(details["ticket_id"].as_i64().expect("a new ticket")).await.unwrap();
        assert_eq!(details["note_id"], serde_json::Value::Null, "a new ticket, not a note");
        assert_eq!(
            (ticket.subject.as_str(), ticket.requester_id, ticket.assignee_id),
            ("Printer jam", carl.id, Some(anna.id))
        );
        let comments = app.store.list_comments(ticket.id).await.unwrap();
        assert!(comments.iter().any(|c| c.body == "Model X" && !c.public), "the notepad as a private note");
    })
    .await;
}

#[tokio::test]
async fn a_forwarded_freshdesk_call_pops_for_the_other_agent_and_keeps_the_notes() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let (ben, ben_key) = app.user(Role::Agent, "ben@example.com", "ben password").await;
        let (end_user, _) = app.user(Role::EndUser, "eve@example.com", "eve password").await;
        carl(app).await;
        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        sign_in(app, "ben@example.com", "ben password").await.unwrap();
        let pop = serde_json::json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "fw-1"});
        let call_id = freshdesk_pop(app, &key, pop).await["id"].as_i64().unwrap();
        let forward = format!("/console/calls/{call_id}/forward");

        let to_self = post_form(app, &cookie, &forward, &[("csrf", &csrf), ("forward_to", &anna.id.to_string())]).await;
        assert_eq!(to_self.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let to_customer =
            post_form(app, &cookie, &forward, &[("csrf", &csrf), ("forward_to", &end_user.id.to_string())]).await;
        assert_eq!(to_customer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(to_customer.text().await.unwrap().contains("is not an active agent"));
        let forged = post_form(app, &cookie, &forward, &[("forward_to", &ben.id.to_string())]).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);

        let mut bens_console = crate::sse::EventStream::open(app, &ben_key, None).await;
        let form = [("csrf", csrf.as_str()), ("forward_to", &ben.id.to_string()), ("note", "Needs billing")];
        let forwarded = post_form(app, &cookie, &forward, &form).await;
        assert_eq!(forwarded.status(), StatusCode::SEE_OTHER);
        let pops = bens_console.until("screen_pop").await;
        let shown = &pops.last().unwrap().data;
        assert_eq!((shown["call_id"].as_i64(), shown["call_reference_id"].as_str()), (Some(call_id), Some("fw-1")));
        assert_eq!(shown["can_link"], true);
        assert_eq!(freshdesk_details(app, &key, "fw-1").await["responder_id"], ben.id);

        // Ben takes his next call with the forwarded one still open: it is ticketed for him,
        // with Anna's notes.
        let next =
            serde_json::json!({"requester_phone": "+15135550042", "responder_id": ben.id, "call_reference_id": "fw-2"});
        freshdesk_pop(app, &key, next).await;
        let details = freshdesk_details(app, &key, "fw-1").await;
        let ticket = app.store.get_ticket(details["ticket_id"].as_i64().expect("ticketed")).await.unwrap();
        assert_eq!(ticket.assignee_id, Some(ben.id));
        let comments = app.store.list_comments(ticket.id).await.unwrap();
        assert!(comments.iter().any(|c| c.body == "Needs billing" && !c.public), "{comments:?}");
    })
    .await;
}

#[tokio::test]
async fn the_notepad_kept_with_an_open_call_reaches_the_ticket_the_next_pop_creates() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        carl(app).await;
        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let pop = serde_json::json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "n-1"});
        let call_id = freshdesk_pop(app, &key, pop).await["id"].as_i64().unwrap();
        let notepad = format!("/console/calls/{call_id}/notepad");
        assert_eq!(post_form(app, &cookie, &notepad, &[("note", "x")]).await.status(), StatusCode::FORBIDDEN);
        let saved = post_form(app, &cookie, &notepad, &[("csrf", &csrf), ("note", "Caller is moving house")]).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);

        let next =
            serde_json::json!({"requester_phone": "+15135550042", "responder_id": anna.id, "call_reference_id": "n-2"});
        freshdesk_pop(app, &key, next).await;
        let ticket_id = freshdesk_details(app, &key, "n-1").await["ticket_id"].as_i64().expect("ticketed");
        let comments = app.store.list_comments(ticket_id).await.unwrap();
        let notes: Vec<_> = comments.iter().filter(|c| c.body == "Caller is moving house").collect();
        assert_eq!(notes.len(), 1);
        assert!(!notes[0].public);
        let late = post_form(app, &cookie, &notepad, &[("csrf", &csrf), ("note", "too late")]).await;
        assert_eq!(late.status(), StatusCode::UNPROCESSABLE_ENTITY, "a tied call's notes go on its ticket page");
    })
    .await;
}
