//! The Zammad generic CTI push API and caller log, replayed as a PBX and Zammad scripts use them.

use ctihub_domain::cti::{BlockedCaller, NotifyRule, Route};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::{NewComment, NewTicket};
use ctihub_domain::user::{Email, NewUser, Role};
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app, on_each_app_in};

async fn log(app: &TestApp, token: &str) -> Value {
    let response = app.client.get(app.url("/api/v1/cti/log")).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The journal entry with this Zammad call id.
fn entry<'a>(log: &'a Value, call_id: &str) -> &'a Value {
    log["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["call_id"] == call_id)
        .unwrap_or_else(|| panic!("no {call_id} in {log}"))
}

#[tokio::test]
async fn checks_run_in_zammads_order_with_its_messages() {
    on_each_app(async |app| {
        let url = app.url("/api/v1/cti/zammad-token-0123456789");
        let body = "event=newCall&from=493055571600&to=491711234567890&direction=in&callId=1";
        assert_eq!(
            app.push(&url, body).await,
            (422, json!({"error": "Feature is disabled, please contact your administrator!"}))
        );
        let mut config = ctihub_web::cti::load_config(&app.store).await.unwrap();
        config.enabled = true;
        ctihub_web::cti::save_config(&app.store, &config).await.unwrap();
        assert_eq!(
            app.push(&url, body).await,
            (422, json!({"error": "Feature not configured, please contact your admin!"}))
        );

        let url = app.enable_cti(|_| {}).await;
        let wrong = app.url("/api/v1/cti/wrong-token");
        assert_eq!(app.push(&wrong, body).await, (401, json!({"error": "Invalid token, please contact your admin!"})));
        // A disabled integration answers 422 even to a wrong token: configuration is checked first.
        app.enable_cti(|c| c.enabled = false).await;
        assert_eq!(app.push(&wrong, body).await.0, 422);
        app.enable_cti(|_| {}).await;

        for direction in ["inbound", "", "IN"] {
            let body = format!("event=newCall&from=1&to=2&direction={direction}&callId=x");
            assert_eq!(app.push(&url, &body).await, (422, json!({"error": "Invalid 'direction'!"})), "{direction}");
        }
        let body = "event=hangup&callId=x&cause=normalClearing";
        assert_eq!(
            app.push(&url, body).await,
            (422, json!({"error": "Invalid 'direction'!"})),
            "checked on every event"
        );

        let (status, body) = app.push(&url, "event=ring&from=1&to=2&direction=in&callId=x").await;
        assert_eq!(status, 422);
        assert!(body["error"].as_str().unwrap().contains("Unknown event \"ring\""), "{body}");
        let (status, body) = app.push(&url, "event=newCall&from=1&to=2&direction=in").await;
        assert_eq!((status, body), (422, json!({"error": "Attribute 'callId' required!"})));
        let (status, body) = app.push(&url, "event=newCall&to=2&direction=in&callId=y").await;
        assert_eq!((status, body), (422, json!({"error": "Attribute 'from' required!"})));

        // The old documentation's path works too.
        let old = app.url("/api/v1/integration/cti/zammad-token-0123456789");
        assert_eq!(app.push(&old, "event=newCall&from=1&to=2&direction=in&callId=z").await, (200, json!({})));
    })
    .await;
}

