//! Freshdesk's CTI framework as telephony integrations call it: the screen pop and call details
//! APIs, every request-handling rule of the framework article (offline and online agents, the
//! admin's "New Ticket" option, forwarding), each error, and the pops agents' consoles receive.

use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::NewTicket;
use ctihub_domain::time::now_millis;
use ctihub_domain::user::{NewUser, Role, User};
use ctihub_store::Presence;
use ctihub_web::freshdesk::{FreshdeskCtiConfig, save_config};
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app};
use crate::sse::EventStream;

const JSON_UTF8: &str = "application/json; charset=utf-8";
const POP: &str = "/freshdesk/api/v2/integrations/cti/pop";
const DETAILS: &str = "/freshdesk/api/v2/integrations/cti/details";
const CALLER: &str = "+15135557611";

/// POST a pop with an API key as Freshdesk integrations do (`KEY:X`); status and JSON.
async fn pop_at(app: &TestApp, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .basic_auth(key, Some("X"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], JSON_UTF8, "({status})");
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")))
}

async fn pop(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, answer) = pop_at(app, POP, key, &body).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

async fn details(app: &TestApp, key: &str, reference: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(DETAILS))
        .query(&[("call_reference_id", reference)])
        .basic_auth(key, Some("unused_with_api_key"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], JSON_UTF8, "({status})");
    (status, response.json().await.unwrap())
}

/// The one record the details API answers for a reference.
async fn detail(app: &TestApp, key: &str, reference: &str) -> Value {
    let (status, answer) = details(app, key, reference).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer.as_array().map(Vec::len), Some(1), "{answer}");
    answer[0].clone()
}

/// An agent with the console open (signed in, the page holding its live stream): online for
/// the Freshdesk rules.
async fn sign_in_console(app: &TestApp, agent: &User) {
    let now = now_millis();
    let hash = format!("session-of-{}", agent.id);
    app.store.create_console_session(agent.id, &hash, now, now + 3_600_000).await.unwrap();
    app.node.registered(&app.store).await.unwrap();
    app.store
        .open_console_stream(&format!("stream-of-{}", agent.id), app.node.id(), agent.id, &hash, now)
        .await
        .unwrap();
}

async fn customer(app: &TestApp, name: &str, phones: &[(PhoneKind, &str)]) -> User {
    let mut new = NewUser::new(Role::EndUser, name);
    new.phones = phones.iter().map(|(kind, number)| (*kind, (*number).to_owned())).collect();
    app.store.create_user(new).await.unwrap()
}

async fn ticket_for(app: &TestApp, requester: &User, subject: &str) -> i64 {
    let new = NewTicket {
        subject: subject.into(),
        description: subject.into(),
        requester_id: requester.id,
        ..Default::default()
    };
    app.store.create_ticket(new).await.unwrap().id
}

fn error_fields(body: &Value) -> Vec<(String, String)> {
    assert_eq!(body["description"], "Validation failed", "{body}");
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

#[tokio::test]
async fn credentials_routes_and_errors_answer_in_freshdesks_shape() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (_, customer_key) = app.user(Role::EndUser, "carl@example.com", "pw").await;
        let body = json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "auth-1"});

        let anonymous = app.client.post(app.url(POP)).json(&body).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.headers()["content-type"], JSON_UTF8);
        assert_eq!(
            anonymous.json::<Value>().await.unwrap(),
            json!({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."})
        );
        let (status, answer) = pop_at(app, POP, "not-a-key", &body).await;
        assert_eq!((status, answer["code"].as_str()), (401, Some("invalid_credentials")));
        let (status, answer) = pop_at(app, POP, &customer_key, &body).await;
        assert_eq!((status, answer["code"].as_str()), (403, Some("access_denied")));

        // A wrong method answers 404 with a JSON body, never an empty one.
        let wrong = app.client.get(app.url(POP)).basic_auth(&key, Some("X")).send().await.unwrap();
        assert_eq!(wrong.status(), 404);
        assert_eq!(wrong.headers()["content-type"], JSON_UTF8);
        assert_eq!(wrong.json::<Value>().await.unwrap()["code"], "not_found");

        // Served at root `/api/v2` too, where Freshdesk integrations post by default.
        let (status, root) = pop_at(app, "/api/v2/integrations/cti/pop", &key, &body).await;
        assert_eq!(status, 201, "{root}");
        let root_details = app
            .client
            .get(app.url("/api/v2/integrations/cti/details?call_reference_id=auth-1"))
            .basic_auth(&key, Some("X"))
            .send()
            .await
            .unwrap();
        assert_eq!(root_details.status(), 200);
        assert_eq!(root_details.json::<Value>().await.unwrap()[0]["responder_id"], anna.id);

        let (status, malformed) = {
            let r = app
                .client
                .post(app.url(POP))
                .basic_auth(&key, Some("X"))
                .header("content-type", "application/json")
                .body("{\"requester_id\":")
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        };
        assert_eq!((status, malformed["code"].as_str()), (400, Some("invalid_json")));

        let (status, unknown) = details(app, &key, "never-popped").await;
        assert_eq!((status, unknown["code"].as_str()), (404, Some("not_found")));
        let missing = app.client.get(app.url(DETAILS)).basic_auth(&key, Some("X")).send().await.unwrap();
        assert_eq!(missing.status(), 400);
        assert_eq!(error_fields(&missing.json().await.unwrap()), [pair("call_reference_id", "missing_field")]);
    })
    .await;
}

