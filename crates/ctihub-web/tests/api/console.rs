//! The agent console over plain HTTP: sign-in, session cookie, CSRF, expiry, roles, escaping.
//! What a browser does with the pages is tested in Chromium by the `ctihub-e2e` crate.

use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{NewUser, Role};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::console_helpers::{FormBody, cookie_value, no_redirects, sign_in};
use crate::helpers::{on_each_app, on_each_app_in};

#[tokio::test]
async fn agents_sign_in_with_a_session_cookie_and_everyone_else_is_turned_away() {
    on_each_app(async |app| {
        app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::EndUser, "carl@example.com", "carl password").await;
        let client = no_redirects();

        // Pages send the signed-out to the sign-in form and back; scripts and the stream get 401.
        let response = client.get(app.url("/console/journal?status=open")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/console/login?next=%2Fconsole%2Fjournal%3Fstatus%3Dopen");
        assert_eq!(client.get(app.url("/console/events")).send().await.unwrap().status(), 401);

        assert_eq!(sign_in(app, "anna@example.com", "wrong").await.unwrap_err(), StatusCode::UNAUTHORIZED);
        assert_eq!(sign_in(app, "carl@example.com", "carl password").await.unwrap_err(), StatusCode::FORBIDDEN);
        // The sign-in form itself is protected: no matching login cookie, no sign-in.
        let forged = client
            .post(app.url("/console/login"))
            .form_body(&[("csrf", "guess"), ("email", "anna@example.com"), ("password", "anna password")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);

        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let events = client.get(app.url("/console/events")).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(events.status(), 200);
        assert!(events.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let csp = events.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        drop(events);

        // Sign-out ends the session on the server, not just in the browser.
        let out = client
            .post(app.url("/console/logout"))
            .header(COOKIE, &cookie)
            .form_body(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert!(cookie_value(&out, "ctihub_session").unwrap().1.contains("Max-Age=0"));
        let after = client.get(app.url("/console/journal")).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(after.status(), StatusCode::SEE_OTHER);
    })
    .await;
}

#[tokio::test]
async fn every_form_needs_the_sessions_csrf_token_and_expired_sessions_sign_in_again() {
    on_each_app(async |app| {
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let (_, other_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        assert_ne!(csrf, other_csrf, "one token per session");
        let client = no_redirects();
        let set = async |token: Option<&str>| {
            let mut form = vec![("status", "do_not_disturb")];
            if let Some(token) = token {
                form.push(("csrf", token));
            }
            client.post(app.url("/console/presence")).header(COOKIE, &cookie).form_body(&form).send().await.unwrap()
        };
        assert_eq!(set(None).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(set(Some(&other_csrf)).await.status(), StatusCode::FORBIDDEN);
        assert!(app.store.list_presence().await.unwrap().is_empty());
        assert_eq!(set(Some(&csrf)).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.store.list_presence().await.unwrap(), vec![(anna.id, ctihub_store::Presence::DoNotDisturb)]);
        // Scripts send the token as a header.
        let scripted = client
            .post(app.url("/console/presence"))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .header("x-ctihub-fetch", "1")
            .form_body(&[("status", "away")])
            .send()
            .await
            .unwrap();
        assert_eq!(scripted.status(), StatusCode::NO_CONTENT);

        // A session past its expiry is gone, whatever the cookie says.
        let token = "expired-session-token";
        let hash = ctihub_web::auth::secrets::hash_token(token);
        let now = ctihub_domain::time::now_millis();
        app.store.create_console_session(anna.id, &hash, now - 20_000, now - 1).await.unwrap();
        let response = client
            .get(app.url("/console/journal"))
            .header(COOKIE, format!("ctihub_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(response.headers()[LOCATION].to_str().unwrap().starts_with("/console/login"));
    })
    .await;
}

#[tokio::test]
async fn pages_escape_what_users_typed_and_admin_pages_are_for_admins() {
    on_each_app_in("DE", async |app| {
        app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let mut evil = NewUser::new(Role::EndUser, "<script>alert(1)</script>");
        evil.phones = vec![(PhoneKind::Phone, "030 55571600".into())];
        app.store.create_user(evil).await.unwrap();
        let url = app.enable_cti(|_| {}).await;
        let body = "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=x1&user[]=Support";
        assert_eq!(app.push(&url, body).await.0, 200);
        let call = app.store.find_call_by_ref("zammad", "x1").await.unwrap().unwrap();

        let (cookie, _) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let client = no_redirects();
        for path in ["/console/journal".to_owned(), format!("/console/pop?call_id={}", call.id)] {
            let html = client.get(app.url(&path)).header(COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
            assert!(
                html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("&lt;script&gt;"),
                "{path}"
            );
            assert!(!html.contains("<script>alert(1)"), "{path}: {html}");
        }
        let admin_page = client.get(app.url("/console/admin/cti")).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(admin_page.status(), StatusCode::FORBIDDEN);

        let (root, _) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let html = client.get(app.url("/console/admin/cti")).header(COOKIE, &root).send().await.unwrap();
        assert_eq!(html.status(), 200);
        let html = html.text().await.unwrap();
        assert!(html.contains("/api/v1/cti/zammad-token-0123456789"), "{html}");
        assert!(html.contains(">DE<"), "the default region is shown");
    })
    .await;
}

#[tokio::test]
async fn a_tpe_voice_comment_shows_its_call_fields_recording_and_transcript_on_the_ticket_page() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let call = serde_json::json!({
            "call": {"app_id": 735264019863524_i64, "call_started_at": "2022-01-27T15:31:40+01", "direction": "inbound",
                     "from_line": "+15135557611", "to_line": "+18005550100", "queue_name": "priority_one",
                     "recording_url": "https://rec.example/1.mp3", "transcript": "Hello?\nMy printer is on fire."},
            "comment": {"title": "Printer call", "call_fields": ["queue_name", "recording_url", "transcript"]},
        });
        let response =
            app.client.post(app.url("/api/v2/calls.json")).bearer_auth(&token).json(&call).send().await.unwrap();
        let status = response.status();
        let created: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{created}");
        let ticket_id = created["call"]["ticket_id"].as_i64().expect("a ticket for the comment");

        let (cookie, _) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let page = no_redirects()
            .get(app.url(&format!("/console/tickets/{ticket_id}")))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"<audio controls preload="none" src="https://rec.example/1.mp3">"#), "{html}");
        assert!(html.contains("Hello?\nMy printer is on fire."), "the transcript as text: {html}");
        assert!(html.contains("<dt>queue_name</dt><dd>priority_one</dd>"), "the chosen call fields: {html}");
    })
    .await;
}
