//! The console's live board and its admin pages for users, agents and API tokens, over plain
//! HTTP. The board's live updates in a browser are tested in Chromium by `ctihub-e2e`.

use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{NewUser, Role};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::console_helpers::{FormBody, no_redirects, sign_in};
use crate::helpers::{TestApp, on_each_app, on_each_app_in};

async fn get_page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = no_redirects().get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    no_redirects().post(app.url(path)).header(COOKIE, cookie).form_body(form).send().await.unwrap()
}

#[tokio::test]
async fn the_board_shows_ringing_and_talking_calls_who_is_on_them_and_presence() {
    on_each_app_in("DE", async |app| {
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let mut carl = NewUser::new(Role::EndUser, "Carl <Caller>");
        carl.phones = vec![(PhoneKind::Phone, "030 55571600".into())];
        app.store.create_user(carl).await.unwrap();
        let url = app.enable_cti(|_| {}).await;
        let (root, root_csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();

        let (status, html) = get_page(app, &cookie, "/console/board").await;
        assert_eq!(status, 200);
        assert!(html.contains("No calls right now."), "{html}");
        assert!(html.contains(r#"href="/console/board" aria-current="page""#), "linked in the top bar: {html}");

        // The PBX names the answering agent by the agent id an admin mapped.
        let edit = &format!("/console/admin/users/{}", anna.id);
        let saved = post_form(app, &root, edit, &[("csrf", &root_csrf), ("agent_id", "a42"), ("phones", "")]).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);

        let ring = "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=b1&user[]=Support";
        assert_eq!(app.push(&url, ring).await.0, 200);
        let call = app.store.find_call_by_ref("zammad", "b1").await.unwrap().unwrap();
        let (_, html) = get_page(app, &cookie, "/console/board/live").await;
        assert!(html.contains(&format!(r#"id="board-call-{}""#, call.id)), "{html}");
        assert!(html.contains(r#"data-state="ringing""#) && html.contains("1 ringing · 0 in progress"), "{html}");
        assert!(html.contains("Carl &#60;Caller&#62;") || html.contains("Carl &lt;Caller&gt;"), "escaped: {html}");
        assert!(!html.contains("<html"), "the live fragment has no page frame");

        let answer = "event=answer&direction=in&from=493055571600&to=4930600000000&callId=b1&answeringNumber=a42";
        assert_eq!(app.push(&url, answer).await.0, 200);
        let (_, html) = get_page(app, &cookie, "/console/board/live").await;
        assert!(html.contains(r#"data-state="in_progress""#) && html.contains("0 ringing · 1 in progress"), "{html}");
        assert!(html.contains(&format!(r#"data-on-call="{}""#, call.id)), "anna is on the call: {html}");

        let dnd = post_form(app, &cookie, "/console/presence", &[("csrf", &csrf), ("status", "do_not_disturb")]).await;
        assert_eq!(dnd.status(), StatusCode::SEE_OTHER);
        let (_, html) = get_page(app, &root, "/console/board/live").await;
        assert!(html.contains(&format!(r#"data-presence-of="{}" class="presence-do_not_disturb""#, anna.id)), "{html}");

        let hangup = "event=hangup&direction=in&from=493055571600&to=4930600000000&callId=b1&cause=normalClearing";
        assert_eq!(app.push(&url, hangup).await.0, 200);
        let (_, html) = get_page(app, &cookie, "/console/board/live").await;
        assert!(html.contains("No calls right now.") && !html.contains("data-on-call"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn the_board_shows_an_agent_only_the_queues_the_notify_map_gives_them() {
    on_each_app(async |app| {
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let url = app
            .enable_cti(|c| {
                c.notify_map = vec![ctihub_domain::cti::NotifyRule { queue: "sales".into(), user_ids: vec![anna.id] }];
            })
            .await;
        for (id, queue) in [("s1", "sales"), ("t1", "support")] {
            let ring = format!("event=newCall&direction=in&from=15135557611&to=18005550100&callId={id}&queue={queue}");
            assert_eq!(app.push(&url, &ring).await.0, 200);
        }
        let sales = app.store.find_call_by_ref("zammad", "s1").await.unwrap().unwrap();
        let support = app.store.find_call_by_ref("zammad", "t1").await.unwrap().unwrap();
        assert_eq!(support.data.queue_name.as_deref(), Some("support"));

        let (anna_cookie, _) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let (_, html) = get_page(app, &anna_cookie, "/console/board/live").await;
        assert!(html.contains(&format!("board-call-{}", sales.id)), "{html}");
        assert!(!html.contains(&format!("board-call-{}", support.id)), "{html}");
        let (root, _) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (_, html) = get_page(app, &root, "/console/board/live").await;
        assert!(html.contains(&format!("board-call-{}", support.id)), "admins supervise every queue: {html}");
    })
    .await;
}

#[tokio::test]
async fn admins_create_edit_and_deactivate_users_and_agents_may_not() {
    on_each_app(async |app| {
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let (root_user, _) = app.user(Role::Admin, "root@example.com", "root password").await;
        let (anna_cookie, anna_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let (root, csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();

        // Agents are turned away from every admin page and form.
        for path in ["/console/admin/users", "/console/admin/tokens", &format!("/console/admin/users/{}", anna.id)] {
            assert_eq!(get_page(app, &anna_cookie, path).await.0, StatusCode::FORBIDDEN, "{path}");
        }
        let sneaky = [("csrf", anna_csrf.as_str()), ("name", "Mallory"), ("role", "admin")];
        assert_eq!(post_form(app, &anna_cookie, "/console/admin/users", &sneaky).await.status(), 403);
        let (_, html) = get_page(app, &anna_cookie, "/console/journal").await;
        assert!(!html.contains("/console/admin/users"), "no admin links for agents");

        let (status, html) = get_page(app, &root, "/console/admin/users").await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!(r#"id="user-{}""#, anna.id)), "{html}");

        let bert = [
            ("name", "Bert"),
            ("email", "bert@example.com"),
            ("role", "agent"),
            ("password", "bert password"),
            ("phones", "mobile | 0151 23456789\n+49 30 5557000\n"),
            ("agent_id", "b7"),
            ("extension", "207"),
        ];
        // No CSRF token, no user.
        assert_eq!(post_form(app, &root, "/console/admin/users", &bert).await.status(), StatusCode::FORBIDDEN);
        assert!(app.store.find_user_by_email("bert@example.com").await.unwrap().is_none());
        let mut with_csrf = bert.to_vec();
        with_csrf.push(("csrf", &csrf));
        let created = post_form(app, &root, "/console/admin/users", &with_csrf).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let stored = app.store.find_user_by_email("bert@example.com").await.unwrap().unwrap();
        assert_eq!(created.headers()[LOCATION], format!("/console/admin/users/{}", stored.id));
        assert_eq!(
            (stored.role, stored.agent_id.as_deref(), stored.extension.as_deref()),
            (Role::Agent, Some("b7"), Some("207"))
        );
        let phones: Vec<_> = stored.phones.iter().map(|p| (p.kind, p.raw.as_str())).collect();
        assert_eq!(phones, vec![(PhoneKind::Mobile, "0151 23456789"), (PhoneKind::Phone, "+49 30 5557000")]);
        let (bert_cookie, _) = sign_in(app, "bert@example.com", "bert password").await.expect("bert signs in");

        // Mistakes come back on the form with what was typed, and create nothing.
        let short = [
            ("csrf", csrf.as_str()),
            ("name", "Dora <b>"),
            ("email", "dora@example.com"),
            ("role", "agent"),
            ("password", "short"),
        ];
        let refused = post_form(app, &root, "/console/admin/users", &short).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(html.contains("at least 8 characters") && html.contains(r#"value="Dora &#60;b&#62;""#), "{html}");
        assert!(app.store.find_user_by_email("dora@example.com").await.unwrap().is_none());
        let taken = [("csrf", csrf.as_str()), ("name", "Bert 2"), ("email", "BERT@example.com"), ("role", "end-user")];
        assert_eq!(post_form(app, &root, "/console/admin/users", &taken).await.status(), 422);
        // End-users need neither e-mail nor password.
        let caller = [("csrf", csrf.as_str()), ("name", "Carl"), ("role", "end-user"), ("phones", "030 55571600")];
        assert_eq!(post_form(app, &root, "/console/admin/users", &caller).await.status(), StatusCode::SEE_OTHER);

        // Editing the agent id mapping, extension and phones.
        let edit = format!("/console/admin/users/{}", stored.id);
        let (status, html) = get_page(app, &root, &edit).await;
        assert_eq!(status, 200);
        assert!(html.contains(r#"name="agent_id" value="b7""#) && html.contains("mobile | 0151 23456789"), "{html}");
        let form = [("csrf", csrf.as_str()), ("agent_id", " b8 "), ("extension", ""), ("phones", "work | 030 1234567")];
        assert_eq!(post_form(app, &root, &edit, &form).await.status(), StatusCode::SEE_OTHER);
        let edited = app.store.get_user(stored.id).await.unwrap();
        assert_eq!((edited.agent_id.as_deref(), edited.extension.as_deref()), (Some("b8"), None));
        assert_eq!(
            edited.phones.iter().map(|p| (p.kind, p.raw.as_str())).collect::<Vec<_>>(),
            vec![(PhoneKind::Work, "030 1234567")]
        );
        let bad = [("csrf", csrf.as_str()), ("agent_id", "b9"), ("phones", "fax | 030 1")];
        let refused = post_form(app, &root, &edit, &bad).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains("fax"));
        assert_eq!(app.store.get_user(stored.id).await.unwrap().agent_id.as_deref(), Some("b8"));

        // Deactivation signs the agent out at once; an admin cannot lock themselves out.
        let off = post_form(app, &root, &format!("{edit}/active"), &[("csrf", &csrf), ("active", "false")]).await;
        assert_eq!(off.status(), StatusCode::SEE_OTHER);
        assert!(!app.store.get_user(stored.id).await.unwrap().active);
        assert_eq!(get_page(app, &bert_cookie, "/console/journal").await.0, StatusCode::SEE_OTHER);
        assert_eq!(sign_in(app, "bert@example.com", "bert password").await.unwrap_err(), StatusCode::UNAUTHORIZED);
        let (_, html) = get_page(app, &root, "/console/admin/users").await;
        assert!(html.contains("(deactivated)"), "{html}");
        let me = format!("/console/admin/users/{}/active", root_user.id);
        assert_eq!(post_form(app, &root, &me, &[("csrf", &csrf), ("active", "false")]).await.status(), 422);
        assert!(app.store.get_user(root_user.id).await.unwrap().active);
        let on = post_form(app, &root, &format!("{edit}/active"), &[("csrf", &csrf), ("active", "true")]).await;
        assert_eq!(on.status(), StatusCode::SEE_OTHER);
        assert!(sign_in(app, "bert@example.com", "bert password").await.is_ok());
    })
    .await;
}

#[tokio::test]
async fn the_user_list_is_paged() {
    on_each_app(async |app| {
        app.user(Role::Admin, "root@example.com", "root password").await;
        for i in 0..55 {
            app.store.create_user(NewUser::new(Role::EndUser, format!("Caller {i:02}"))).await.unwrap();
        }
        let (root, _) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (_, first) = get_page(app, &root, "/console/admin/users").await;
        assert!(first.contains("56 users · page 1 of 2") && first.contains(r#"href="/console/admin/users?page=2""#));
        assert!(first.contains("Caller 48") && !first.contains("Caller 49"), "{first}");
        let (_, second) = get_page(app, &root, "/console/admin/users?page=2").await;
        assert!(second.contains("Caller 49") && second.contains("Caller 54") && !second.contains("Caller 48"));
    })
    .await;
}

#[tokio::test]
async fn api_tokens_are_shown_once_listed_with_their_use_and_revoked() {
    on_each_app(async |app| {
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let (root, csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let user_id = anna.id.to_string();

        let created = post_form(
            app,
            &root,
            "/console/admin/tokens",
            &[("csrf", &csrf), ("user_id", &user_id), ("label", "asterisk <pbx>")],
        )
        .await;
        assert_eq!(created.status(), 200);
        assert_eq!(created.headers()["cache-control"], "no-store");
        let html = created.text().await.unwrap();
        let marker = r#"<code id="new-token">"#;
        let start = html.find(marker).unwrap_or_else(|| panic!("the token is shown: {html}")) + marker.len();
        let token = html[start..].split('<').next().unwrap().to_owned();
        assert!(token.len() >= 32, "{token}");

        let me = async |token: &str| app.client.get(app.url("/api/hub/me")).bearer_auth(token).send().await.unwrap();
        let response = me(&token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["id"], anna.id);

        let stored = app.store.list_api_tokens(anna.id).await.unwrap();
        let new = stored.iter().find(|t| t.label.as_deref() == Some("asterisk <pbx>")).expect("the new token");
        let (status, list) = get_page(app, &root, "/console/admin/tokens").await;
        assert_eq!(status, 200);
        assert!(!list.contains(&token), "shown once only");
        assert!(
            list.contains(&format!(r#"id="token-{}""#, new.id)) && list.contains("asterisk &#60;pbx&#62;"),
            "{list}"
        );
        // Without CSRF, or from an agent, nothing is created or revoked.
        let revoke = format!("/console/admin/tokens/{}/revoke", new.id);
        assert_eq!(post_form(app, &root, &revoke, &[]).await.status(), StatusCode::FORBIDDEN);
        let (anna_cookie, anna_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        assert_eq!(post_form(app, &anna_cookie, &revoke, &[("csrf", &anna_csrf)]).await.status(), 403);
        let own = [("csrf", anna_csrf.as_str()), ("user_id", user_id.as_str())];
        assert_eq!(post_form(app, &anna_cookie, "/console/admin/tokens", &own).await.status(), 403);
        assert_eq!(me(&token).await.status(), 200);

        let revoked = post_form(app, &root, &revoke, &[("csrf", &csrf)]).await;
        assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
        assert_eq!(me(&token).await.status(), 401);
        assert!(app.store.list_api_tokens(anna.id).await.unwrap().iter().all(|t| t.id != new.id));
        assert_eq!(post_form(app, &root, &revoke, &[("csrf", &csrf)]).await.status(), StatusCode::NOT_FOUND);
    })
    .await;
}