#[tokio::test]
async fn every_mandatory_field_and_bad_reference_is_named_and_nothing_is_written() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (status, empty) = pop_at(app, POP, &key, &json!({})).await;
        assert_eq!(status, 400);
        assert_eq!(
            error_fields(&empty),
            [
                pair("call_reference_id", "missing_field"),
                pair("requester_id", "missing_field"),
                pair("responder_id", "missing_field")
            ]
        );

        let (status, types) = pop_at(
            app,
            POP,
            &key,
            &json!({"requester_id": "abc", "responder_id": anna.id, "call_reference_id": "t-1",
                    "new_ticket": "perhaps", "call_info": "Reason=x", "requester_email": "not an address"}),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            error_fields(&types),
            [
                pair("requester_id", "datatype_mismatch"),
                pair("requester_email", "invalid_value"),
                pair("new_ticket", "datatype_mismatch"),
                pair("call_info", "datatype_mismatch")
            ]
        );

        let carl = customer(app, "Carl", &[(PhoneKind::Phone, CALLER)]).await;
        let users_before = app.store.list_users(&Default::default(), 0, 100).await.unwrap().1;
        // An unknown requester id is an error, even with a phone number beside it.
        let (status, answer) = pop_at(
            app,
            POP,
            &key,
            &json!({"requester_id": 999_999_999, "requester_phone": CALLER, "responder_id": anna.id,
                    "call_reference_id": "bad-1", "ticket_id": 999_999_998}),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(error_fields(&answer), [pair("requester_id", "invalid_value"), pair("ticket_id", "invalid_value")]);

        // No agent matches: by id (a customer is no agent), by phone, by e-mail.
        for (field, value) in [
            ("responder_id", json!(carl.id)),
            ("responder_id", json!(999_999_999)),
            ("responder_phone", json!("+15135550000")),
            ("responder_phone", json!(CALLER)),
            ("responder_email", json!("nobody@example.com")),
        ] {
            let mut body = json!({"requester_phone": "+15135559999", "call_reference_id": "bad-2"});
            body[field] = value.clone();
            let (status, answer) = pop_at(app, POP, &key, &body).await;
            assert_eq!(status, 400, "{field} {value}");
            assert_eq!(error_fields(&answer), [pair(field, "invalid_value")], "{field} {value}");
        }

        for reference in ["bad-1", "bad-2"] {
            assert_eq!(details(app, &key, reference).await.0, 404);
        }
        let users_after = app.store.list_users(&Default::default(), 0, 100).await.unwrap().1;
        assert_eq!(users_after, users_before, "a rejected pop creates no user");
    })
    .await;
}

