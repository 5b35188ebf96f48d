//! The placetel Notify API, replayed with the payloads placetel documents and Zammad's placetel
//! spec sends: checks, event and cause mapping, the XML answers, device mapping, signatures.

use ctihub_domain::cti::{BlockedCaller, CtiConfig, RemoteUser, Route};
use ctihub_domain::user::Role;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{TestApp, on_each_app, on_each_app_in};

const TOKEN: &str = "placetel-token-0123456789";
const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Enable the placetel integration (and only it) with `config` tweaks; returns its URL.
async fn enable_placetel(app: &TestApp, tweak: impl FnOnce(&mut CtiConfig)) -> String {
    let mut config = ctihub_web::cti::load_config(&app.store).await.unwrap();
    config.placetel.enabled = true;
    config.placetel.token = Some(TOKEN.into());
    tweak(&mut config);
    ctihub_web::cti::save_config(&app.store, &config).await.unwrap();
    app.url(&format!("/api/v1/placetel/{TOKEN}"))
}

fn error(message: &str) -> String {
    format!("{DECL}<Response><Error>{message}</Error></Response>")
}

fn ok() -> String {
    format!("{DECL}<Response/>")
}

async fn log(app: &TestApp, token: &str) -> Value {
    let response = app.client.get(app.url("/api/v1/cti/log")).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn entry(log: &Value, call_id: &str) -> Value {
    log["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["call_id"] == call_id)
        .unwrap_or_else(|| panic!("no {call_id} in {log}"))
        .clone()
}

fn hmac_hex(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn checks_run_in_zammads_order_and_answer_in_xml() {
    on_each_app(async |app| {
        let url = app.url(&format!("/api/v1/placetel/{TOKEN}"));
        let body = "event=IncomingCall&from=01114100300&to=030600000000&call_id=4991155921769858278-1";
        let disabled = error("Feature is disabled, please contact your administrator!");
        assert_eq!(app.push_xml(&url, body, &[]).await, (422, disabled.clone()));
        enable_placetel(app, |c| c.placetel.token = None).await;
        assert_eq!(
            app.push_xml(&url, body, &[]).await,
            (422, error("Feature not configured, please contact your admin!"))
        );

        enable_placetel(app, |_| {}).await;
        // Zammad's spec: "does token check".
        let wrong = app.url("/api/v1/placetel/not_existing_token");
        assert_eq!(app.push_xml(&wrong, body, &[]).await, (401, error("Invalid token, please contact your admin!")));
        enable_placetel(app, |c| c.placetel.enabled = false).await;
        assert_eq!(app.push_xml(&wrong, body, &[]).await, (422, disabled), "configuration is checked first");
        enable_placetel(app, |_| {}).await;

        assert_eq!(
            app.push_xml(&url, "event=Ringing&from=1&to=2&call_id=x", &[]).await,
            (422, error("Unknown event \"Ringing\"; expected IncomingCall, OutgoingCall, CallAccepted or HungUp"))
        );
        assert_eq!(
            app.push_xml(&url, "from=1&to=2&call_id=x", &[]).await,
            (422, error("Attribute 'event' required (IncomingCall, OutgoingCall, CallAccepted or HungUp)!"))
        );
        assert_eq!(
            app.push_xml(&url, "event=IncomingCall&from=1&to=2", &[]).await,
            (422, error("Attribute 'call_id' required!"))
        );
        assert_eq!(
            app.push_xml(&url, "event=HungUp&call_id=x&type=missed&direction=sideways", &[]).await,
            (422, error("Invalid 'direction'!"))
        );
        assert_eq!(
            app.push_xml(&url, "event=OutgoingCall&from=1&call_id=x", &[]).await,
            (422, error("Attribute 'to' required!"))
        );
        assert_eq!(app.push_xml(&url, body, &[]).await, (200, ok()));
    })
    .await;
}

#[tokio::test]
async fn zammads_basic_call_spec_answers() {
    on_each_app_in("DE", async |app| {
        // Zammad's placetel spec configuration.
        let url = enable_placetel(app, |c| {
            c.inbound.block_caller_ids =
                vec![BlockedCaller { caller_id: "491715000000".into(), note: "some note".into() }];
            c.outbound.routing_table = vec![
                Route { dest: "41*".into(), caller_id: "41715880339000".into(), note: String::new() },
                Route { dest: "491714000000".into(), caller_id: "41715880339000".into(), note: String::new() },
            ];
            c.outbound.default_caller_id = "4930777000000".into();
        })
        .await;
        let incoming = "event=IncomingCall&from=01114100300&to=030600000000&call_id=4991155921769858278-1";
        assert_eq!(app.push_xml(&url, incoming, &[]).await, (200, ok()));
        let blocked = "event=IncomingCall&from=491715000000&to=030600000000&call_id=4991155921769858278-2";
        assert_eq!(
            app.push_xml(&url, blocked, &[]).await,
            (200, format!(r#"{DECL}<Response><Reject reason="busy"/></Response>"#))
        );
        let cases = [
            ("8621106404543334274-3", "01114100300", "4930777000000"),
            ("8621106404543334274-4", "491714000000", "41715880339000"),
            ("8621106404543334274-5", "4147110000000", "41715880339000"),
        ];
        for (call_id, to, caller_id) in cases {
            let body = format!("event=OutgoingCall&direction=out&from=030600000000&to={to}&call_id={call_id}");
            assert_eq!(
                app.push_xml(&url, &body, &[]).await,
                (
                    200,
                    format!(r#"{DECL}<Response><Dial callerId="{caller_id}"><Number>{to}</Number></Dial></Response>"#)
                ),
                "{to}"
            );
        }
        let call = app.store.find_call_by_ref("placetel", "8621106404543334274-3").await.unwrap().unwrap();
        assert_eq!(call.data.from_line, "4930777000000", "the journal shows the caller id the customer saw");
    })
    .await;
}

/// Post each body in turn; returns the log entry of `call_id`.
async fn sequence(app: &TestApp, url: &str, token: &str, call_id: &str, steps: &[&str]) -> Value {
    for step in steps {
        let body = format!("{step}&call_id={call_id}");
        let (status, answer) = app.push_xml(url, &body, &[]).await;
        assert_eq!((status, answer), (200, ok()), "{body}");
    }
    entry(&log(app, token).await, call_id)
}

#[tokio::test]
async fn zammads_log_call_spec_and_every_hangup_type() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = enable_placetel(app, |_| {}).await;
        let out = "event=OutgoingCall&direction=out&from=030600000000&to=01114100300";
        let inc = "event=IncomingCall&to=030600000000&from=01114100300";

        // Outbound, hung up by the agent: HungUp carries no direction; the call has it.
        let e = sequence(app, &url, &token, "1234567890-1", &[out, "event=HungUp&type=missed"]).await;
        assert_eq!((e["direction"].as_str(), e["state"].as_str()), (Some("out"), Some("hangup")));
        assert_eq!((e["comment"].as_str(), e["done"].as_bool()), (Some("cancel"), Some(true)));
        assert_eq!(e["start_at"], Value::Null);

        // Outbound, answered by the customer.
        let e = sequence(
            app,
            &url,
            &token,
            "1234567890-2",
            &[
                out,
                "event=CallAccepted&from=030600000000&to=01114100300",
                "event=HungUp&type=accepted&from=030600000000&to=01114100300",
            ],
        )
        .await;
        assert_eq!((e["direction"].as_str(), e["comment"].as_str()), (Some("out"), Some("normalClearing")));
        assert_eq!(e["done"], true);
        assert!(e["start_at"].is_string());

        // Inbound, answered.
        let e = sequence(
            app,
            &url,
            &token,
            "1234567890-3",
            &[inc, "event=CallAccepted&to=030600000000&from=01114100300", "event=HungUp&type=accepted"],
        )
        .await;
        assert_eq!((e["direction"].as_str(), e["comment"].as_str()), (Some("in"), Some("normalClearing")));
        assert_eq!((e["done"].as_bool(), e["to_comment"].as_str()), (Some(true), None));

        // Inbound, answered by the voicemail: still needs a callback.
        let e = sequence(
            app,
            &url,
            &token,
            "1234567890-4",
            &[inc, "event=CallAccepted&to=030600000000&from=01114100300&user=voicemail", "event=HungUp&type=accepted"],
        )
        .await;
        assert_eq!((e["to_comment"].as_str(), e["done"].as_bool()), (Some("voicemail"), Some(false)));

        // Inbound, never answered.
        let e = sequence(app, &url, &token, "1234567890-5", &[inc, "event=HungUp&type=accepted"]).await;
        assert_eq!((e["done"].as_bool(), e["start_at"].as_str()), (Some(false), None));

        // Every documented type, inbound and outbound, becomes a cause.
        let types = [
            (inc, "missed", "cancel", false),
            (inc, "voicemail", "voicemail", false),
            (inc, "blocked", "blocked", false),
            (out, "busy", "busy", true),
            (out, "canceled", "cancel", true),
            (out, "unavailable", "notFound", true),
            (out, "congestion", "congestion", true),
        ];
        for (new_call, placetel_type, cause, done) in types {
            let call_id = format!("type-{placetel_type}");
            let hangup = format!("event=HungUp&type={placetel_type}&duration=0");
            let e = sequence(app, &url, &token, &call_id, &[new_call, &hangup]).await;
            assert_eq!((e["comment"].as_str(), e["done"].as_bool()), (Some(cause), Some(done)), "{placetel_type}");
        }

        // A HungUp for a call ctihub never heard of is recorded as an inbound call.
        let e = sequence(app, &url, &token, "orphan", &["event=HungUp&type=missed&from=0301234&to=030600000000"]).await;
        assert_eq!((e["direction"].as_str(), e["state"].as_str()), (Some("in"), Some("hangup")));
        // An explicit direction on HungUp is honoured.
        let e = sequence(app, &url, &token, "orphan-out", &["event=HungUp&type=busy&direction=out&from=1&to=2"]).await;
        assert_eq!(e["direction"], "out");

        // A retried event changes nothing.
        let e = sequence(app, &url, &token, "1234567890-1", &["event=HungUp&type=accepted"]).await;
        assert_eq!(e["comment"], "cancel");
        let call = app.store.find_call_by_ref("placetel", "1234567890-1").await.unwrap().unwrap();
        let events = app.store.list_call_events(call.id).await.unwrap();
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["newCall", "hangup", "hangup"]);
        assert_eq!(events[1].payload["type"], "missed", "events are stored as placetel sent them");
    })
    .await;
}

#[tokio::test]
async fn peers_map_to_agents() {
    on_each_app_in("DE", async |app| {
        let (bob, token) = app.user(Role::Agent, "bob@example.com", "bob's password").await;
        let url = enable_placetel(app, |c| {
            c.placetel.user_device_map =
                vec![RemoteUser { remote_id: "777008478072@example.com".into(), user_id: bob.id }];
        })
        .await;

        let ring = "event=IncomingCall&direction=in&to=030600000000&from=012345&peer=777008478072@example.com";
        let e = sequence(app, &url, &token, "p1", &[ring]).await;
        assert_eq!(e["to_comment"], "bob", "the peer's user is named");
        let accepted = "event=CallAccepted&direction=in&to=030600000000&from=012345&peer=777008478072%40example.com";
        let e = sequence(app, &url, &token, "p1", &[accepted]).await;
        assert_eq!((e["state"].as_str(), e["to_comment"].as_str()), (Some("answer"), Some("bob")));
        let call = app.store.find_call_by_ref("placetel", "p1").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, Some(bob.id));

        // An unmapped peer names nobody.
        let accepted = "event=CallAccepted&to=030600000000&from=012345&peer=777000000000@example.com";
        sequence(app, &url, &token, "p2", &["event=IncomingCall&to=030600000000&from=012345", accepted]).await;
        let call = app.store.find_call_by_ref("placetel", "p2").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, None);

        // An internal outbound call names its calling device in `from`.
        let internal = "event=OutgoingCall&direction=out&to=099999222222&from=777008478072@example.com";
        let e = sequence(app, &url, &token, "p3", &[internal]).await;
        assert_eq!((e["from"].as_str(), e["from_comment"].as_str()), (Some("777008478072@example.com"), Some("bob")));
        let outgoing =
            "event=OutgoingCall&direction=out&to=099999222222&from=030600000000&peer=777008478072@example.com";
        let e = sequence(app, &url, &token, "p4", &[outgoing]).await;
        assert_eq!(e["from_comment"], "bob");
    })
    .await;
}

