//! No secret ever reaches the logs: requests carrying every kind of secret ctihub handles run
//! with logging at its most verbose level (TRACE, text and JSON, span opening and closing),
//! and the captured output is searched for each secret.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use ctihub_domain::user::Role;
use reqwest::header::COOKIE;
use serde_json::{Value, json};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;

use crate::console_helpers::{FormBody, no_redirects, sign_in};
use crate::helpers::{TestApp, on_each_app};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Every request that carries a secret; returns the secrets it used or received.
async fn requests_with_secrets(app: &TestApp) -> Vec<String> {
    let password = "Pw-0f-the-admin-7c1e";
    let wrong_password = "Wr0ng-guess-55ab";
    let (_, token) = app.user(Role::Admin, "admin@example.com", password).await;
    let cti_token = "cti-url-token-9d2f61c0";
    let sipgate_token = "sipgate-url-token-4b7e";
    let placetel_token = "placetel-url-token-e31a";
    let placetel_secret = "placetel-hmac-secret-80f2";
    let sipgate_signature = "c2lwZ2F0ZS1zaWduYXR1cmUtN2Q0";
    let placetel_signature = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    app.enable_cti(|config| {
        config.token = Some(cti_token.into());
        config.sipgate.enabled = true;
        config.sipgate.token = Some(sipgate_token.into());
        config.placetel.enabled = true;
        config.placetel.token = Some(placetel_token.into());
        config.placetel.secret = Some(placetel_secret.into());
    })
    .await;
    let mut secrets: Vec<String> = [
        password,
        wrong_password,
        &token,
        cti_token,
        sipgate_token,
        placetel_token,
        placetel_secret,
        sipgate_signature,
        placetel_signature,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    secrets.push(basic("admin@example.com", password));
    secrets.push(basic("admin@example.com", wrong_password));
    secrets.push(basic(&token, "X"));
    secrets.push(basic("admin@example.com/token", &token));

    let me = app.url("/api/hub/me");
    let c = &app.client;
    for request in [
        c.get(&me).basic_auth("admin@example.com", Some(password)),
        c.get(&me).basic_auth("admin@example.com", Some(wrong_password)),
        c.get(&me).bearer_auth(&token),
        c.get(app.url("/freshdesk/api/v2/agents/me")).basic_auth(&token, Some("X")),
        c.get(app.url("/api/v2/users/me.json")).basic_auth("admin@example.com/token", Some(&token)),
        c.get(app.url("/api/v1/cti/log")).basic_auth("admin@example.com", Some(password)),
    ] {
        let status = request.send().await.unwrap().status().as_u16();
        assert!(status == 200 || status == 401, "{status}");
    }
    // Token-in-URL pushes, right and wrong, and an unknown path below a push prefix.
    let form = "event=newCall&direction=in&from=0301234567&to=0307654321&callId=log-1";
    assert_eq!(app.push(&app.url(&format!("/api/v1/cti/{cti_token}")), form).await.0, 200);
    assert_eq!(app.push(&app.url(&format!("/api/v1/integration/cti/{cti_token}")), form).await.0, 200);
    assert_eq!(app.push(&app.url("/api/v1/cti/wrong-url-token-77aa"), form).await.0, 401);
    secrets.push("wrong-url-token-77aa".into());
    let missing = c.post(app.url(&format!("/api/v1/cti/{cti_token}/extra"))).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let sipgate = app.url(&format!("/api/v1/sipgate/{sipgate_token}/in"));
    let headers = [("x-sipgate-signature", sipgate_signature)];
    assert_eq!(
        app.push_xml(&sipgate, "event=newCall&direction=in&from=4930&to=4931&callId=s-1", &headers).await.0,
        200
    );
    let placetel = app.url(&format!("/api/v1/placetel/{placetel_token}"));
    let headers = [("x-placetel-signature", placetel_signature)];
    let (status, _) = app.push_xml(&placetel, "event=IncomingCall&from=030&to=031&call_id=p-1", &headers).await;
    assert_eq!(status, 401, "a bad signature is refused");

    // Passwords and tokens in bodies, and tokens in answers.
    let created = c
        .post(app.url("/api/hub/users"))
        .bearer_auth(&token)
        .json(
            &json!({"name": "New Agent", "email": "new@example.com", "role": "agent", "password": "N3w-agent-pw-19c4"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let new_id = created.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    secrets.push("N3w-agent-pw-19c4".into());
    let patched = c
        .patch(app.url(&format!("/api/hub/users/{new_id}")))
        .bearer_auth(&token)
        .json(&json!({"password": "Ch4nged-pw-6e0d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    secrets.push("Ch4nged-pw-6e0d".into());
    let minted =
        c.post(app.url("/api/hub/tokens")).bearer_auth(&token).json(&json!({"label": "pbx"})).send().await.unwrap();
    secrets.push(minted.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned());
    let rotated = c.post(app.url("/api/hub/cti/token")).bearer_auth(&token).send().await.unwrap();
    let rotated: Value = rotated.json().await.unwrap();
    let path = rotated["push_path"].as_str().unwrap();
    secrets.push(path.rsplit('/').next().unwrap().to_owned());

    // The console: sign-in form, session cookie, CSRF token, a token minted on a page.
    assert!(sign_in(app, "admin@example.com", wrong_password).await.is_err());
    let (cookie, csrf) = sign_in(app, "admin@example.com", password).await.unwrap();
    let user = app.store.find_user_by_email("admin@example.com").await.unwrap().unwrap();
    let page = no_redirects()
        .post(app.url("/console/admin/tokens"))
        .header(COOKIE, &cookie)
        .form_body(&[("csrf", csrf.as_str()), ("user_id", &user.id.to_string()), ("label", "console")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let shown = html.split("<code id=\"new-token\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    secrets.push(shown);
    secrets.push(cookie.trim_start_matches("ctihub_session=").to_owned());
    secrets.push(csrf);
    secrets
}

/// The capture: one process-wide subscriber (a per-thread one misses events whose callsites other
/// tests registered concurrently), writing only what the capturing thread logs.
struct Captures {
    text: Capture,
    json: Capture,
    thread: Mutex<Option<std::thread::ThreadId>>,
}

fn captures() -> &'static Captures {
    static CAPTURES: std::sync::OnceLock<&'static Captures> = std::sync::OnceLock::new();
    CAPTURES.get_or_init(|| {
        let leaked: &'static Captures = Box::leak(Box::new(Captures {
            text: Capture::default(),
            json: Capture::default(),
            thread: Mutex::new(None),
        }));
        // Dynamic: decided per event and span, never cached per callsite (the thread differs).
        let capturing = tracing_subscriber::filter::dynamic_filter_fn(move |_, _| {
            *leaked.thread.lock().unwrap() == Some(std::thread::current().id())
        });
        let (text, json) = (leaked.text.clone(), leaked.json.clone());
        let subscriber = tracing_subscriber::registry()
            .with(capturing)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_span_events(FmtSpan::FULL)
                    .with_writer(move || text.clone()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_span_events(FmtSpan::FULL)
                    .with_writer(move || json.clone()),
            );
        tracing::subscriber::set_global_default(subscriber).expect("no other test sets a global subscriber");
        // Callsites other tests hit before this subscriber existed cached "never"; setting a
        // global default does not revisit them.
        tracing::callsite::rebuild_interest_cache();
        leaked
    })
}

#[tokio::test]
async fn no_secret_reaches_the_logs_at_the_most_verbose_level() {
    let captures = captures();
    // The test runtime has one thread, so the server's tasks log on this thread too.
    *captures.thread.lock().unwrap() = Some(std::thread::current().id());
    let (text_log, json_log) = (captures.text.clone(), captures.json.clone());
    let all_secrets = Arc::new(Mutex::new(Vec::new()));
    on_each_app(async |app| {
        let secrets = requests_with_secrets(app).await;
        all_secrets.lock().unwrap().extend(secrets);
    })
    .await;
    *captures.thread.lock().unwrap() = None;
    let secrets = all_secrets.lock().unwrap().clone();
    assert!(secrets.len() > 20, "{secrets:?}");
    for (format, log) in [("text", text_log.text()), ("json", json_log.text())] {
        // The capture saw the server at work, so an absent secret means something.
        let sample: Vec<&str> = log.lines().filter(|l| l.contains("api/v1")).take(5).collect();
        assert!(
            log.contains("/api/v1/cti/***"),
            "{format}: push paths are logged, redacted ({} lines): {sample:?}",
            log.lines().count()
        );
        assert!(log.contains("/api/v1/sipgate/***/in"), "{format}");
        assert!(log.contains("DEBUG"), "{format}: debug output was captured");
        assert!(log.lines().count() > 200, "{format}: {} lines", log.lines().count());
        for secret in &secrets {
            assert!(secret.len() >= 8, "{secret:?} is too short to search for");
            if let Some(line) = log.lines().find(|line| line.contains(secret.as_str())) {
                panic!("{format} log holds the secret {secret:?}: {line}");
            }
        }
    }
}