#[tokio::test]
async fn an_offline_agents_call_gets_a_new_ticket_with_the_recording_in_a_private_note() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let carl = customer(app, "Carl", &[(PhoneKind::Phone, CALLER)]).await;
        let mut console = EventStream::open(app, &key, None).await;
        // The article's sample: string ids and booleans, call_info pairs.
        let answer = pop(
            app,
            &key,
            json!({"requester_id": carl.id.to_string(), "responder_email": "ANNA@example.com",
                   "call_reference_id": "226356", "call_url": "https://rec.example/226356.mp3",
                   "call_info": {"Organisation": "XYZ", "Reason": "Priority issue raised.."}}),
        )
        .await;
        assert_eq!(answer["requester_id"], carl.id);
        assert_eq!(answer["responder_id"], anna.id);
        let ticket_id = answer["ticket_id"].as_i64().expect("a ticket at once: the agent is offline");
        assert_eq!(answer["note_id"], Value::Null);

        let ticket = app.store.get_ticket(ticket_id).await.unwrap();
        assert_eq!((ticket.requester_id, ticket.assignee_id), (carl.id, Some(anna.id)));
        assert_eq!(ticket.via.channel.as_str(), "phone_call_inbound");
        let comments = app.store.list_comments(ticket_id).await.unwrap();
        assert_eq!(comments.len(), 1);
        let note = &comments[0];
        assert!(!note.public, "the recording goes in a private note");
        let voice = note.voice.as_ref().expect("an embedded recording");
        assert_eq!(voice.recording_url.as_deref(), Some("https://rec.example/226356.mp3"));
        assert_eq!(
            voice.call_fields,
            [("Organisation".into(), json!("XYZ")), ("Reason".into(), json!("Priority issue raised.."))]
        );
        for line in ["Call reference: 226356", "Organisation: XYZ", "Reason: Priority issue raised.."] {
            assert!(note.body.contains(line), "{line} in {}", note.body);
        }

        let details = detail(app, &key, "226356").await;
        assert_eq!(details["requester_id"], carl.id);
        assert_eq!(details["responder_id"], anna.id);
        assert_eq!(details["ticket_id"], ticket_id);
        assert_eq!(details["note_id"], Value::Null, "a new ticket, not a note on an existing one");
        let entry = &details["time_entry"];
        assert_eq!(entry["timer_running"], false, "{entry}");
        assert!(entry["start_time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(entry["end_time"].as_str().is_some() && entry["time_spent"].as_str().is_some());

        let pops = console.until("screen_pop").await;
        let pop = &pops.last().unwrap().data;
        assert_eq!(pop["screen"], "ticket");
        assert_eq!(pop["ticket_id"], ticket_id);
        assert_eq!(pop["url"], format!("/console/tickets/{ticket_id}"));
        assert_eq!(pop["call_reference_id"], "226356");
        assert_eq!(pop["can_link"], false);

        // The same call through the shared call model.
        let call = app.store.find_call_by_ref("freshdesk", "226356").await.unwrap().unwrap();
        assert_eq!((call.data.ticket_id, call.data.agent_id), (Some(ticket_id), Some(anna.id)));
    })
    .await;
}

#[tokio::test]
async fn an_offline_agents_call_about_a_ticket_becomes_a_note_on_it() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let carl = customer(app, "Carl", &[(PhoneKind::Phone, CALLER)]).await;
        let existing = ticket_for(app, &carl, "Printer on fire").await;
        let answer = pop(
            app,
            &key,
            json!({"requester_phone": "(513) 555-7611", "responder_id": anna.id, "call_reference_id": "n-1",
                   "ticket_id": existing, "call_url": "https://rec.example/n-1.mp3"}),
        )
        .await;
        assert_eq!(answer["requester_id"], carl.id, "found by phone in another spelling");
        assert_eq!(answer["ticket_id"], existing);
        let comments = app.store.list_comments(existing).await.unwrap();
        let note = comments.last().unwrap();
        assert!(!note.public);
        assert_eq!(note.voice.as_ref().unwrap().recording_url.as_deref(), Some("https://rec.example/n-1.mp3"));
        let details = detail(app, &key, "n-1").await;
        assert_eq!(details["ticket_id"], existing);
        assert_eq!(details["note_id"], note.id);
        assert_eq!(answer["note_id"], note.id);
    })
    .await;
}