#[tokio::test]
async fn the_docs_curl_examples_build_one_answered_call() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "john@example.com", "john's password").await;
        let url = app.enable_cti(|_| {}).await;
        // From the Zammad CTI documentation, verbatim.
        let new_call = "event=newCall&from=493055571600&to=491711234567890&direction=in&callId=123456&user[]=Alice&user[]=Bob";
        assert_eq!(app.push(&url, new_call).await, (200, json!({})));
        let ringing = log(app, &token).await;
        let e = entry(&ringing, "123456");
        assert_eq!(e["state"], "newCall");
        assert_eq!(e["direction"], "in");
        assert_eq!(e["to_comment"], "Alice, Bob");
        assert_eq!(e["queue"], "491711234567890");
        assert_eq!(e["done"], false, "a ringing inbound call needs attention");
        assert_eq!(e["from_pretty"], "+49 30 55571600");
        assert_eq!(e["start_at"], Value::Null);

        let answer = "event=answer&callId=123456&user=John+Doe&from=493055571600&to=491711234567890&direction=in&answeringNumber=21199999999";
        assert_eq!(app.push(&url, answer).await, (200, json!({})));
        let hangup = "event=hangup&cause=normalClearing&callId=123456&from=493055571600&to=491711234567890&direction=in&answeringNumber=4921199999999";
        assert_eq!(app.push(&url, hangup).await, (200, json!({})));

        let done = log(app, &token).await;
        let e = entry(&done, "123456");
        // Every field of the row, as Zammad renders it (times checked for shape, then masked).
        let mut masked = e.clone();
        for field in ["initialized_at", "start_at", "end_at", "created_at", "updated_at"] {
            let at = masked[field].as_str().unwrap_or_else(|| panic!("{field} missing"));
            assert!(at.len() == 24 && at.ends_with('Z'), "{field}: {at}");
            masked[field] = json!("T");
        }
        let id = e["id"].clone();
        assert_eq!(
            masked,
            json!({
                "id": id, "direction": "in", "state": "hangup",
                "from": "493055571600", "to": "491711234567890",
                "from_comment": null, "to_comment": "John Doe",
                "queue": "491711234567890", "call_id": "123456", "comment": "normalClearing",
                "initialized_at": "T", "start_at": "T", "end_at": "T",
                "duration_waiting_time": 0, "duration_talking_time": 0, "done": true,
                // The called number is one digit too long to be valid, so it is shown as sent.
                "preferences": {"from_pretty": "+49 30 55571600", "to_pretty": "491711234567890"},
                "created_at": "T", "updated_at": "T",
                "from_pretty": "+49 30 55571600", "to_pretty": "491711234567890",
            })
        );
        assert_eq!(e["state"], "hangup");
        assert_eq!(e["to_comment"], "John Doe");
        assert_eq!(e["comment"], "normalClearing");
        assert_eq!(e["done"], true);
        assert!(e["start_at"].as_str().unwrap().ends_with('Z'));
        assert!(e["end_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(e["duration_waiting_time"], 0);
        assert_eq!(e["duration_talking_time"], 0);
        assert_eq!(done["list"].as_array().unwrap().len(), 1, "three events, one journal entry");

        let call = app.store.find_call_by_ref("zammad", "123456").await.unwrap().unwrap();
        let events = app.store.list_call_events(call.id).await.unwrap();
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), vec!["newCall", "answer", "hangup"]);
        assert_eq!(events[0].payload["user"], json!(["Alice", "Bob"]), "every event is stored as sent");
    })
    .await;
}

/// Run a sequence of form bodies for one call id and return its log entry.
async fn sequence(app: &TestApp, url: &str, token: &str, call_id: &str, steps: &[&str]) -> Value {
    for step in steps {
        let body = format!("{step}&callId={call_id}&from=493055571600&to=4930600000000");
        let (status, answer) = app.push(url, &body).await;
        assert_eq!(status, 200, "{body} → {answer}");
    }
    entry(&log(app, token).await, call_id).clone()
}

#[tokio::test]
async fn every_hangup_cause_and_sequence_sets_done_as_zammad_does() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app.enable_cti(|_| {}).await;
        let new_in = "event=newCall&direction=in";
        let cases: &[(&str, &[&str], bool, Option<&str>)] = &[
            (
                "answered",
                &[new_in, "event=answer&direction=in&user=Agent", "event=hangup&direction=in&cause=normalClearing"],
                true,
                Some("normalClearing"),
            ),
            ("missed", &[new_in, "event=hangup&direction=in&cause=cancel"], false, Some("cancel")),
            ("busy", &[new_in, "event=hangup&direction=in&cause=busy"], false, Some("busy")),
            ("no-answer", &[new_in, "event=hangup&direction=in&cause=noAnswer"], false, Some("noAnswer")),
            ("congestion", &[new_in, "event=hangup&direction=in&cause=congestion"], false, Some("congestion")),
            ("not-found", &[new_in, "event=hangup&direction=in&cause=notFound"], false, Some("notFound")),
            ("forwarded", &[new_in, "event=hangup&direction=in&cause=forwarded"], true, Some("forwarded")),
            (
                "voicemail",
                &[new_in, "event=answer&direction=in&user=voicemail", "event=hangup&direction=in&cause=normalClearing"],
                false,
                Some("normalClearing"),
            ),
            (
                "outbound",
                &["event=newCall&direction=out&user[]=Agent", "event=hangup&direction=out&cause=cancel"],
                true,
                Some("cancel"),
            ),
        ];
        for (call_id, steps, done, cause) in cases {
            let e = sequence(app, &url, &token, call_id, steps).await;
            assert_eq!(e["done"], *done, "{call_id}: {e}");
            assert_eq!(e["comment"].as_str(), *cause, "{call_id}");
            assert_eq!(e["state"], "hangup", "{call_id}");
        }
        let voicemail = sequence(app, &url, &token, "voicemail", &[]).await;
        assert_eq!(voicemail["to_comment"], "voicemail");
        let outbound = sequence(app, &url, &token, "outbound", &[]).await;
        assert_eq!(outbound["direction"], "out");
        assert_eq!(outbound["from_comment"], "Agent");
        assert_eq!(outbound["queue"], "493055571600", "outbound queue defaults to from");
    })
    .await;
}

