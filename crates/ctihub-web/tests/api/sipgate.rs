//! The sipgate.io push API, replayed with the payloads sipgate documents and Zammad's sipgate
//! spec sends: checks, XML answers, the journal they build, user mapping and signatures.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ctihub_domain::call::ExternalRef;
use ctihub_domain::cti::{BlockedCaller, CtiConfig, RemoteUser, Route};
use ctihub_domain::user::Role;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{TestApp, on_each_app, on_each_app_in};

const TOKEN: &str = "sipgate-token-0123456789";
const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Enable the sipgate integration (and only it) with `config` tweaks; returns the inbound URL.
async fn enable_sipgate(app: &TestApp, tweak: impl FnOnce(&mut CtiConfig)) -> String {
    let mut config = ctihub_web::cti::load_config(&app.store).await.unwrap();
    config.sipgate.enabled = true;
    config.sipgate.token = Some(TOKEN.into());
    tweak(&mut config);
    ctihub_web::cti::save_config(&app.store, &config).await.unwrap();
    app.url(&format!("/api/v1/sipgate/{TOKEN}/in"))
}

fn error(message: &str) -> String {
    format!("{DECL}<Response><Error>{message}</Error></Response>")
}

/// The OK answer to a request with this direction that came to the test app.
fn subscribed(app: &TestApp, direction: &str, action: Option<&str>) -> String {
    let url = app.url(&format!("/api/v1/sipgate/{TOKEN}/{direction}"));
    match action {
        None => format!(r#"{DECL}<Response onHangup="{url}" onAnswer="{url}"/>"#),
        Some(action) => format!(r#"{DECL}<Response onHangup="{url}" onAnswer="{url}">{action}</Response>"#),
    }
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

fn sign(body: &str) -> String {
    let key = RsaPrivateKey::from_pkcs8_pem(include_str!("data/sipgate-test-private.pem")).unwrap();
    BASE64.encode(SigningKey::<Sha256>::new(key).sign(body.as_bytes()).to_vec())
}

#[tokio::test]
async fn checks_run_in_zammads_order_and_answer_in_xml() {
    on_each_app(async |app| {
        let url = app.url(&format!("/api/v1/sipgate/{TOKEN}/in"));
        let body = "event=newCall&direction=in&from=4912347114711&to=4930600000000&callId=c1&user%5B%5D=user+1";
        let disabled = error("Feature is disabled, please contact your administrator!");
        assert_eq!(app.push_xml(&url, body, &[]).await, (422, disabled.clone()));
        // The generic integration being on does not open the sipgate endpoint.
        app.enable_cti(|_| {}).await;
        assert_eq!(app.push_xml(&url, body, &[]).await, (422, disabled));

        let mut config = ctihub_web::cti::load_config(&app.store).await.unwrap();
        config.sipgate.enabled = true;
        ctihub_web::cti::save_config(&app.store, &config).await.unwrap();
        let unconfigured = error("Feature not configured, please contact your admin!");
        assert_eq!(app.push_xml(&url, body, &[]).await, (422, unconfigured));

        enable_sipgate(app, |_| {}).await;
        let invalid_token = (401, error("Invalid token, please contact your admin!"));
        let wrong = app.url("/api/v1/sipgate/wrong-token/in");
        assert_eq!(app.push_xml(&wrong, body, &[]).await, invalid_token);
        let generic_token = app.url("/api/v1/sipgate/zammad-token-0123456789/in");
        assert_eq!(app.push_xml(&generic_token, body, &[]).await, invalid_token, "each integration has its token");
        enable_sipgate(app, |c| c.sipgate.enabled = false).await;
        assert_eq!(app.push_xml(&wrong, body, &[]).await.0, 422, "configuration is checked before the token");
        enable_sipgate(app, |_| {}).await;

        // Zammad answers 500 here; a PBX admin deserves to read what is wrong.
        for direction in ["", "inbound", "IN"] {
            let body = format!("event=newCall&direction={direction}&from=1&to=2&callId=x");
            assert_eq!(app.push_xml(&url, &body, &[]).await, (422, error("Invalid 'direction'!")), "{direction}");
        }
        assert_eq!(
            app.push_xml(&url, "event=ring&direction=in&from=1&to=2&callId=x", &[]).await,
            (422, error("Unknown event \"ring\"; expected newCall, answer, hangup or dtmf"))
        );
        assert_eq!(
            app.push_xml(&url, "event=newCall&direction=in&from=1&to=2", &[]).await,
            (422, error("Attribute 'callId' required!"))
        );
        assert_eq!(
            app.push_xml(&url, "event=newCall&direction=in&to=2&callId=y", &[]).await,
            (422, error("Attribute 'from' required!"))
        );

        // The path suffix is informative; the direction param decides, and Zammad's trailing
        // slash works.
        let out_url = app.url(&format!("/api/v1/sipgate/{TOKEN}/out/"));
        let (status, answer) = app.push_xml(&out_url, body, &[]).await;
        assert_eq!((status, answer), (200, subscribed(app, "in", None)));
    })
    .await;
}

#[tokio::test]
async fn an_answered_inbound_call_from_the_documented_payloads() {
    on_each_app_in("DE", async |app| {
        let (agent, token) = app.user(Role::Agent, "john@example.com", "john's password").await;
        let url = enable_sipgate(app, |c| {
            c.sipgate.user_remote_map = vec![RemoteUser { remote_id: "w1".into(), user_id: agent.id }];
        })
        .await;
        // Group ringing: two users, each with their ids, plus the ids newer sipgate docs add.
        let new_call = "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=4991155921769858278-1\
            &origCallId=4991155921769858278-0&xcid=abc123&user%5B%5D=user+1&user%5B%5D=user+2\
            &userId%5B%5D=w0&userId%5B%5D=w1&fullUserId%5B%5D=1234567w0&fullUserId%5B%5D=1234567w1";
        assert_eq!(app.push_xml(&url, new_call, &[]).await, (200, subscribed(app, "in", None)));
        let e = entry(&log(app, &token).await, "4991155921769858278-1");
        assert_eq!((e["state"].as_str(), e["direction"].as_str()), (Some("newCall"), Some("in")));
        assert_eq!(e["to_comment"], "user 1, user 2");
        assert_eq!(e["done"], false);
        let call = app.store.find_call_by_ref("sipgate", "4991155921769858278-1").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, None, "nobody answered yet");

        let answer = "event=answer&direction=in&from=493055571600&to=4930600000000&callId=4991155921769858278-1\
            &user=user+2&userId=w1&fullUserId=1234567w1&answeringNumber=4930600000001";
        assert_eq!(app.push_xml(&url, answer, &[]).await, (200, subscribed(app, "in", None)));
        let call = app.store.find_call_by_ref("sipgate", "4991155921769858278-1").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, Some(agent.id), "userId w1 is mapped to the agent");
        assert_eq!(call.data.details["answering_number"], "4930600000001");

        let hangup = "event=hangup&direction=in&from=493055571600&to=4930600000000&callId=4991155921769858278-1\
            &cause=normalClearing&answeringNumber=4930600000001";
        assert_eq!(app.push_xml(&url, hangup, &[]).await, (200, subscribed(app, "in", None)));
        let e = entry(&log(app, &token).await, "4991155921769858278-1");
        assert_eq!(e["state"], "hangup");
        assert_eq!(e["to_comment"], "user 2");
        assert_eq!(e["comment"], "normalClearing");
        assert_eq!(e["done"], true);
        assert_eq!(e["from_pretty"], "+49 30 55571600");

        let events = app.store.list_call_events(call.id).await.unwrap();
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["newCall", "answer", "hangup"]);
        assert!(events.iter().all(|e| e.source == "sipgate"));
        let first = &events[0].payload;
        assert_eq!(first["origCallId"], "4991155921769858278-0", "every id sipgate sends is kept");
        assert_eq!(first["xcid"], "abc123");
        assert_eq!(first["fullUserId"], serde_json::json!(["1234567w0", "1234567w1"]));

        // An unmapped sipgate user falls back to the name, as on the generic endpoint.
        let new_call = "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=c2&user%5B%5D=john";
        app.push_xml(&url, new_call, &[]).await;
        let answer = "event=answer&direction=in&from=493055571600&to=4930600000000&callId=c2&user=john&userId=w9";
        assert_eq!(app.push_xml(&url, answer, &[]).await.0, 200);
        let call = app.store.find_call_by_ref("sipgate", "c2").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, Some(agent.id));
    })
    .await;
}