#[tokio::test]
async fn requesters_are_found_by_phone_then_mobile_else_created_by_number_or_email() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let number = "+15135550001";
        let by_mobile = customer(app, "Mobile Mo", &[(PhoneKind::Mobile, number)]).await;
        let requester = async |reference: &str, extra: Value| {
            let mut body = json!({"responder_id": anna.id, "call_reference_id": reference});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            pop(app, &key, body).await["requester_id"].as_i64().unwrap()
        };
        assert_eq!(requester("p-1", json!({"requester_phone": number})).await, by_mobile.id, "mobile when no phone");

        let older = customer(app, "Phone Old", &[(PhoneKind::Phone, number)]).await;
        let newer = customer(app, "Phone New", &[(PhoneKind::Phone, number)]).await;
        let newest_mobile = customer(app, "Mobile New", &[(PhoneKind::Mobile, number)]).await;
        assert!(older.id < newer.id && newer.id < newest_mobile.id);
        // Phone fields before mobile; among several, the newest user (decision 0007).
        assert_eq!(requester("p-2", json!({"requester_phone": "513-555-0001"})).await, newer.id);

        // Nobody has the number: a new user named by it, with it as their phone.
        let fresh = requester("p-3", json!({"requester_phone": "+15135550002"})).await;
        let user = app.store.get_user(fresh).await.unwrap();
        assert_eq!(user.name, "+15135550002");
        assert_eq!(user.role, Role::EndUser);
        assert_eq!(user.phones[0].kind, PhoneKind::Phone);
        assert_eq!(requester("p-4", json!({"requester_phone": "+15135550002"})).await, fresh, "and found next time");

        // By e-mail: the user with it, else a new one.
        let (erin, _) = app.user(Role::EndUser, "erin@example.com", "pw").await;
        assert_eq!(requester("e-1", json!({"requester_email": "Erin@Example.com"})).await, erin.id);
        let new_email = requester("e-2", json!({"requester_email": "frank@example.com"})).await;
        assert_eq!(app.store.get_user(new_email).await.unwrap().email.as_deref(), Some("frank@example.com"));

        // A withheld number names nobody and makes nobody.
        for withheld in ["anonymous", "unknown caller"] {
            let body = json!({"requester_phone": withheld, "responder_id": anna.id, "call_reference_id": "w-1"});
            let (status, answer) = pop_at(app, POP, &key, &body).await;
            assert_eq!(status, 400, "{withheld}");
            assert_eq!(error_fields(&answer), [pair("requester_phone", "invalid_value")]);
        }

        // An id wins over a phone.
        assert_eq!(requester("i-1", json!({"requester_id": erin.id, "requester_phone": number})).await, erin.id);
    })
    .await;
}

#[tokio::test]
async fn responders_are_found_by_id_phone_or_email() {
    on_each_app(async |app| {
        let (_, key) = app.user(Role::Admin, "integration@example.com", "pw").await;
        let mut new = NewUser::new(Role::Agent, "Anna");
        new.phones = vec![(PhoneKind::Work, "+15135559001".into())];
        let anna = app.store.create_user(new).await.unwrap();
        let (ben, _) = app.user(Role::Agent, "ben@example.com", "pw").await;
        for (reference, field, value, expected) in [
            ("r-1", "responder_id", json!(anna.id.to_string()), anna.id),
            ("r-2", "responder_phone", json!("513 555 9001"), anna.id),
            ("r-3", "responder_email", json!("ben@example.com"), ben.id),
        ] {
            let mut body = json!({"requester_phone": CALLER, "call_reference_id": reference});
            body[field] = value;
            assert_eq!(pop(app, &key, body).await["responder_id"], expected, "{field}");
        }
    })
    .await;
}