#[tokio::test]
async fn signed_requests_verify_against_the_shared_secret() {
    on_each_app(async |app| {
        let secret = "placetel shared secret";
        let url = enable_placetel(app, |c| c.placetel.secret = Some(secret.into())).await;
        let body = "event=IncomingCall&from=01114100300&to=030600000000&call_id=s1";
        let signature = hmac_hex(secret, body);

        assert_eq!(
            app.push_xml(&url, body, &[]).await,
            (401, error("Signature missing, the X-PLACETEL-SIGNATURE header is required!"))
        );
        let invalid = (401, error("Invalid signature, X-PLACETEL-SIGNATURE does not match the body!"));
        let tampered = body.replace("01114100300", "01114100301");
        assert_eq!(app.push_xml(&url, &tampered, &[("x-placetel-signature", &signature)]).await, invalid);
        let other_secret = hmac_hex("another secret", body);
        assert_eq!(app.push_xml(&url, body, &[("X-PLACETEL-SIGNATURE", &other_secret)]).await, invalid);
        assert_eq!(app.push_xml(&url, body, &[("x-placetel-signature", "xyz")]).await, invalid);
        assert!(app.store.find_call_by_ref("placetel", "s1").await.unwrap().is_none(), "nothing unsigned is stored");

        assert_eq!(app.push_xml(&url, body, &[("X-PLACETEL-SIGNATURE", &signature)]).await, (200, ok()));
        let hangup = "event=HungUp&call_id=s1&type=missed";
        let upper = hmac_hex(secret, hangup).to_uppercase();
        assert_eq!(app.push_xml(&url, hangup, &[("x-placetel-signature", &upper)]).await, (200, ok()));
        let call = app.store.find_call_by_ref("placetel", "s1").await.unwrap().unwrap();
        assert_eq!(call.data.hangup_cause.as_deref(), Some("cancel"));

        // The token is still checked first.
        let wrong = app.url("/api/v1/placetel/wrong-token");
        assert_eq!(
            app.push_xml(&wrong, body, &[("x-placetel-signature", &signature)]).await,
            (401, error("Invalid token, please contact your admin!"))
        );
    })
    .await;
}