#[tokio::test]
async fn duplicated_and_reordered_events_never_fail() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app.enable_cti(|_| {}).await;
        let new_call = "event=newCall&direction=in";
        let e = sequence(app, &url, &token, "dup", &[new_call, new_call]).await;
        assert_eq!(log(app, &token).await["list"].as_array().unwrap().len(), 1, "a repeated newCall adds nothing");
        assert_eq!(e["state"], "newCall");

        // Hangup, then a late answer: the answer is recorded but changes nothing.
        let e = sequence(
            app,
            &url,
            &token,
            "late",
            &[new_call, "event=hangup&direction=in&cause=cancel", "event=answer&direction=in&user=Late"],
        )
        .await;
        assert_eq!(e["state"], "hangup");
        assert_eq!(e["done"], false);
        assert_eq!(e["to_comment"], Value::Null);

        // Events for a call whose newCall never arrived start the call.
        let e = sequence(app, &url, &token, "orphan", &["event=hangup&direction=in&cause=cancel"]).await;
        assert_eq!((e["state"].as_str(), e["done"].as_bool()), (Some("hangup"), Some(false)));
        let e = sequence(app, &url, &token, "orphan-answer", &["event=answer&direction=in&user=Agent"]).await;
        assert_eq!(e["state"], "answer");

        let call = app.store.find_call_by_ref("zammad", "late").await.unwrap().unwrap();
        assert_eq!(app.store.list_call_events(call.id).await.unwrap().len(), 3, "every acknowledged event is stored");
        let dup = app.store.find_call_by_ref("zammad", "dup").await.unwrap().unwrap();
        assert_eq!(app.store.list_call_events(dup.id).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn blocked_callers_are_rejected_and_outbound_caller_ids_rewritten() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app
            .enable_cti(|c| {
                c.inbound.block_caller_ids = vec![BlockedCaller { caller_id: "491715000000".into(), note: "spam".into() }];
                c.outbound.routing_table = vec![
                    Route { dest: "41*".into(), caller_id: "41715880339000".into(), note: String::new() },
                    Route { dest: "491714000000".into(), caller_id: "4930600000000".into(), note: String::new() },
                ];
            })
            .await;
        let blocked = "event=newCall&direction=in&from=491715000000&to=4930600000000&callId=b1";
        assert_eq!(app.push(&url, blocked).await, (200, json!({"action": "reject", "reason": "busy"})));
        // The same caller in national format is blocked too.
        let national = "event=newCall&direction=in&from=0171+5000000&to=4930600000000&callId=b2";
        assert_eq!(app.push(&url, national).await.1["action"], "reject");
        assert_eq!(app.push(&url, "event=hangup&direction=in&from=491715000000&to=4930600000000&callId=b1&cause=busy").await.0, 200);
        let e = entry(&log(app, &token).await, "b1").clone();
        assert_eq!((e["state"].as_str(), e["done"].as_bool()), (Some("hangup"), Some(false)));

        let out = "event=newCall&direction=out&from=4930600000099&to=41715880339111&callId=o1&user[]=Agent";
        assert_eq!(
            app.push(&url, out).await,
            (200, json!({"action": "dial", "caller_id": "41715880339000", "callerId": "41715880339000", "number": "41715880339111"}))
        );
        let e = entry(&log(app, &token).await, "o1").clone();
        assert_eq!(e["from"], "41715880339000", "the journal shows the caller id the customer saw");
        assert_eq!(e["queue"], "41715880339000");
        let no_route = "event=newCall&direction=out&from=4930600000099&to=4989123456&callId=o2";
        assert_eq!(app.push(&url, no_route).await, (200, json!({})));

        app.enable_cti(|c| c.outbound.default_caller_id = "4930609854180".into()).await;
        let defaulted = "event=newCall&direction=out&from=4930600000099&to=4989123456&callId=o3";
        assert_eq!(app.push(&url, defaulted).await.1["caller_id"], "4930609854180");
    })
    .await;
}