#[tokio::test]
async fn an_online_agent_gets_the_pop_and_the_call_is_tied_when_its_recording_arrives() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        sign_in_console(app, &anna).await;
        let carl = customer(app, "Carl", &[(PhoneKind::Phone, CALLER)]).await;
        let mut console = EventStream::open(app, &key, None).await;

        // No ticket id: the widget shows the requester; nothing is tied yet, the timer runs.
        let first = pop(app, &key, json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "o-1"})).await;
        assert_eq!(first["ticket_id"], Value::Null);
        let pops = console.until("screen_pop").await;
        let shown = &pops.last().unwrap().data;
        assert_eq!(shown["screen"], "user_profile");
        assert_eq!(shown["user_id"], carl.id);
        assert_eq!(shown["can_link"], true);
        let running = detail(app, &key, "o-1").await;
        assert_eq!((running["ticket_id"].clone(), running["requester_id"].clone()), (Value::Null, json!(carl.id)));
        assert_eq!(running["time_entry"]["timer_running"], true);
        assert_eq!(app.store.tickets_requested_by(carl.id, 0, 10).await.unwrap().1, 0);

        // At the end of the call the recording arrives: a new ticket with it.
        let done = pop(
            app,
            &key,
            json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "o-1",
                   "call_url": "https://rec.example/o-1.mp3"}),
        )
        .await;
        let ticket_id = done["ticket_id"].as_i64().unwrap();
        assert_eq!(done["id"], first["id"], "the same call");
        let pops = console.until("screen_pop").await;
        assert_eq!(pops.last().unwrap().data["ticket_id"], ticket_id, "the pop moves to the new ticket");
        let details = detail(app, &key, "o-1").await;
        assert_eq!(details["ticket_id"], ticket_id);
        assert_eq!(details["time_entry"]["timer_running"], false);
        let note = &app.store.list_comments(ticket_id).await.unwrap()[0];
        assert_eq!(note.voice.as_ref().unwrap().recording_url.as_deref(), Some("https://rec.example/o-1.mp3"));

        // With a ticket id the widget links that ticket; the recording then goes there as a note.
        let existing = ticket_for(app, &carl, "Earlier issue").await;
        pop(app, &key, json!({"requester_id": carl.id, "responder_id": anna.id, "call_reference_id": "o-2", "ticket_id": existing})).await;
        let pops = console.until("screen_pop").await;
        let shown = &pops.last().unwrap().data;
        assert_eq!((shown["screen"].clone(), shown["ticket_id"].clone()), (json!("ticket"), json!(existing)));
        assert_eq!(shown["url"], format!("/console/tickets/{existing}"));
        assert_eq!(detail(app, &key, "o-2").await["ticket_id"], Value::Null, "linked in the widget, not yet tied");
        let done = pop(
            app,
            &key,
            json!({"requester_id": carl.id, "responder_id": anna.id, "call_reference_id": "o-2",
                   "call_url": "https://rec.example/o-2.mp3"}),
        )
        .await;
        assert_eq!(done["ticket_id"], existing);
        let details = detail(app, &key, "o-2").await;
        let note = app.store.list_comments(existing).await.unwrap().last().unwrap().clone();
        assert_eq!((details["ticket_id"].clone(), details["note_id"].clone()), (json!(existing), json!(note.id)));

        // A later recording for a tied call is added to its ticket as another private note.
        pop(
            app,
            &key,
            json!({"requester_id": carl.id, "responder_id": anna.id, "call_reference_id": "o-2",
                   "call_url": "https://rec.example/o-2-full.mp3"}),
        )
        .await;
        let notes = app.store.list_comments(existing).await.unwrap();
        let last = notes.last().unwrap();
        assert_ne!(last.id, note.id);
        assert_eq!(last.voice.as_ref().unwrap().recording_url.as_deref(), Some("https://rec.example/o-2-full.mp3"));
        assert_eq!(detail(app, &key, "o-2").await["note_id"], note.id, "the call stays tied to its first note");
    })
    .await;
}

#[tokio::test]
async fn the_admins_new_ticket_option_ties_an_online_agents_call_at_once() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        sign_in_console(app, &anna).await;
        save_config(&app.store, &FreshdeskCtiConfig { new_ticket: true }).await.unwrap();
        assert!(ctihub_web::freshdesk::load_config(&app.store).await.unwrap().new_ticket);
        let mut console = EventStream::open(app, &key, None).await;
        let answer =
            pop(app, &key, json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "a-1"}))
                .await;
        let ticket_id = answer["ticket_id"].as_i64().expect("a ticket as the call comes in");
        let pops = console.until("screen_pop").await;
        let shown = &pops.last().unwrap().data;
        assert_eq!((shown["ticket_id"].clone(), shown["can_link"].clone()), (json!(ticket_id), json!(false)));
        assert_eq!(detail(app, &key, "a-1").await["time_entry"]["timer_running"], false);
    })
    .await;
}

#[tokio::test]
async fn away_or_do_not_disturb_counts_as_offline_and_so_does_an_agent_with_no_console_page_open() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let body = |reference: &str| json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": reference});
        sign_in_console(app, &anna).await;
        assert_eq!(pop(app, &key, body("d-1")).await["ticket_id"], Value::Null, "online: pop only");
        app.store.set_presence(anna.id, Presence::DoNotDisturb).await.unwrap();
        assert!(pop(app, &key, body("d-2")).await["ticket_id"].is_i64(), "do not disturb: offline");
        app.store.set_presence(anna.id, Presence::Available).await.unwrap();
        assert_eq!(pop(app, &key, body("d-3")).await["ticket_id"], Value::Null);
        app.store.delete_console_sessions_of(anna.id).await.unwrap();
        assert!(pop(app, &key, body("d-4")).await["ticket_id"].is_i64(), "signed out: offline");
        // Signed in, but the browser was closed: no console page holds the stream.
        let now = now_millis();
        app.store.create_console_session(anna.id, "closed-browser", now, now + 3_600_000).await.unwrap();
        assert!(pop(app, &key, body("d-5")).await["ticket_id"].is_i64(), "no console page open: offline");
    })
    .await;
}