#[tokio::test]
async fn an_admin_sets_it_up_through_the_admin_api_as_the_guide_says() {
    on_each_app(async |app| {
        let (agent, _) = app.user(Role::Agent, "anna@example.com", "anna's password").await;
        app.user(Role::Admin, "admin@example.com", "admin password").await;
        let config_url = app.url("/api/hub/cti/config");
        let current: Value = app
            .client
            .get(&config_url)
            .basic_auth("admin@example.com", Some("admin password"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut config = current["config"].clone();
        config["placetel"]["enabled"] = true.into();
        config["placetel"]["token"] = TOKEN.into();
        config["placetel"]["secret"] = "s3cret".into();
        config["placetel"]["user_device_map"] =
            serde_json::json!([{"remote_id": "777008478072@fpbx.de", "user_id": agent.id}]);
        let response = app
            .client
            .put(&config_url)
            .basic_auth("admin@example.com", Some("admin password"))
            .json(&config)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        let url = app.url(&format!("/api/v1/placetel/{TOKEN}"));
        let incoming = "event=IncomingCall&from=01114100300&to=030600000000&call_id=a1";
        let accepted = "event=CallAccepted&from=01114100300&to=030600000000&call_id=a1&peer=777008478072%40fpbx.de";
        for body in [incoming, accepted] {
            let signature = hmac_hex("s3cret", body);
            assert_eq!(app.push_xml(&url, body, &[("x-placetel-signature", &signature)]).await, (200, ok()));
        }
        let call = app.store.find_call_by_ref("placetel", "a1").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, Some(agent.id));
    })
    .await;
}

/// A change saved between two requests holds at the second, though the first left the
/// configuration cached: the writer finds the change and the request is admitted again.
#[tokio::test]
async fn a_saved_change_holds_at_the_next_request() {
    on_each_app_in("DE", async |app| {
        let url = enable_placetel(app, |_| {}).await;
        let ring = |id: &str| format!("event=IncomingCall&from=491715000000&to=030600000000&call_id={id}");
        assert_eq!(app.push_xml(&url, &ring("p1"), &[]).await, (200, ok()));

        enable_placetel(app, |c| {
            c.inbound.block_caller_ids = vec![BlockedCaller { caller_id: "491715000000".into(), note: "spam".into() }];
        })
        .await;
        let reject = format!(r#"{DECL}<Response><Reject reason="busy"/></Response>"#);
        assert_eq!(app.push_xml(&url, &ring("p2"), &[]).await, (200, reject));

        let mut config = ctihub_web::cti::load_config(&app.store).await.unwrap();
        config.placetel.token = Some("another-placetel-token-0123".into());
        ctihub_web::cti::save_config(&app.store, &config).await.unwrap();
        let refused = (401, error("Invalid token, please contact your admin!"));
        assert_eq!(app.push_xml(&url, &ring("p3"), &[]).await, refused);
        assert!(app.store.find_call_by_ref("placetel", "p3").await.unwrap().is_none());
    })
    .await;
}