#[tokio::test]
async fn json_and_multipart_bodies_and_call_id_spellings_work() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app.enable_cti(|_| {}).await;
        let response = app
            .client
            .post(&url)
            .json(&json!({"event": "newCall", "from": "493055571600", "to": "4930600000000", "direction": "in",
                          "call_id": "j1", "callid": "ignored", "user": "Alice", "answeringNumber": "201"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let form = reqwest::multipart::Form::new()
            .text("event", "newCall")
            .text("from", "493055571600")
            .text("to", "4930600000000")
            .text("direction", "in")
            .text("callId", "m1")
            .text("call_id", "loses")
            .text("user[]", "Bob");
        let response = app.client.post(&url).multipart(form).send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let log = log(app, &token).await;
        assert_eq!(entry(&log, "j1")["to_comment"], "Alice");
        assert_eq!(entry(&log, "m1")["to_comment"], "Bob");
        let response =
            app.client.post(&url).header("content-type", "application/json").body("{oops").send().await.unwrap();
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn callers_are_identified_known_before_maybe_in_any_format() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app.enable_cti(|_| {}).await;
        let mut known = NewUser::new(Role::EndUser, "Known Caller");
        known.phones = vec![(PhoneKind::Phone, "030/5557-1600".into())];
        known.email = Some(Email::parse("known@example.com").unwrap());
        let known = app.store.create_user(known).await.unwrap();
        let writer = app.store.create_user(NewUser::new(Role::EndUser, "Signature Writer")).await.unwrap();
        app.store
            .create_ticket(NewTicket {
                subject: "Hello".into(),
                requester_id: writer.id,
                first_comment: Some(NewComment {
                    author_id: writer.id,
                    body: "Regards, Tel. +49 (0)30 5557 1600".into(),
                    public: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();

        app.push(&url, "event=newCall&direction=in&from=00493055571600&to=4930600000000&callId=k").await;
        let log_json = log(app, &token).await;
        let e = entry(&log_json, "k");
        assert_eq!(e["from_comment"], "Known Caller", "known hides maybe, as in Zammad's comment");
        let from = e["preferences"]["from"].as_array().unwrap();
        assert_eq!(from.len(), 2);
        assert_eq!((from[0]["level"].as_str(), from[0]["user_id"].as_i64()), (Some("known"), Some(known.id)));
        assert_eq!((from[1]["level"].as_str(), from[1]["user_id"].as_i64()), (Some("maybe"), Some(writer.id)));
        assert_eq!(log_json["assets"]["User"][known.id.to_string()]["firstname"], "Known");

        // Only a maybe match: Zammad's "maybe " prefix.
        let mut only_maybe = NewUser::new(Role::EndUser, "Only Maybe");
        only_maybe.email = Some(Email::parse("maybe@example.com").unwrap());
        let only_maybe = app.store.create_user(only_maybe).await.unwrap();
        app.store
            .create_ticket(NewTicket {
                subject: "Hi".into(),
                requester_id: only_maybe.id,
                first_comment: Some(NewComment {
                    author_id: only_maybe.id,
                    body: "ring 0221 9988776".into(),
                    public: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        app.push(&url, "event=newCall&direction=in&from=492219988776&to=4930600000000&callId=m").await;
        assert_eq!(entry(&log(app, &token).await, "m")["from_comment"], "maybe Only Maybe");

        // A user created after the call is shown on it (the journal identifies on read).
        app.push(&url, "event=newCall&direction=in&from=4940123456789&to=4930600000000&callId=later").await;
        assert_eq!(entry(&log(app, &token).await, "later")["from_comment"], Value::Null);
        let mut later = NewUser::new(Role::EndUser, "");
        later.name = "+49 40 123456789".into();
        later.phones = vec![(PhoneKind::Mobile, "040 123456789".into())];
        let later = app.store.create_user(later).await.unwrap();
        assert_eq!(entry(&log(app, &token).await, "later")["from_comment"], "+49 40 123456789");
        let call = app.store.find_call_by_ref("zammad", "later").await.unwrap().unwrap();
        assert_eq!(call.data.end_user_id, Some(later.id), "the stored call is re-attributed too");
    })
    .await;
}

#[tokio::test]
async fn caller_log_needs_an_agent_and_done_flags_can_be_set() {
    on_each_app_in("DE", async |app| {
        let (_, agent_token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let (_, customer_token) = app.user(Role::EndUser, "customer@example.com", "customer pw").await;
        let url = app.enable_cti(|_| {}).await;
        app.push(&url, "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=a").await;
        app.push(&url, "event=hangup&direction=in&from=493055571600&to=4930600000000&callId=a&cause=cancel").await;
        app.push(&url, "event=newCall&direction=in&from=493055571601&to=4930600000000&callId=b").await;

        let anonymous = app.client.get(app.url("/api/v1/cti/log")).send().await.unwrap();
        assert_eq!(anonymous.status(), 403);
        let customer = app.client.get(app.url("/api/v1/cti/log")).bearer_auth(&customer_token).send().await.unwrap();
        assert_eq!(customer.status(), 403);
        let with_password = app
            .client
            .get(app.url("/api/v1/cti/log"))
            .basic_auth("agent@example.com", Some("agent password"))
            .send()
            .await
            .unwrap();
        assert_eq!(with_password.status(), 200);

        let list = log(app, &agent_token).await;
        assert_eq!(list["list"][0]["call_id"], "b", "newest first");
        assert_eq!(
            list["backends"][0],
            json!({"name": "CTI (generic)", "enabled": true, "url": "#system/integration/cti"})
        );
        let a = entry(&list, "a")["id"].as_i64().unwrap();
        let b = entry(&list, "b")["id"].as_i64().unwrap();

        let response = app
            .client
            .post(app.url(&format!("/api/v1/cti/done/{a}")))
            .bearer_auth(&agent_token)
            .json(&json!({"done": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
        assert_eq!(entry(&log(app, &agent_token).await, "a")["done"], true);
        let response = app
            .client
            .post(app.url("/api/v1/cti/done/999999"))
            .bearer_auth(&agent_token)
            .json(&json!({"done": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        let response = app
            .client
            .post(app.url(&format!("/api/v1/cti/done/{a}")))
            .bearer_auth(&agent_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);

        let response = app
            .client
            .post(app.url("/api/v1/cti/done/bulk"))
            .bearer_auth(&agent_token)
            .json(&json!({"ids": [a, b]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let list = log(app, &agent_token).await;
        assert!(list["list"].as_array().unwrap().iter().all(|e| e["done"] == true));
    })
    .await;
}

#[tokio::test]
async fn the_notify_map_limits_each_agents_caller_log() {
    on_each_app_in("DE", async |app| {
        let (support, support_token) = app.user(Role::Agent, "support@example.com", "support pw").await;
        let (_, sales_token) = app.user(Role::Agent, "sales@example.com", "sales pw!").await;
        let url = app
            .enable_cti(|c| {
                c.notify_map = vec![NotifyRule { queue: "4930600000000".into(), user_ids: vec![support.id] }]
            })
            .await;
        app.push(&url, "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=s").await;
        app.push(&url, "event=newCall&direction=in&from=493055571600&to=4930600000001&callId=t").await;
        let support_log = log(app, &support_token).await;
        assert_eq!(support_log["list"].as_array().unwrap().len(), 1);
        assert_eq!(support_log["list"][0]["call_id"], "s");
        assert!(log(app, &sales_token).await["list"].as_array().unwrap().is_empty(), "an unmapped agent sees nothing");
        let hidden = app.store.find_call_by_ref("zammad", "t").await.unwrap().unwrap();
        let response = app
            .client
            .post(app.url(&format!("/api/v1/cti/done/{}", hidden.id)))
            .bearer_auth(&support_token)
            .json(&json!({"done": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "calls outside an agent's log cannot be flagged by them");
    })
    .await;
}

#[tokio::test]
async fn the_health_check_fails_once_events_cannot_be_made_durable() {
    on_each_app(async |app| {
        let url = app.enable_cti(|_| {}).await;
        let new_call = |id: &str| format!("event=newCall&from=5135557611&to=8005550100&direction=in&callId={id}");
        assert_eq!(app.push(&url, &new_call("1")).await, (200, json!({})));
        let health = |app: &TestApp| app.client.get(app.url("/healthz")).send();
        assert_eq!(health(app).await.unwrap().status(), 200);
        // On PostgreSQL each event is its own transaction: the server syncs, there is no log here.
        let Some(database) = app.sqlite_path() else { return };
        let mut log = database.as_os_str().to_owned();
        log.push("-wal");
        std::fs::remove_file(&log).unwrap();

        let (status, body) = app.push(&url, &new_call("2")).await;
        assert_eq!(status, 500, "{body}");
        let answer = health(app).await.unwrap();
        assert_eq!(answer.status(), 503);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["database"], "ok");
        assert!(body["events"].as_str().unwrap().contains("restart ctihub"), "{body}");
    })
    .await;
}