#[tokio::test]
async fn new_ticket_overrides_an_earlier_association_when_a_call_is_forwarded() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (ben, ben_key) = app.user(Role::Agent, "ben@example.com", "pw").await;
        sign_in_console(app, &ben).await;
        let carl = customer(app, "Carl", &[(PhoneKind::Phone, CALLER)]).await;
        let existing = ticket_for(app, &carl, "Open issue").await;
        // Anna (offline) gets the call about an existing ticket: a note on it.
        let first = pop(app, &key, json!({"requester_id": carl.id, "responder_id": anna.id, "call_reference_id": "f-1", "ticket_id": existing})).await;
        assert_eq!(first["ticket_id"], existing);

        // Forwarded to Ben without new_ticket: the call stays tied; Ben's pop shows its ticket.
        let mut bens_console = EventStream::open(app, &ben_key, None).await;
        let forwarded = pop(app, &key, json!({"requester_id": carl.id, "responder_id": ben.id, "call_reference_id": "f-1"})).await;
        assert_eq!(forwarded["ticket_id"], existing);
        let pops = bens_console.until("screen_pop").await;
        assert_eq!(pops.last().unwrap().data["ticket_id"], existing);

        // Forwarded again with new_ticket: a new ticket replaces the association.
        let renewed = pop(
            app,
            &key,
            json!({"requester_id": carl.id, "requester_phone": CALLER, "responder_id": ben.id, "call_reference_id": "f-1", "new_ticket": true}),
        )
        .await;
        let new_ticket = renewed["ticket_id"].as_i64().unwrap();
        let call = app.store.find_call_by_ref("freshdesk", "f-1").await.unwrap().unwrap();
        assert_eq!(call.data.from_line, CALLER, "a later pop fills in the number the first lacked");
        assert_eq!(call.data.to_name.as_deref(), Some("ben"), "the agent who has the call now");
        assert_ne!(new_ticket, existing);
        assert_eq!(renewed["id"], first["id"], "still one call");
        let details = detail(app, &key, "f-1").await;
        assert_eq!(details["ticket_id"], new_ticket);
        assert_eq!(details["note_id"], Value::Null);
        assert_eq!(details["responder_id"], ben.id);
        assert_eq!(app.store.get_ticket(new_ticket).await.unwrap().assignee_id, Some(ben.id));
        let pops = bens_console.until("screen_pop").await;
        assert_eq!(pops.last().unwrap().data["ticket_id"], new_ticket);
    })
    .await;
}

#[tokio::test]
async fn simultaneous_first_pops_of_one_call_make_one_call() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let carl = customer(app, "Carl", &[(PhoneKind::Phone, CALLER)]).await;
        for round in 0..5 {
            let reference = format!("race-{round}");
            let body = json!({"requester_id": carl.id, "responder_id": anna.id, "call_reference_id": reference});
            let (a, b) = tokio::join!(pop(app, &key, body.clone()), pop(app, &key, body.clone()));
            assert_eq!(a["id"], b["id"], "one call for one reference");
            // Offline: tied to a ticket at once.
            let details = detail(app, &key, &reference).await;
            assert!(details["ticket_id"].is_i64());
            assert_eq!(details["time_entry"]["timer_running"], false);
        }
    })
    .await;
}