#[tokio::test]
async fn the_follow_up_urls_name_the_address_the_request_came_to() {
    on_each_app(async |app| {
        let url = enable_sipgate(app, |_| {}).await;
        let body = "event=newCall&direction=out&from=4930600000000&to=4912347114711&callId=u1&user%5B%5D=user+1";
        let behind_proxy = [("host", "hub.example.com"), ("x-forwarded-proto", "https")];
        let expected = format!("https://hub.example.com/api/v1/sipgate/{TOKEN}/out");
        assert_eq!(
            app.push_xml(&url, body, &behind_proxy).await,
            (200, format!(r#"{DECL}<Response onHangup="{expected}" onAnswer="{expected}"/>"#))
        );
        // A token with characters that need escaping in a URL, and a host with a port.
        enable_sipgate(app, |c| c.sipgate.token = Some("a&b c".into())).await;
        let escaped = app.url("/api/v1/sipgate/a&b%20c/in");
        let expected = "http://hub.example.com:8080/api/v1/sipgate/a%26b%20c/out";
        assert_eq!(
            app.push_xml(&escaped, body.replace("u1", "u2").as_str(), &[("host", "hub.example.com:8080")]).await,
            (200, format!(r#"{DECL}<Response onHangup="{expected}" onAnswer="{expected}"/>"#))
        );
    })
    .await;
}

/// Run a sequence of form bodies for one call id; returns its log entry.
async fn sequence(app: &TestApp, url: &str, token: &str, call_id: &str, steps: &[&str]) -> Value {
    for step in steps {
        let body = format!("{step}&callId={call_id}&from=4912347114711&to=4930600000000");
        let (status, answer) = app.push_xml(url, &body, &[]).await;
        assert_eq!(status, 200, "{body} → {answer}");
    }
    entry(&log(app, token).await, call_id)
}

#[tokio::test]
async fn every_sipgate_cause_sets_done_as_zammad_does() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = enable_sipgate(app, |_| {}).await;
        let ring = "event=newCall&direction=in&user%5B%5D=user+1";
        let cases: &[(&str, &[&str], bool, &str)] = &[
            (
                "answered",
                &[ring, "event=answer&direction=in&user=user+1", "event=hangup&direction=in&cause=normalClearing"],
                true,
                "normalClearing",
            ),
            ("missed", &[ring, "event=hangup&direction=in&cause=cancel"], false, "cancel"),
            ("busy", &[ring, "event=hangup&direction=in&cause=busy"], false, "busy"),
            ("dnd", &[ring, "event=hangup&direction=in&cause=noAnswer"], false, "noAnswer"),
            ("unreachable", &[ring, "event=hangup&direction=in&cause=congestion"], false, "congestion"),
            ("offline", &[ring, "event=hangup&direction=in&cause=notFound"], false, "notFound"),
            ("forwarded", &[ring, "event=hangup&direction=in&cause=forwarded"], true, "forwarded"),
            (
                "voicemail",
                &[ring, "event=answer&direction=in&user=voicemail", "event=hangup&direction=in&cause=normalClearing"],
                false,
                "normalClearing",
            ),
            (
                "outbound",
                &["event=newCall&direction=out&user%5B%5D=user+1", "event=hangup&direction=out&cause=busy"],
                true,
                "busy",
            ),
        ];
        for (call_id, steps, done, cause) in cases {
            let e = sequence(app, &url, &token, call_id, steps).await;
            assert_eq!(e["done"], *done, "{call_id}: {e}");
            assert_eq!(e["comment"], *cause, "{call_id}");
            assert_eq!(e["state"], "hangup", "{call_id}");
        }
        assert_eq!(sequence(app, &url, &token, "voicemail", &[]).await["to_comment"], "voicemail");
        let outbound = sequence(app, &url, &token, "outbound", &[]).await;
        assert_eq!((outbound["direction"].as_str(), outbound["from_comment"].as_str()), (Some("out"), Some("user 1")));

        // A forward is a new call with `diversion`; the first leg is not missed (see above) and
        // the second is a call of its own.
        let diverted = "event=newCall&direction=in&user%5B%5D=user+2&diversion=4930600000000";
        let e = sequence(app, &url, &token, "forwarded-leg-2", &[diverted]).await;
        assert_eq!(e["state"], "newCall");
        let call = app.store.find_call_by_ref("sipgate", "forwarded-leg-2").await.unwrap().unwrap();
        let events = app.store.list_call_events(call.id).await.unwrap();
        assert_eq!(events[0].payload["diversion"], "4930600000000");

        // A repeated event changes nothing and does not fail.
        let e = sequence(app, &url, &token, "missed", &["event=hangup&direction=in&cause=cancel"]).await;
        assert_eq!((e["done"].as_bool(), e["comment"].as_str()), (Some(false), Some("cancel")));
    })
    .await;
}

#[tokio::test]
async fn blocked_callers_get_reject_and_outbound_calls_a_dial() {
    on_each_app_in("DE", async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        // Zammad's sipgate spec configuration.
        let url = enable_sipgate(app, |c| {
            c.inbound.block_caller_ids =
                vec![BlockedCaller { caller_id: "491715000000".into(), note: "some note".into() }];
            c.outbound.routing_table = vec![
                Route { dest: "41*".into(), caller_id: "41715880339000".into(), note: String::new() },
                Route { dest: "491714000000".into(), caller_id: "41715880339000".into(), note: String::new() },
            ];
            c.outbound.default_caller_id = "4930777000000".into();
        })
        .await;
        let out_url = app.url(&format!("/api/v1/sipgate/{TOKEN}/out"));

        let blocked = "event=newCall&direction=in&from=491715000000&to=4930600000000&callId=4991155921769858278-2\
            &user%5B%5D=user+1&user%5B%5D=user+2";
        let reject = subscribed(app, "in", Some(r#"<Reject reason="busy"/>"#));
        assert_eq!(app.push_xml(&url, blocked, &[]).await, (200, reject));
        let e = entry(&log(app, &token).await, "4991155921769858278-2");
        assert_eq!((e["state"].as_str(), e["done"].as_bool()), (Some("newCall"), Some(false)), "recorded, like Zammad");

        let cases = [
            ("8621106404543334274-3", "4912347114711", "4930777000000"),
            ("8621106404543334274-4", "491714000000", "41715880339000"),
            ("8621106404543334274-5", "4147110000000", "41715880339000"),
        ];
        for (call_id, to, caller_id) in cases {
            let body =
                format!("event=newCall&direction=out&from=4930600000000&to={to}&callId={call_id}&user%5B%5D=user+1");
            let dial = format!(r#"<Dial callerId="{caller_id}"><Number>{to}</Number></Dial>"#);
            assert_eq!(app.push_xml(&out_url, &body, &[]).await, (200, subscribed(app, "out", Some(&dial))), "{to}");
        }
        let e = entry(&log(app, &token).await, "8621106404543334274-3");
        assert_eq!(e["from"], "4930777000000", "the journal shows the caller id the customer saw");
        assert_eq!(e["from_comment"], "user 1");
        assert_eq!(e["done"], true);

        // The follow-up events of a rewritten call find it.
        let hangup = "event=hangup&direction=out&callId=8621106404543334274-3&cause=cancel";
        assert_eq!(app.push_xml(&out_url, hangup, &[]).await, (200, subscribed(app, "out", None)));
        let e = entry(&log(app, &token).await, "8621106404543334274-3");
        assert_eq!((e["state"].as_str(), e["comment"].as_str()), (Some("hangup"), Some("cancel")));
    })
    .await;
}

#[tokio::test]
async fn dtmf_is_stored_with_its_call_and_never_fails() {
    on_each_app(async |app| {
        let url = enable_sipgate(app, |_| {}).await;
        let new_call = "event=newCall&direction=in&from=4912347114711&to=4930600000000&callId=d1&user%5B%5D=user+1";
        app.push_xml(&url, new_call, &[]).await;
        let plain_ok = format!("{DECL}<Response/>");
        assert_eq!(app.push_xml(&url, "event=dtmf&dtmf=123&callId=d1", &[]).await, (200, plain_ok.clone()));
        // A Gather that timed out sends no digits.
        assert_eq!(app.push_xml(&url, "event=dtmf&dtmf=&callId=d1", &[]).await, (200, plain_ok.clone()));
        assert_eq!(app.push_xml(&url, "event=dtmf&dtmf=9&callId=unknown", &[]).await, (200, plain_ok));
        assert_eq!(app.push_xml(&url, "event=dtmf&dtmf=9", &[]).await, (422, error("Attribute 'callId' required!")));

        let call = app.store.find_call_by_ref("sipgate", "d1").await.unwrap().unwrap();
        let events = app.store.list_call_events(call.id).await.unwrap();
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["newCall", "dtmf", "dtmf"]);
        assert_eq!(events[1].payload["dtmf"], "123");
        assert_eq!(events[2].payload["dtmf"], "");
        assert_eq!(app.store.get_call(call.id).await.unwrap().data.state.as_str(), "ringing", "digits change nothing");
        assert!(app.store.find_call_by_ref("sipgate", "unknown").await.unwrap().is_none());

        // Digits for a call not known yet are kept, and join the call when its newCall comes.
        let early = ExternalRef::new("sipgate", "unknown");
        assert_eq!(app.store.parked_call_events(&early).await.unwrap(), 1);
        let late_call = "event=newCall&direction=in&from=4912347114711&to=4930600000000&callId=unknown";
        assert_eq!(app.push_xml(&url, late_call, &[]).await.0, 200);
        let call = app.store.find_call_by_ref("sipgate", "unknown").await.unwrap().unwrap();
        let kinds: Vec<String> =
            app.store.list_call_events(call.id).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["dtmf", "newCall"], "in the order they arrived");
        assert_eq!(app.store.parked_call_events(&early).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn signed_requests_verify_against_the_configured_key() {
    on_each_app(async |app| {
        let url = enable_sipgate(app, |c| {
            c.sipgate.public_key_pem = Some(include_str!("data/sipgate-test-public.pem").into());
        })
        .await;
        let body = "event=newCall&direction=in&from=4912347114711&to=4930600000000&callId=s1&user%5B%5D=user+1";
        let signature = sign(body);

        assert_eq!(
            app.push_xml(&url, body, &[]).await,
            (401, error("Signature missing, the X-Sipgate-Signature header is required!"))
        );
        let invalid =
            (401, error("Invalid signature, X-Sipgate-Signature does not verify with the configured public key!"));
        let tampered = body.replace("4912347114711", "4912347114712");
        assert_eq!(app.push_xml(&url, &tampered, &[("x-sipgate-signature", &signature)]).await, invalid);
        assert_eq!(app.push_xml(&url, body, &[("x-sipgate-signature", "not base64!")]).await, invalid);
        assert_eq!(app.push_xml(&url, body, &[("x-sipgate-signature", "AAAA")]).await, invalid);
        assert!(app.store.find_call_by_ref("sipgate", "s1").await.unwrap().is_none(), "nothing unsigned is stored");

        assert_eq!(
            app.push_xml(&url, body, &[("x-sipgate-signature", &signature)]).await,
            (200, subscribed(app, "in", None))
        );
        assert!(app.store.find_call_by_ref("sipgate", "s1").await.unwrap().is_some());
        // The token is still checked first.
        let wrong = app.url("/api/v1/sipgate/wrong-token/in");
        assert_eq!(app.push_xml(&wrong, body, &[("x-sipgate-signature", &signature)]).await.0, 401);

        // The same key written as PKCS#1 works, and so does a 4096-bit key like sipgate's own.
        enable_sipgate(app, |c| {
            c.sipgate.public_key_pem = Some(include_str!("data/sipgate-test-public-pkcs1.pem").into());
        })
        .await;
        let body = "event=hangup&direction=in&callId=s1&cause=normalClearing";
        assert_eq!(app.push_xml(&url, body, &[("x-sipgate-signature", &sign(body))]).await.0, 200);
        enable_sipgate(app, |c| {
            c.sipgate.public_key_pem = Some(include_str!("data/sipgate-test-4096-public.pem").into());
        })
        .await;
        let body = "event=newCall&direction=in&from=492111234567&to=4921100000000&callId=sig4096&user%5B%5D=Alice";
        let signature = include_str!("data/sipgate-test-4096-signature.b64").trim();
        assert_eq!(app.push_xml(&url, body, &[("x-sipgate-signature", signature)]).await.0, 200);
        assert_eq!(app.push_xml(&url, body, &[("x-sipgate-signature", &sign(body))]).await, invalid);

        // A key that cannot be read is the admin's to fix, not the PBX's.
        enable_sipgate(app, |c| c.sipgate.public_key_pem = Some("-----BEGIN PUBLIC KEY-----\nnope".into())).await;
        assert_eq!(
            app.push_xml(&url, body, &[("x-sipgate-signature", signature)]).await,
            (422, error("Feature not configured, the sipgate public key cannot be read, please contact your admin!"))
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
        config["sipgate"]["enabled"] = true.into();
        config["sipgate"]["token"] = TOKEN.into();
        config["sipgate"]["public_key_pem"] = include_str!("data/sipgate-test-public.pem").into();
        config["sipgate"]["user_remote_map"] = serde_json::json!([{"remote_id": "w0", "user_id": agent.id}]);
        let response = app
            .client
            .put(&config_url)
            .basic_auth("admin@example.com", Some("admin password"))
            .json(&config)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        let url = app.url(&format!("/api/v1/sipgate/{TOKEN}/in"));
        let new_call = "event=newCall&direction=in&from=4912347114711&to=4930600000000&callId=a1&user%5B%5D=Anna";
        let answer = "event=answer&direction=in&from=4912347114711&to=4930600000000&callId=a1&user=Anna&userId=w0";
        for body in [new_call, answer] {
            assert_eq!(app.push_xml(&url, body, &[("x-sipgate-signature", &sign(body))]).await.0, 200, "{body}");
        }
        let call = app.store.find_call_by_ref("sipgate", "a1").await.unwrap().unwrap();
        assert_eq!(call.data.agent_id, Some(agent.id));
    })
    .await;
}

/// A change saved between two requests holds at the second, though the first left the
/// configuration cached: the writer finds the change and the request is admitted again. Digits,
/// stored without the writer, are admitted under the configuration read then.
#[tokio::test]
async fn a_saved_change_holds_at_the_next_request_digits_too() {
    on_each_app_in("DE", async |app| {
        let url = enable_sipgate(app, |_| {}).await;
        let ring = |id: &str| format!("event=newCall&direction=in&from=491715000000&to=4930600000000&callId={id}");
        assert_eq!(app.push_xml(&url, &ring("c1"), &[]).await, (200, subscribed(app, "in", None)));

        enable_sipgate(app, |c| {
            c.inbound.block_caller_ids = vec![BlockedCaller { caller_id: "491715000000".into(), note: "spam".into() }];
        })
        .await;
        let reject = subscribed(app, "in", Some(r#"<Reject reason="busy"/>"#));
        assert_eq!(app.push_xml(&url, &ring("c2"), &[]).await, (200, reject));

        let mut config = ctihub_web::cti::load_config(&app.store).await.unwrap();
        config.sipgate.enabled = false;
        ctihub_web::cti::save_config(&app.store, &config).await.unwrap();
        let disabled = (422, error("Feature is disabled, please contact your administrator!"));
        assert_eq!(app.push_xml(&url, "event=dtmf&dtmf=1&callId=c1", &[]).await, disabled);
        assert_eq!(app.push_xml(&url, &ring("c3"), &[]).await, disabled);
        let call = app.store.find_call_by_ref("sipgate", "c1").await.unwrap().unwrap();
        let kinds: Vec<String> =
            app.store.list_call_events(call.id).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["newCall"], "no digits stored while disabled");
        assert!(app.store.find_call_by_ref("sipgate", "c3").await.unwrap().is_none());
    })
    .await;
}
