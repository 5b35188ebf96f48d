//! The console's integration settings and actions over plain HTTP: Freshdesk's "New Ticket"
//! option, the softphone slot, click-to-dial, custom fields, and the pop widget's actions on
//! Freshdesk calls. What a browser does with them is tested in Chromium by `ctihub-e2e`.

use ctihub_domain::user::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::console_helpers::{FormBody, no_redirects, sign_in};
use crate::helpers::{TestApp, on_each_app};
use crate::sse::EventStream;

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
        // Signed in with the console page open: online, so the pop leaves the call for the agent.
        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let _console = EventStream::open_console(app, &cookie).await;
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
        assert!(html.contains(r#"id="pop-forward""#), "a filed call can still be forwarded: {html}");

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
        let _annas_page = EventStream::open_console(app, &cookie).await;
        let (ben_cookie, _) = sign_in(app, "ben@example.com", "ben password").await.unwrap();
        let _bens_page = EventStream::open_console(app, &ben_cookie).await;
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
        let _console = EventStream::open_console(app, &cookie).await;
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

#[tokio::test]
async fn admins_set_up_the_softphone_slot_and_agents_pick_their_helpdesk_number() {
    on_each_app(async |app| {
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let (root, csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (cookie, anna_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let path = "/console/admin/softphone";
        assert_eq!(get_page(app, &cookie, path).await.0, StatusCode::FORBIDDEN);
        let (_, html) = get_page(app, &cookie, "/console/journal").await;
        assert!(!html.contains("softphone-frame") && !html.contains("data-click-to-dial"), "nothing set up yet");

        let form = |iframe: &'static str, dial: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("iframe_url", iframe.to_owned()),
                ("helpdesk_numbers", "+49 30 600\n+49 30 700\n".to_owned()),
                ("dial_url", dial.to_owned()),
                ("dial_method", "post".to_owned()),
            ]
        };
        let as_refs = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
        let post = async |cookie: &str, f: Vec<(&'static str, String)>| {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(app, cookie, path, &f).await
        };
        let bad = post(&root, as_refs(&form("javascript:alert(1)", ""))).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = bad.text().await.unwrap();
        assert!(html.contains("Softphone page: `javascript:alert(1)` must start with http:// or https://"), "{html}");
        assert!(html.contains("+49 30 700"), "what the admin typed stays: {html}");
        let bad = post(&root, as_refs(&form("", "pbx.example/dial"))).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().await.unwrap().contains("Click-to-dial callback: `pbx.example/dial` is not a URL"));
        let mut forged = as_refs(&form("http://127.0.0.1:9/phone?x=1", ""));
        forged.remove(0);
        assert_eq!(post(&root, forged).await.status(), StatusCode::FORBIDDEN);
        let mut by_agent = as_refs(&form("http://127.0.0.1:9/phone?x=1", ""));
        by_agent[0].1 = anna_csrf.clone();
        assert_eq!(post(&cookie, by_agent).await.status(), StatusCode::FORBIDDEN);

        let saved =
            post(&root, as_refs(&form("http://127.0.0.1:9/phone?x=1", "http://127.0.0.1:9/dial?secret=s3cr3t"))).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let (_, html) = get_page(app, &root, path).await;
        assert!(
            html.contains(r#"id="dial-post" checked"#) && html.contains("s3cr3t"),
            "admins see the callback: {html}"
        );

        let page = no_redirects().get(app.url("/console/journal")).header(COOKIE, &cookie).send().await.unwrap();
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-src http://127.0.0.1:9;") && csp.contains("frame-ancestors 'none'"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains(r#"<section id="softphone" class="softphone" hidden data-origin="http://127.0.0.1:9""#),
            "{html}"
        );
        assert!(
            html.contains(&format!("/phone?x=1&#38;agent_id={}\"", anna.id))
                || html.contains(&format!("/phone?x=1&amp;agent_id={}\"", anna.id)),
            "{html}"
        );
        assert!(html.contains(r#"data-click-to-dial="on""#), "{html}");
        assert!(!html.contains("s3cr3t"), "the callback never reaches agents' pages");
        let asset = no_redirects().get(app.url("/console/assets/console.css")).send().await.unwrap();
        assert!(!asset.headers()["content-security-policy"].to_str().unwrap().contains("frame-src"));

        let choose = "/console/softphone/number";
        let wrong = post_form(app, &cookie, choose, &[("csrf", &anna_csrf), ("number", "+1 555")]).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(post_form(app, &cookie, choose, &[("number", "+49 30 700")]).await.status(), StatusCode::FORBIDDEN);
        let chosen = post_form(app, &cookie, choose, &[("csrf", &anna_csrf), ("number", "+49 30 700")]).await;
        assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
        let (_, html) = get_page(app, &cookie, "/console/journal").await;
        assert!(
            html.contains(&format!("agent_id={}&#38;number=%2B49+30+700", anna.id))
                || html.contains(&format!("agent_id={}&amp;number=%2B49+30+700", anna.id)),
            "{html}"
        );
        assert!(html.contains(r#"<option value="+49 30 700" selected>"#), "{html}");
    })
    .await;
}

/// What a dialer received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    uri: String,
    content_type: String,
    body: String,
}

/// A dialer on 127.0.0.1 that records each request and answers `status`.
async fn dialer(status: u16) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    use axum::http::{HeaderMap, Method, Uri};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
        let log = log.clone();
        async move {
            let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            log.lock().unwrap().push(Received { method: method.to_string(), uri: uri.to_string(), content_type, body });
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn set_dialer(app: &TestApp, root: &str, csrf: &str, url: &str, method: &str) {
    let form = [
        ("csrf", csrf),
        ("iframe_url", ""),
        ("helpdesk_numbers", "+49 30 600"),
        ("dial_url", url),
        ("dial_method", method),
    ];
    assert_eq!(post_form(app, root, "/console/admin/softphone", &form).await.status(), StatusCode::SEE_OTHER);
}

async fn dial(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
    let response = no_redirects()
        .post(app.url("/console/dial"))
        .header(COOKIE, cookie)
        .header("x-ctihub-fetch", "1")
        .form_body(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn click_to_dial_makes_the_server_call_the_dialer_with_every_parameter() {
    on_each_app(async |app| {
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.store
            .update_user(anna.id, ctihub_domain::user::UserPatch { extension: Some(Some("201".into())), ..Default::default() })
            .await
            .unwrap();
        app.user(Role::Admin, "root@example.com", "root password").await;
        let (root, root_csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let call = [("csrf", csrf.as_str()), ("number", "+15135557611"), ("ticket_id", "17"), ("requester_id", "42")];

        let (status, outcome) = dial(app, &cookie, &call).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(outcome["message"], "Click-to-dial is not set up: ask an admin.");

        let (base, seen) = dialer(200).await;
        set_dialer(app, &root, &root_csrf, &format!("{base}/dial?secret=s3cr3t"), "get").await;
        assert_eq!(dial(app, &cookie, &call[1..]).await.0, StatusCode::FORBIDDEN, "no CSRF token, no call");
        let (status, outcome) = dial(app, &cookie, &call).await;
        assert_eq!((status, outcome["ok"].as_bool()), (StatusCode::OK, Some(true)), "{outcome}");
        assert_eq!(outcome["message"], "Calling +15135557611…");
        let got = seen.lock().unwrap().pop().expect("the dialer was called");
        assert_eq!(got.method, "GET");
        assert_eq!(
            got.uri,
            format!(
                "/dial?secret=s3cr3t&requester_number=%2B15135557611&agent_number=201&agent_id={}&ticket_id=17&requester_id=42",
                anna.id
            )
        );

        // With a helpdesk number chosen, that is the agent's number; POST sends JSON.
        set_dialer(app, &root, &root_csrf, &format!("{base}/dial?secret=s3cr3t"), "post").await;
        let chosen = post_form(app, &cookie, "/console/softphone/number", &[("csrf", &csrf), ("number", "+49 30 600")]).await;
        assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
        let (status, _) = dial(app, &cookie, &[("csrf", csrf.as_str()), ("number", "tel:+4930555")]).await;
        assert_eq!(status, StatusCode::OK);
        let got = seen.lock().unwrap().pop().unwrap();
        assert_eq!((got.method.as_str(), got.uri.as_str(), got.content_type.as_str()), ("POST", "/dial?secret=s3cr3t", "application/json"));
        let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"requester_number": "+4930555", "agent_number": "+49 30 600", "agent_id": anna.id,
                               "ticket_id": null, "requester_id": null})
        );

        let bad_id = dial(app, &cookie, &[("csrf", csrf.as_str()), ("number", "1"), ("ticket_id", "x")]).await;
        assert_eq!(bad_id.0, StatusCode::UNPROCESSABLE_ENTITY);

        let (refusing, _) = dialer(500).await;
        set_dialer(app, &root, &root_csrf, &format!("{refusing}/dial"), "get").await;
        let (status, outcome) = dial(app, &cookie, &call).await;
        assert_eq!((status, outcome["ok"].as_bool()), (StatusCode::BAD_GATEWAY, Some(false)));
        assert_eq!(outcome["message"], "The dialer refused the call (HTTP 500 Internal Server Error).");

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        set_dialer(app, &root, &root_csrf, &format!("http://{closed}/dial"), "get").await;
        let (status, outcome) = dial(app, &cookie, &call).await;
        assert_eq!((status, outcome["message"].as_str()), (StatusCode::BAD_GATEWAY, Some("The dialer could not be reached.")));
    })
    .await;
}

#[tokio::test]
async fn admins_list_and_define_user_and_ticket_custom_fields() {
    on_each_app(async |app| {
        app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let (root, csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (anna, anna_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let path = "/console/admin/fields";
        assert_eq!(get_page(app, &anna, path).await.0, StatusCode::FORBIDDEN);
        let (status, html) = get_page(app, &root, path).await;
        assert_eq!(status, 200);
        assert_eq!(html.matches("None yet.").count(), 2, "{html}");
        assert!(html.contains(r#"href="/console/admin/fields" aria-current="page""#), "{html}");

        let field = |target: &'static str, key: &'static str, kind: &'static str, options: &'static str| {
            [("target", target), ("key", key), ("title", "A field"), ("field_type", kind), ("options", options)]
        };
        let with = |csrf: &str, f: [(&'static str, &'static str); 5]| {
            let mut form: Vec<(String, String)> = f.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            form.push(("csrf".into(), csrf.to_owned()));
            form
        };
        let post = async |cookie: &str, form: Vec<(String, String)>| {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post_form(app, cookie, path, &form).await
        };
        let forged = post(&root, with("", field("user", "city", "text", ""))).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let by_agent = post(&anna, with(&anna_csrf, field("user", "city", "text", ""))).await;
        assert_eq!(by_agent.status(), StatusCode::FORBIDDEN);

        let created = post(&root, with(&csrf, field("user", "city", "text", ""))).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let created = post(&root, with(&csrf, field("ticket", "tier", "dropdown", "Gold | gold\nsilver\n"))).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        use ctihub_domain::custom_field::FieldTarget;
        let tier = &app.store.list_custom_fields(FieldTarget::Ticket).await.unwrap()[0];
        let options: Vec<(&str, &str)> = tier.options.iter().map(|o| (o.name.as_str(), o.value.as_str())).collect();
        assert_eq!((tier.key.as_str(), options), ("tier", vec![("Gold", "gold"), ("silver", "silver")]));
        let (_, html) = get_page(app, &root, path).await;
        assert!(html.contains("<code>city</code>") && html.contains("<td>gold, silver</td>"), "{html}");

        let taken = post(&root, with(&csrf, field("user", "city", "text", ""))).await;
        assert_eq!(taken.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = taken.text().await.unwrap();
        assert!(html.contains("key: is already used by another field"), "{html}");
        let bad_key = post(&root, with(&csrf, field("user", "1st", "text", ""))).await;
        assert_eq!(bad_key.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = bad_key.text().await.unwrap();
        assert!(html.contains("key: must start with a letter"), "{html}");
        assert!(html.contains(r#"id="field-key" value="1st""#), "what the admin typed stays: {html}");
        let no_choices = post(&root, with(&csrf, field("ticket", "level", "dropdown", ""))).await;
        assert_eq!(no_choices.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(no_choices.text().await.unwrap().contains("a dropdown needs at least one option"));
        let bad_type = post(&root, with(&csrf, field("ticket", "level", "colour", ""))).await;
        assert!(bad_type.text().await.unwrap().contains("`colour` is not a field type"));
    })
    .await;
}