#[tokio::test]
async fn a_new_call_while_the_previous_one_is_still_open_tickets_the_previous_one() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (ben, _) = app.user(Role::Agent, "ben@example.com", "pw").await;
        sign_in_console(app, &anna).await;
        sign_in_console(app, &ben).await;
        let carl = customer(app, "Carl", &[(PhoneKind::Phone, CALLER)]).await;
        let mut console = EventStream::open(app, &key, None).await;
        let previous = json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": "prev-1",
                              "call_info": {"Queue": "Support"}});
        assert_eq!(pop(app, &key, previous).await["ticket_id"], Value::Null);
        let bens = json!({"requester_phone": CALLER, "responder_id": ben.id, "call_reference_id": "bens-1"});
        assert_eq!(pop(app, &key, bens).await["ticket_id"], Value::Null);
        console.until("screen_pop").await;

        // Anna takes the next call with the first one's widget still open (the call untied).
        let next = pop(
            app,
            &key,
            json!({"requester_phone": "+15135550042", "responder_id": anna.id, "call_reference_id": "next-1"}),
        )
        .await;
        assert_eq!(next["ticket_id"], Value::Null, "the new call is popped, not ticketed");
        let details = detail(app, &key, "prev-1").await;
        let ticket_id = details["ticket_id"].as_i64().expect("the previous call got a ticket");
        assert_eq!(details["time_entry"]["timer_running"], false);
        let ticket = app.store.get_ticket(ticket_id).await.unwrap();
        assert_eq!((ticket.requester_id, ticket.assignee_id), (carl.id, Some(anna.id)));
        let note = &app.store.list_comments(ticket_id).await.unwrap()[0];
        assert!(note.body.contains("Call reference: prev-1") && note.body.contains("Queue: Support"), "{}", note.body);
        assert_eq!(detail(app, &key, "bens-1").await["ticket_id"], Value::Null, "another agent's call stays open");
        let pops = console.until("screen_pop").await;
        assert_eq!(pops.last().unwrap().data["call_reference_id"], "next-1");
    })
    .await;
}

#[tokio::test]
async fn a_freshdesk_call_can_be_read_and_patched_through_the_tpe_calls_api() {
    on_each_app(async |app| {
        let (agent, key) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        pop(app, &key, json!({"call_reference_id": "fd-1", "requester_phone": CALLER, "responder_id": agent.id})).await;
        let call = app.store.find_call_by_ref("freshdesk", "fd-1").await.unwrap().expect("the pop stored a call");

        let url = app.url(&format!("/api/v2/calls/{}", call.id));
        let read: Value = app.client.get(&url).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(read["call"]["id"], call.id);
        assert_eq!(read["call"]["external_id"], "fd-1", "the source's call id, as for Zammad calls");

        let patched = app
            .client
            .patch(&url)
            .bearer_auth(&key)
            .json(&json!({"call": {"call_disposition": "problem solved", "talk_time": 42}}))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 200);
        let stored = app.store.get_call(call.id).await.unwrap();
        assert_eq!(stored.data.talk_time, Some(42));
        assert_eq!(stored.data.details["call_disposition"], "problem solved");
    })
    .await;
}

#[tokio::test]
async fn admins_set_the_new_ticket_option_through_the_native_api_and_pops_follow_it() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (_, admin_key) = app.user(Role::Admin, "root@example.com", "pw").await;
        sign_in_console(app, &anna).await;
        let url = app.url("/api/hub/freshdesk/cti");
        let put = |token: &str, body: Value| app.client.put(&url).bearer_auth(token).json(&body).send();

        let shown: Value = app.client.get(&url).bearer_auth(&admin_key).send().await.unwrap().json().await.unwrap();
        assert_eq!(shown, json!({"new_ticket": false}));
        assert_eq!(put(&key, json!({"new_ticket": true})).await.unwrap().status(), 403, "agents may not");
        let typo = put(&admin_key, json!({"new_tickets": true})).await.unwrap();
        assert_eq!(typo.status(), 422, "a misspelled option is refused");
        let wrong = put(&admin_key, json!({"new_ticket": "yes"})).await.unwrap();
        assert_eq!(wrong.status(), 422);
        assert!(wrong.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("new_ticket"));

        let body = |reference: &str| json!({"requester_phone": CALLER, "responder_id": anna.id, "call_reference_id": reference});
        assert_eq!(pop(app, &key, body("opt-1")).await["ticket_id"], Value::Null, "off: the online agent decides");
        let saved = put(&admin_key, json!({"new_ticket": true})).await.unwrap();
        assert_eq!(saved.status(), 200);
        assert_eq!(saved.json::<Value>().await.unwrap(), json!({"new_ticket": true}));
        assert!(pop(app, &key, body("opt-2")).await["ticket_id"].is_i64(), "on: a ticket as the call comes in");
        put(&admin_key, json!({"new_ticket": false})).await.unwrap();
        assert_eq!(pop(app, &key, body("opt-3")).await["ticket_id"], Value::Null);
    })
    .await;
}
