//! The security rules of docs/security.md, each proven over HTTP: every route against every kind
//! of credential, roles, rate limits per credential and per address, header limits, console
//! headers and cookies, and the audit log. Secrets in logs are in `secret_logs.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use ctihub_domain::user::Role;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::console_helpers::{FormBody, no_redirects, sign_in};
use crate::helpers::{TestApp, on_each_app, on_each_app_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Zendesk,
    Freshdesk,
    /// Zammad's caller log (Basic/Bearer).
    ZammadLog,
    /// Zammad's generic CTI push (token in the URL).
    ZammadPush,
    /// sipgate and placetel pushes (token in the URL, XML answers).
    XmlPush,
    Native,
    Console,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Public,
    /// Any signed-in user, end-users included.
    AnyUser,
    Staff,
    Admin,
    PushToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    Wrong,
    EndUser,
    Agent,
    Admin,
}

use Dialect::*;
use Need::*;

/// Every route the app serves. Push routes come first: later rows (an admin saving an empty CTI
/// form) change the settings they depend on. Sign-out comes last: it ends the session.
const ROUTES: &[(&str, &str, Dialect, Need)] = &[
    ("POST", "/api/v1/cti/{token}", ZammadPush, PushToken),
    ("POST", "/api/v1/integration/cti/{token}", ZammadPush, PushToken),
    ("POST", "/api/v1/sipgate/{token}/in", XmlPush, PushToken),
    ("POST", "/api/v1/sipgate/{token}/out", XmlPush, PushToken),
    ("POST", "/api/v1/sipgate/{token}/in/", XmlPush, PushToken),
    ("POST", "/api/v1/sipgate/{token}/out/", XmlPush, PushToken),
    ("POST", "/api/v1/placetel/{token}", XmlPush, PushToken),
    ("GET", "/api/v1/cti/log", ZammadLog, Staff),
    ("POST", "/api/v1/cti/done/bulk", ZammadLog, Staff),
    ("POST", "/api/v1/cti/done/{id}", ZammadLog, Staff),
    ("GET", "/healthz", Native, Public),
    ("GET", "/metrics", Native, Public),
    ("GET", "/api/hub/openapi.json", Native, Public),
    ("GET", "/api/hub/me", Native, AnyUser),
    ("GET", "/api/hub/users", Native, Staff),
    ("POST", "/api/hub/users", Native, Staff),
    ("GET", "/api/hub/users/{id}", Native, AnyUser),
    ("PATCH", "/api/hub/users/{id}", Native, Staff),
    ("GET", "/api/hub/callers", Native, Staff),
    ("GET", "/api/hub/dip", Native, Staff),
    ("POST", "/api/hub/tokens", Native, Admin),
    ("GET", "/api/hub/journal", Native, Staff),
    ("POST", "/api/hub/journal/done", Native, Staff),
    ("POST", "/api/hub/journal/done-all", Native, Staff),
    ("GET", "/api/hub/cti/config", Native, Admin),
    ("PUT", "/api/hub/cti/config", Native, Admin),
    ("POST", "/api/hub/cti/token", Native, Admin),
    ("GET", "/api/hub/freshdesk/cti", Native, Admin),
    ("PUT", "/api/hub/freshdesk/cti", Native, Admin),
    ("GET", "/api/hub/presence", Native, Staff),
    ("PUT", "/api/hub/presence", Native, Staff),
    ("GET", "/api/hub/routing", Native, Admin),
    ("PUT", "/api/hub/routing", Native, Admin),
    ("GET", "/api/hub/reports/calls", Native, Staff),
    ("GET", "/api/hub/calls.csv", Native, Staff),
    ("GET", "/api/hub/events", Native, Staff),
    ("GET", "/api/hub/audit", Native, Admin),
    ("GET", "/api/hub/cluster", Native, Admin),
    ("POST", "/api/v2/calls", Zendesk, Staff),
    ("GET", "/api/v2/calls/{id}", Zendesk, Staff),
    ("PATCH", "/api/v2/calls/{id}", Zendesk, Staff),
    ("PUT", "/api/v2/calls/{id}", Zendesk, Staff),
    ("POST", "/api/v2/calls/{id}/comments", Zendesk, Staff),
    ("GET", "/api/v2/search", Zendesk, Staff),
    ("GET", "/api/v2/users", Zendesk, Staff),
    ("POST", "/api/v2/users", Zendesk, Staff),
    ("GET", "/api/v2/users/me", Zendesk, AnyUser),
    ("GET", "/api/v2/requests", Zendesk, AnyUser),
    ("GET", "/api/v2/requests/{id}", Zendesk, AnyUser),
    ("GET", "/api/v2/requests/{id}/comments", Zendesk, AnyUser),
    ("GET", "/api/v2/users/search", Zendesk, Staff),
    ("GET", "/api/v2/users/{id}", Zendesk, Staff),
    ("PUT", "/api/v2/users/{id}", Zendesk, Staff),
    ("GET", "/api/v2/users/{id}/tickets/requested", Zendesk, Staff),
    ("GET", "/api/v2/user_fields", Zendesk, Staff),
    ("POST", "/api/v2/user_fields", Zendesk, Admin),
    ("GET", "/api/v2/user_fields/{id}", Zendesk, Staff),
    ("GET", "/api/v2/tickets", Zendesk, Staff),
    ("POST", "/api/v2/tickets", Zendesk, Staff),
    ("GET", "/api/v2/tickets/{id}", Zendesk, Staff),
    ("PUT", "/api/v2/tickets/{id}", Zendesk, Staff),
    ("GET", "/api/v2/tickets/{id}/comments", Zendesk, Staff),
    ("GET", "/api/v2/ticket_fields", Zendesk, Staff),
    ("POST", "/api/v2/ticket_fields", Zendesk, Admin),
    ("GET", "/api/v2/ticket_fields/{id}", Zendesk, Staff),
    ("POST", "/api/v2/channels/voice/tickets", Zendesk, Staff),
    ("POST", "/api/v2/channels/voice/agents/{agent_id}/tickets/{ticket_id}/display", Zendesk, Staff),
    ("POST", "/api/v2/channels/voice/agents/{agent_id}/users/{user_id}/display", Zendesk, Staff),
    ("POST", "/api/v2/integrations/cti/pop", Freshdesk, Staff),
    ("GET", "/api/v2/integrations/cti/details", Freshdesk, Staff),
    ("POST", "/freshdesk/api/v2/integrations/cti/pop", Freshdesk, Staff),
    ("GET", "/freshdesk/api/v2/integrations/cti/details", Freshdesk, Staff),
    ("GET", "/freshdesk/api/v2/contacts", Freshdesk, Staff),
    ("POST", "/freshdesk/api/v2/contacts", Freshdesk, Staff),
    ("GET", "/freshdesk/api/v2/contacts/{id}", Freshdesk, Staff),
    ("GET", "/freshdesk/api/v2/search/contacts", Freshdesk, Staff),
    ("POST", "/freshdesk/api/v2/tickets", Freshdesk, Staff),
    ("GET", "/freshdesk/api/v2/tickets/{id}", Freshdesk, Staff),
    ("POST", "/freshdesk/api/v2/tickets/{id}/notes", Freshdesk, Staff),
    ("GET", "/freshdesk/api/v2/agents", Freshdesk, Staff),
    ("GET", "/freshdesk/api/v2/agents/me", Freshdesk, Staff),
    ("GET", "/console", Console, Public),
    ("GET", "/console/login", Console, Public),
    ("GET", "/console/assets/console.css", Console, Public),
    ("GET", "/console/assets/console.js", Console, Public),
    ("GET", "/console/ping", Console, Staff),
    ("GET", "/console/events", Console, Staff),
    ("POST", "/console/presence", Console, Staff),
    ("GET", "/console/board", Console, Staff),
    ("GET", "/console/board/live", Console, Staff),
    ("GET", "/console/journal", Console, Staff),
    ("GET", "/console/journal/rows", Console, Staff),
    ("POST", "/console/journal/done", Console, Staff),
    ("POST", "/console/journal/done-all", Console, Staff),
    ("GET", "/console/pop", Console, Staff),
    ("GET", "/console/reports", Console, Staff),
    ("GET", "/console/reports/calls.csv", Console, Staff),
    ("POST", "/console/calls/{id}/file", Console, Staff),
    ("POST", "/console/calls/{id}/forward", Console, Staff),
    ("POST", "/console/calls/{id}/notepad", Console, Staff),
    ("GET", "/console/users/{id}", Console, Staff),
    ("POST", "/console/tickets", Console, Staff),
    ("GET", "/console/tickets/new", Console, Staff),
    ("GET", "/console/tickets/{id}", Console, Staff),
    ("POST", "/console/tickets/{id}", Console, Staff),
    ("POST", "/console/tickets/{id}/comments", Console, Staff),
    ("POST", "/console/softphone/number", Console, Staff),
    ("POST", "/console/dial", Console, Staff),
    ("GET", "/console/admin/cti", Console, Admin),
    ("POST", "/console/admin/cti", Console, Admin),
    ("POST", "/console/admin/cti/token", Console, Admin),
    ("POST", "/console/admin/cti/freshdesk", Console, Admin),
    ("GET", "/console/admin/softphone", Console, Admin),
    ("POST", "/console/admin/softphone", Console, Admin),
    ("GET", "/console/admin/fields", Console, Admin),
    ("POST", "/console/admin/fields", Console, Admin),
    ("GET", "/console/admin/routing", Console, Admin),
    ("POST", "/console/admin/routing", Console, Admin),
    ("GET", "/console/admin/users", Console, Admin),
    ("POST", "/console/admin/users", Console, Admin),
    ("GET", "/console/admin/users/{id}", Console, Admin),
    ("POST", "/console/admin/users/{id}", Console, Admin),
    ("POST", "/console/admin/users/{id}/active", Console, Admin),
    ("GET", "/console/admin/tokens", Console, Admin),
    ("POST", "/console/admin/tokens", Console, Admin),
    ("POST", "/console/admin/tokens/{id}/revoke", Console, Admin),
    ("GET", "/console/admin/audit", Console, Admin),
    ("POST", "/console/login", Console, Public),
    ("POST", "/console/logout", Console, Staff),
];

/// The route paths the routers declare, read from their source, so a route added without a row
/// above fails this suite.
fn declared_routes() -> BTreeSet<String> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: &[(&str, &str)] = &[
        ("health.rs", ""),
        ("console/mod.rs", ""),
        ("zammad/mod.rs", ""),
        ("sipgate/mod.rs", ""),
        ("placetel.rs", ""),
        ("freshdesk/mod.rs", ""),
        ("native/mod.rs", "/api/hub"),
        ("zendesk/mod.rs", ""),
    ];
    let mut paths = BTreeSet::new();
    for (file, prefix) in files {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        for marker in [".route(\"", "(\"/api/v2/"] {
            for (at, _) in text.match_indices(marker) {
                let start = at + marker.len() - if marker.starts_with("(\"/") { "/api/v2/".len() } else { 0 };
                let path = text[start..].split('"').next().unwrap();
                paths.insert(format!("{prefix}{path}"));
            }
        }
    }
    // The catch-alls answer a 404 in their dialect's shape for any path they do not serve.
    paths.remove("/freshdesk/{*rest}");
    paths.remove("/api/v2/{*rest}");
    paths
}

#[test]
fn the_route_table_covers_every_declared_route() {
    let declared = declared_routes();
    assert!(declared.len() > 100, "the routers were read: {declared:?}");
    let listed: BTreeSet<String> = ROUTES.iter().map(|(_, path, _, _)| (*path).to_owned()).collect();
    let missing: Vec<_> = declared.difference(&listed).collect();
    assert!(missing.is_empty(), "routes without a security row: {missing:?}");
}

struct Principal {
    id: i64,
    email: String,
    password: String,
    token: String,
    /// Console session cookie and CSRF token (agents and admins).
    session: Option<(String, String)>,
}

async fn principal(app: &TestApp, role: Role, email: &str) -> Principal {
    let password = format!("{email} long password");
    let (user, token) = app.user(role, email, &password).await;
    let session = match role {
        Role::EndUser => None,
        _ => Some(sign_in(app, email, &password).await.unwrap()),
    };
    Principal { id: user.id, email: email.to_owned(), password, token, session }
}

/// Turn on every push integration with known tokens.
async fn enable_pushes(app: &TestApp) {
    app.enable_cti(|config| {
        config.sipgate.enabled = true;
        config.sipgate.token = Some("sipgate-token-0123456789".into());
        config.placetel.enabled = true;
        config.placetel.token = Some("placetel-token-0123456789".into());
    })
    .await;
}

async fn right_push_token(app: &TestApp, path: &str) -> String {
    let config = ctihub_web::cti::load_config(&app.store).await.unwrap();
    let token = if path.contains("sipgate") {
        config.sipgate.token
    } else if path.contains("placetel") {
        config.placetel.token
    } else {
        config.token
    };
    token.unwrap()
}

fn request(app: &TestApp, method: &str, path: &str) -> reqwest::RequestBuilder {
    no_redirects().request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path))
}

/// The request a caller of `kind` sends to this route, credentials in the dialect's usual form.
async fn send(
    app: &TestApp,
    (method, template, dialect, _): (&str, &str, Dialect, Need),
    kind: Kind,
    who: Option<&Principal>,
) -> reqwest::Response {
    let mut path =
        template.replace("{agent_id}", "999999").replace("{ticket_id}", "999999").replace("{user_id}", "999999");
    // End-users may read their own profile: ask for it, so the role rule is what is tested.
    let own = who.map(|w| w.id.to_string()).unwrap_or_else(|| "999999".into());
    path = if template == "/api/hub/users/{id}" && method == "GET" {
        path.replace("{id}", &own)
    } else {
        path.replace("{id}", "999999")
    };
    if dialect == ZammadPush || dialect == XmlPush {
        let token = match kind {
            Kind::Admin => right_push_token(app, template).await,
            _ => "not-the-token-0123456789".into(),
        };
        let body = "event=newCall&direction=in&from=0301234567&to=0307654321&callId=sec-1&call_id=sec-1";
        return request(app, method, &path.replace("{token}", &token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
    }
    let mut builder = request(app, method, &path);
    if dialect == Console {
        match (kind, who.and_then(|w| w.session.as_ref())) {
            (Kind::Wrong, _) => builder = builder.header(COOKIE, "ctihub_session=not-a-session"),
            (_, Some((cookie, csrf))) => {
                builder = builder.header(COOKIE, cookie);
                if method == "POST" {
                    builder = builder.header("x-csrf-token", csrf).form_body(&[("csrf", csrf.as_str())]);
                }
            }
            _ => {}
        }
        if method == "POST" && matches!(kind, Kind::None | Kind::Wrong) {
            builder = builder.form_body(&[("csrf", "x")]);
        }
        return builder.send().await.unwrap();
    }
    builder = match (kind, who) {
        (Kind::None, _) => builder,
        (Kind::Wrong, _) => match dialect {
            Zendesk => builder.basic_auth("admin@example.com/token", Some("not-a-token")),
            Freshdesk => builder.basic_auth("not-an-api-key", Some("X")),
            ZammadLog => builder.basic_auth("admin@example.com", Some("not the password")),
            _ => builder.bearer_auth("not-a-token"),
        },
        (_, Some(w)) => match dialect {
            Zendesk => builder.basic_auth(format!("{}/token", w.email), Some(&w.token)),
            Freshdesk => builder.basic_auth(&w.token, Some("X")),
            ZammadLog => builder.basic_auth(&w.email, Some(&w.password)),
            _ => builder.bearer_auth(&w.token),
        },
        (_, None) => unreachable!("a signed-in kind has a principal"),
    };
    if method != "GET" {
        builder = builder.header("content-type", "application/json").body("{}");
    }
    builder.send().await.unwrap()
}

/// What the dialect answers a caller it cannot identify.
async fn assert_unauthenticated(route: (&str, &str, Dialect, Need), response: reqwest::Response) {
    let (method, path, dialect, _) = route;
    let status = response.status();
    let location = response.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let www = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let case = format!("{method} {path}: ({status}) {text}");
    match dialect {
        Zendesk => {
            assert_eq!(status, 401, "{case}");
            assert_eq!(json["error"], "Couldn't authenticate you", "{case}");
        }
        Freshdesk => {
            assert_eq!(status, 401, "{case}");
            assert_eq!(json["code"], "invalid_credentials", "{case}");
        }
        Native => {
            assert_eq!(status, 401, "{case}");
            assert_eq!(json["error"], "unauthenticated", "{case}");
            assert_eq!(www.as_deref(), Some("Basic realm=\"ctihub\""), "{case}");
        }
        // Zammad answers its caller log's anonymous callers with 403, and ctihub follows.
        ZammadLog => {
            assert_eq!(status, 403, "{case}");
            assert_eq!(json["error"], "Authentication required", "{case}");
        }
        ZammadPush => {
            assert_eq!(status, 401, "{case}");
            assert_eq!(json["error"], "Invalid token, please contact your admin!", "{case}");
        }
        XmlPush => {
            assert_eq!(status, 401, "{case}");
            assert!(text.contains("<Error>Invalid token, please contact your admin!</Error>"), "{case}");
        }
        Console if method == "GET" && path != "/console/events" => {
            assert_eq!(status, 303, "{case}");
            assert!(location.as_deref().unwrap_or("").starts_with("/console/login?next="), "{case}");
        }
        Console => assert_eq!(status, 401, "{case}"),
    }
}

/// What the dialect answers a caller whose role is not enough.
async fn assert_forbidden(route: (&str, &str, Dialect, Need), response: reqwest::Response, kind: Kind) {
    let (method, path, dialect, _) = route;
    let status = response.status();
    let text = response.text().await.unwrap();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let case = format!("{kind:?} {method} {path}: ({status}) {text}");
    assert_eq!(status, 403, "{case}");
    match dialect {
        Zendesk => assert_eq!(json["error"], "Forbidden", "{case}"),
        Freshdesk => assert_eq!(json["code"], "access_denied", "{case}"),
        Native => assert_eq!(json["error"], "forbidden", "{case}"),
        ZammadLog => assert_eq!(json["error"], "Not authorized (user)!", "{case}"),
        Console => assert!(text.contains("for admins only"), "{case}"),
        ZammadPush | XmlPush => unreachable!("push routes have no roles"),
    }
}

async fn assert_allowed(route: (&str, &str, Dialect, Need), response: reqwest::Response, kind: Kind) {
    let (method, path, _, _) = route;
    let status = response.status();
    let location = response.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let case = format!("{kind:?} {method} {path}: ({status})");
    assert!(![401, 403, 429].contains(&status.as_u16()), "{case} {}", response.text().await.unwrap_or_default());
    // Signing out ends at the sign-in form by design; anywhere else that means refused.
    if path != "/console/logout" {
        assert!(!location.unwrap_or_default().starts_with("/console/login"), "{case}: sent to sign in");
    }
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_its_dialect_does() {
    on_each_app(async |app| {
        enable_pushes(app).await;
        let end_user = principal(app, Role::EndUser, "customer@example.com").await;
        let agent = principal(app, Role::Agent, "agent@example.com").await;
        let admin = principal(app, Role::Admin, "admin@example.com").await;
        for &route in ROUTES {
            let (_, _, dialect, need) = route;
            for kind in [Kind::None, Kind::Wrong, Kind::EndUser, Kind::Agent, Kind::Admin] {
                let who = match kind {
                    Kind::EndUser => Some(&end_user),
                    Kind::Agent => Some(&agent),
                    Kind::Admin => Some(&admin),
                    _ => None,
                };
                // URL tokens name no user; end-users cannot hold a console session (tested below).
                let not_applicable = (need == PushToken && matches!(kind, Kind::EndUser | Kind::Agent))
                    || (dialect == Console && kind == Kind::EndUser);
                if not_applicable {
                    continue;
                }
                let response = send(app, route, kind, who).await;
                if route.0 == "POST" && route.1 == "/console/login" {
                    // Without the sign-in form's double-submit cookie, nobody gets further.
                    assert_eq!(response.status(), 403, "{kind:?}");
                    assert!(response.text().await.unwrap().contains("The form expired"));
                    continue;
                }
                let role_rank = |k: Kind| match k {
                    Kind::EndUser => 1,
                    Kind::Agent => 2,
                    Kind::Admin => 3,
                    _ => 0,
                };
                let needed = match need {
                    Public => None,
                    AnyUser => Some(1),
                    Staff => Some(2),
                    Admin => Some(3),
                    PushToken => Some(3),
                };
                match (needed, kind) {
                    (None, _) => assert_allowed(route, response, kind).await,
                    (Some(_), Kind::None | Kind::Wrong) => assert_unauthenticated(route, response).await,
                    (Some(n), k) if role_rank(k) < n => assert_forbidden(route, response, kind).await,
                    _ => assert_allowed(route, response, kind).await,
                }
            }
        }
        // End-users cannot open a console session at all.
        let refused = sign_in(app, &end_user.email, &end_user.password).await;
        assert_eq!(refused, Err(StatusCode::FORBIDDEN));
    })
    .await;
}

#[test]
fn push_tokens_are_compared_in_constant_time() {
    // The comparison hashes both sides and compares the digests with `subtle`: its time does not
    // depend on how much of a guess is right. Checked in the source, as timing is not testable
    // reliably on a shared machine.
    let src =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cti/config.rs")).unwrap();
    let body = src.split("pub fn token_matches").nth(1).expect("token_matches exists");
    let body = body.split("\n}\n").next().unwrap();
    assert!(body.contains("ConstantTimeEq") && body.contains(".ct_eq("), "{body}");
    assert!(!body.contains("=="), "no short-circuit comparison: {body}");
    for dialect in ["zammad/push.rs", "sipgate/xml.rs"] {
        let src = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dialect))
            .unwrap();
        assert!(src.contains("token_matches("), "{dialect} checks its token with token_matches");
    }
}

#[tokio::test]
async fn end_users_see_no_one_elses_tickets_in_any_dialect() {
    on_each_app(async |app| {
        let (_, admin_token) = app.user(Role::Admin, "admin@example.com", "admin password").await;
        let (alice, alice_token) = app.user(Role::EndUser, "alice@example.com", "alice password").await;
        let (bob, bob_token) = app.user(Role::EndUser, "bob@example.com", "bob password").await;
        let created = app
            .client
            .post(app.url("/api/v2/tickets.json"))
            .bearer_auth(&admin_token)
            .json(&json!({"ticket": {"subject": "Alice's", "requester_id": alice.id, "comment": {"body": "private"}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let ticket: Value = created.json().await.unwrap();
        let id = ticket["ticket"]["id"].as_i64().unwrap();

        for path in [
            format!("/api/v2/tickets/{id}.json"),
            format!("/api/v2/tickets/{id}/comments.json"),
            "/api/v2/tickets.json".to_owned(),
            format!("/api/v2/users/{}/tickets/requested.json", alice.id),
            "/api/v2/search.json?query=Alice".to_owned(),
            format!("/freshdesk/api/v2/tickets/{id}"),
            format!("/api/hub/users/{}", alice.id),
        ] {
            let response = app.client.get(app.url(&path)).bearer_auth(&bob_token).send().await.unwrap();
            assert_eq!(response.status(), 403, "bob reads {path}");
            let text = response.text().await.unwrap();
            assert!(!text.contains("private") && !text.contains("Alice's"), "{path}: {text}");
        }
        // Bob reads his own profile; ticket APIs are for agents, as in Zendesk.
        let me = app.client.get(app.url(&format!("/api/hub/users/{}", bob.id))).bearer_auth(&bob_token);
        assert_eq!(me.send().await.unwrap().status(), 200);
        let own = app.client.get(app.url(&format!("/api/v2/tickets/{id}.json"))).bearer_auth(&alice_token);
        assert_eq!(own.send().await.unwrap().status(), 403);

        // End-users read their own tickets through Zendesk's Requests API, and only those:
        // Alice sees hers with its public conversation, not the agents' internal note; to Bob
        // it does not exist.
        let note = app
            .client
            .put(app.url(&format!("/api/v2/tickets/{id}.json")))
            .bearer_auth(&admin_token)
            .json(&json!({"ticket": {"comment": {"body": "internal only", "public": false}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(note.status(), 200);
        let get = |path: String, token: &str| app.client.get(app.url(&path)).bearer_auth(token.to_owned()).send();
        let mine: Value = get("/api/v2/requests.json".into(), &alice_token).await.unwrap().json().await.unwrap();
        assert_eq!(mine["requests"].as_array().map(Vec::len), Some(1), "{mine}");
        assert_eq!((mine["requests"][0]["id"].as_i64(), mine["count"].as_i64()), (Some(id), Some(1)));
        assert_eq!(mine["requests"][0]["subject"], "Alice's");
        assert!(mine["requests"][0].get("tags").is_none(), "agents' fields stay out: {mine}");
        let one = get(format!("/api/v2/requests/{id}.json"), &alice_token).await.unwrap();
        assert_eq!(one.status(), 200);
        assert_eq!(one.json::<Value>().await.unwrap()["request"]["requester_id"], alice.id);
        let talk: Value =
            get(format!("/api/v2/requests/{id}/comments.json"), &alice_token).await.unwrap().json().await.unwrap();
        let bodies: Vec<_> = talk["comments"].as_array().unwrap().iter().map(|c| c["body"].clone()).collect();
        assert_eq!(bodies, [json!("private")], "the public description only, not the internal note");
        let none: Value = get("/api/v2/requests.json".into(), &bob_token).await.unwrap().json().await.unwrap();
        assert_eq!(none["count"], 0, "{none}");
        for path in [format!("/api/v2/requests/{id}.json"), format!("/api/v2/requests/{id}/comments.json")] {
            let answer = get(path.clone(), &bob_token).await.unwrap();
            assert_eq!(answer.status(), 404, "bob reads {path}");
            let text = answer.text().await.unwrap();
            assert!(text.contains("RecordNotFound") && !text.contains("Alice"), "{path}: {text}");
        }
    })
    .await;
}

#[tokio::test]
async fn agents_change_no_settings_and_no_tokens() {
    on_each_app(async |app| {
        app.enable_cti(|_| {}).await;
        let agent = principal(app, Role::Agent, "agent@example.com").await;
        let (customer, _) = app.user(Role::EndUser, "customer@example.com", "customer pw").await;
        let cti_before = ctihub_web::cti::load_config(&app.store).await.unwrap();
        let fields_before = app.store.list_custom_fields(ctihub_domain::custom_field::FieldTarget::User).await.unwrap();
        let api = |method: Method, path: &str, body: Value| {
            app.client.request(method, app.url(path)).bearer_auth(&agent.token).json(&body)
        };
        let attempts = [
            ("CTI config", api(Method::PUT, "/api/hub/cti/config", json!({"enabled": false}))),
            ("CTI token", api(Method::POST, "/api/hub/cti/token", json!({}))),
            ("Freshdesk option", api(Method::PUT, "/api/hub/freshdesk/cti", json!({"new_ticket": true}))),
            ("routing", api(Method::PUT, "/api/hub/routing", json!({"lines": [], "rules": []}))),
            ("API token", api(Method::POST, "/api/hub/tokens", json!({"label": "mine"}))),
            ("a role", api(Method::PATCH, &format!("/api/hub/users/{}", customer.id), json!({"role": "agent"}))),
            ("own role", api(Method::PATCH, &format!("/api/hub/users/{}", agent.id), json!({"role": "admin"}))),
            (
                "user field",
                app.client
                    .post(app.url("/api/v2/user_fields.json"))
                    .basic_auth(format!("{}/token", agent.email), Some(&agent.token))
                    .json(&json!({"user_field": {"type": "text", "title": "Shoe size", "key": "shoe"}})),
            ),
        ];
        for (what, request) in attempts {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "an agent changed {what}: {}", response.text().await.unwrap());
        }
        let (cookie, csrf) = agent.session.clone().unwrap();
        for (path, form) in [
            ("/console/admin/cti", vec![("enabled", "")]),
            ("/console/admin/cti/token", vec![]),
            ("/console/admin/cti/freshdesk", vec![("new_ticket", "on")]),
            ("/console/admin/routing", vec![("document", "{}")]),
            ("/console/admin/fields", vec![("target", "user"), ("field_type", "text"), ("title", "x"), ("key", "x")]),
            ("/console/admin/softphone", vec![("iframe_url", "https://evil.example/")]),
            ("/console/admin/users", vec![("role", "admin"), ("name", "Mallory")]),
            ("/console/admin/tokens", vec![("user_id", "1")]),
            ("/console/admin/tokens/1/revoke", vec![]),
        ] {
            let mut fields = form.clone();
            fields.push(("csrf", csrf.as_str()));
            let response =
                no_redirects().post(app.url(path)).header(COOKIE, &cookie).form_body(&fields).send().await.unwrap();
            assert_eq!(response.status(), 403, "an agent posted {path}");
        }
        assert_eq!(ctihub_web::cti::load_config(&app.store).await.unwrap(), cti_before, "CTI settings unchanged");
        let fields_after = app.store.list_custom_fields(ctihub_domain::custom_field::FieldTarget::User).await.unwrap();
        assert_eq!(fields_after.len(), fields_before.len());
        assert_eq!(app.store.get_user(customer.id).await.unwrap().role, Role::EndUser);
        assert_eq!(app.store.get_user(agent.id).await.unwrap().role, Role::Agent);
        assert_eq!(app.store.list_api_tokens(agent.id).await.unwrap().len(), 1, "only the test's own token");
    })
    .await;
}

/// `Retry-After` as whole seconds within the window.
fn retry_after(response: &reqwest::Response) -> u64 {
    let value = response.headers()["retry-after"].to_str().unwrap();
    let secs: u64 = value.parse().unwrap_or_else(|_| panic!("Retry-After {value:?} is not whole seconds"));
    assert!((1..=60).contains(&secs), "{secs}");
    secs
}

#[tokio::test]
async fn each_credential_has_its_budget_and_hears_429_in_its_dialect() {
    on_each_app_with(
        |state| state.with_api_rate_limit(2).with_push_rate_limit(2),
        async |app| {
            let push = app
                .enable_cti(|config| {
                    config.sipgate.enabled = true;
                    config.sipgate.token = Some("sipgate-token-0123456789".into());
                })
                .await;
            let mut users = Vec::new();
            for i in 0..8 {
                users.push(app.user(Role::Agent, &format!("agent{i}@example.com"), "agent password").await);
            }
            let checks: Vec<(&str, reqwest::RequestBuilder)> = vec![
                ("zendesk", app.client.get(app.url("/api/v2/users/me.json"))),
                ("freshdesk", app.client.get(app.url("/freshdesk/api/v2/agents/me"))),
                ("native", app.client.get(app.url("/api/hub/me"))),
                ("zammad log", app.client.get(app.url("/api/v1/cti/log"))),
            ];
            for (i, (dialect, request)) in checks.into_iter().enumerate() {
                let token = &users[i].1;
                let build = || request.try_clone().unwrap().bearer_auth(token);
                for _ in 0..2 {
                    let ok = build().send().await.unwrap();
                    assert!(ok.headers().get("retry-after").is_none(), "{dialect}: Retry-After only on 429");
                    assert_eq!(ok.status(), 200, "{dialect}");
                }
                let limited = build().send().await.unwrap();
                assert_eq!(limited.status(), 429, "{dialect}");
                retry_after(&limited);
                let content_type = limited.headers()["content-type"].to_str().unwrap().to_owned();
                let text = limited.text().await.unwrap();
                match dialect {
                    "zendesk" => assert_eq!(text, "Number of allowed API requests per minute exceeded"),
                    "freshdesk" => {
                        assert!(content_type.starts_with("application/json"));
                        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["code"], "too_many_requests");
                    }
                    "native" => assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"], "rate_limited"),
                    _ => assert!(serde_json::from_str::<Value>(&text).unwrap()["error"].is_string(), "{text}"),
                }
                // Someone else's credential is not slowed down.
                let other = request.try_clone().unwrap().bearer_auth(&users[i + 4].1).send().await.unwrap();
                assert_eq!(other.status(), 200, "{dialect}: another credential");
            }

            // Push URLs are counted per token.
            for _ in 0..2 {
                assert_eq!(
                    app.push(&push, "event=newCall&direction=in&from=030111&to=030222&callId=rl-1").await.0,
                    200
                );
            }
            let (status, body) = app.push(&push, "event=newCall&direction=in&from=030111&to=030222&callId=rl-2").await;
            assert_eq!((status, body["error"].is_string()), (429, true), "{body}");
            let sipgate = app.url("/api/v1/sipgate/sipgate-token-0123456789/in");
            for _ in 0..2 {
                app.push_xml(&sipgate, "event=newCall&direction=in&from=49301&to=49302&callId=s1", &[]).await;
            }
            let (status, xml) =
                app.push_xml(&sipgate, "event=newCall&direction=in&from=49301&to=49302&callId=s2", &[]).await;
            assert_eq!(status, 429);
            assert!(xml.contains("<Error>"), "{xml}");
        },
    )
    .await;
}

#[tokio::test]
async fn each_client_address_has_its_budget_behind_a_trusted_proxy() {
    use ctihub_web::client::{IpNet, Network};
    let behind_proxy = |state: ctihub_web::AppState| {
        let network = Network { trusted_proxies: vec![IpNet::parse("127.0.0.1").unwrap()], public_https: false };
        state.with_address_rate_limit(3).with_network(network)
    };
    on_each_app_with(behind_proxy, async |app| {
        let from = |client: &str| app.client.get(app.url("/console/login")).header("x-forwarded-for", client).send();
        for _ in 0..3 {
            assert_eq!(from("203.0.113.7").await.unwrap().status(), 200);
        }
        let limited = from("203.0.113.7").await.unwrap();
        assert_eq!(limited.status(), 429);
        retry_after(&limited);
        assert!(limited.text().await.unwrap().starts_with("Too many requests"));
        // Another client behind the same proxy has its own budget; so do health checks.
        assert_eq!(from("203.0.113.8").await.unwrap().status(), 200);
        assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
        // Native API surface: the same budget, its own error shape.
        let native = app.client.get(app.url("/api/hub/openapi.json")).header("x-forwarded-for", "203.0.113.7");
        let limited = native.send().await.unwrap();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.json::<Value>().await.unwrap()["error"], "rate_limited");
    })
    .await;
    // Without trusted proxies the header is the client's word, and counts for nothing.
    on_each_app_with(
        |state| state.with_address_rate_limit(2),
        async |app| {
            for client in ["203.0.113.1", "203.0.113.2"] {
                let response = app.client.get(app.url("/console/login")).header("x-forwarded-for", client);
                assert_eq!(response.send().await.unwrap().status(), 200);
            }
            let spoofed = app.client.get(app.url("/console/login")).header("x-forwarded-for", "203.0.113.3");
            assert_eq!(spoofed.send().await.unwrap().status(), 429);
        },
    )
    .await;
}

#[tokio::test]
async fn oversized_headers_get_431_and_slow_headers_are_cut_off() {
    on_each_app_with(
        |state| state.with_header_read_timeout(Duration::from_millis(500)),
        async |app| {
            let huge = "x".repeat(ctihub_web::MAX_HEADER_BYTES + 1);
            let response = app.client.get(app.url("/healthz")).header("x-padding", huge).send().await.unwrap();
            assert_eq!(response.status(), 431);
            let fine =
                app.client.get(app.url("/healthz")).header("x-padding", "x".repeat(8 * 1024)).send().await.unwrap();
            assert_eq!(fine.status(), 200);

            // A client that starts a request and never finishes its headers is disconnected.
            let address = app.base.trim_start_matches("http://");
            let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
            socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
            let mut buffer = [0u8; 256];
            let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buffer)).await;
            let read = read.expect("the server closes the connection, not the test's timeout");
            assert!(matches!(read, Ok(0) | Err(_)) || buffer.starts_with(b"HTTP/1.1 408"), "{read:?}");
        },
    )
    .await;
}

#[tokio::test]
async fn a_request_whose_body_never_comes_is_answered_408() {
    on_each_app_with(
        |state| state.with_request_timeout(Duration::from_millis(500)),
        async |app| {
            let url = app.enable_cti(|_| {}).await;
            let path = url.trim_start_matches(&app.base);
            // The headers promise a body that never follows: the handler waits for it, and the
            // timeout ends the wait instead of holding the connection and its task for ever.
            let address = app.base.trim_start_matches("http://");
            let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 100\r\n\r\nevent=newCall"
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            let mut buffer = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buffer)).await;
            let read = read.expect("the server answers, not the test's timeout").unwrap();
            assert!(buffer[..read].starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&buffer[..read]));
            // And a prompt request on the same app is answered as usual.
            let fine = app.client.get(app.url("/healthz")).send().await.unwrap();
            assert_eq!(fine.status(), 200);
        },
    )
    .await;
}

#[tokio::test]
async fn console_pages_carry_strict_security_headers_and_cookies() {
    on_each_app_with(
        |state| state.with_network(ctihub_web::client::Network { public_https: true, ..Default::default() }),
        async |app| {
            app.user(Role::Admin, "admin@example.com", "admin password").await;
            let (cookie, csrf) = sign_in(app, "admin@example.com", "admin password").await.unwrap();
            let saved = no_redirects()
                .post(app.url("/console/admin/softphone"))
                .header(COOKIE, &cookie)
                .form_body(&[("csrf", csrf.as_str()), ("iframe_url", "https://phone.example.com/app")])
                .send()
                .await
                .unwrap();
            assert_eq!(saved.status(), 303);
            for path in ["/console/login", "/console/journal", "/console/admin/audit"] {
                // Signed in, the sign-in page redirects; it is checked as a visitor sees it.
                let cookie = if path == "/console/login" { "" } else { cookie.as_str() };
                let page = no_redirects().get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
                assert_eq!(page.status(), 200, "{path}");
                let headers = page.headers();
                let csp = headers["content-security-policy"].to_str().unwrap();
                for directive in [
                    "default-src 'self'",
                    "script-src 'self'",
                    "frame-src https://phone.example.com",
                    "frame-ancestors 'none'",
                    "object-src 'none'",
                    "base-uri 'none'",
                ] {
                    assert!(csp.contains(directive), "{path}: {directive} missing in {csp}");
                }
                assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
                assert_eq!(headers["x-content-type-options"], "nosniff");
                assert_eq!(headers["referrer-policy"], "same-origin");
                assert_eq!(headers["x-frame-options"], "DENY");
                let html = page.text().await.unwrap();
                assert!(!html.contains("<script>") && !html.contains(" onclick="), "{path}: inline script");
            }
            // The public URL is https: every cookie is Secure, HttpOnly and SameSite.
            let form = no_redirects().get(app.url("/console/login")).send().await.unwrap();
            for cookie in form.headers().get_all("set-cookie") {
                let cookie = cookie.to_str().unwrap();
                assert!(
                    cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite="),
                    "{cookie}"
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn sign_ins_token_and_settings_changes_are_audited_for_admins() {
    on_each_app(async |app| {
        let admin = principal(app, Role::Admin, "admin@example.com").await;
        let agent = principal(app, Role::Agent, "agent@example.com").await;
        let (customer, _) = app.user(Role::EndUser, "customer@example.com", "customer pw").await;
        assert_eq!(sign_in(app, "admin@example.com", "a wrong password").await, Err(StatusCode::UNAUTHORIZED));
        let api = |method: Method, path: &str, body: Value| {
            app.client.request(method, app.url(path)).bearer_auth(&admin.token).json(&body)
        };
        let created =
            api(Method::POST, "/api/hub/tokens", json!({"label": "pbx", "user_id": agent.id})).send().await.unwrap();
        assert_eq!(created.status(), 201);
        let new_token = created.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        for (method, path, body) in [
            (Method::PUT, "/api/hub/cti/config", json!({"enabled": true})),
            (Method::POST, "/api/hub/cti/token", json!({})),
            (Method::PUT, "/api/hub/freshdesk/cti", json!({"new_ticket": true})),
            (Method::PUT, "/api/hub/routing", json!({"lines": [], "rules": []})),
            (Method::PATCH, &format!("/api/hub/users/{}", customer.id), json!({"role": "agent"})),
        ] {
            let response = api(method, path, body).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}: {}", response.text().await.unwrap());
        }
        let field = app
            .client
            .post(app.url("/api/v2/ticket_fields.json"))
            .bearer_auth(&admin.token)
            .json(&json!({"ticket_field": {"type": "text", "title": "Line"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(field.status(), 201);
        let (zd_customer, _) = app.user(Role::EndUser, "zd-customer@example.com", "zd customer pw").await;
        let promoted = app
            .client
            .put(app.url(&format!("/api/v2/users/{}.json", zd_customer.id)))
            .bearer_auth(&admin.token)
            .json(&json!({"user": {"role": "agent"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(promoted.status(), 200);
        let (cookie, csrf) = admin.session.clone().unwrap();
        let console_post = |path: &str, form: Vec<(&str, String)>| {
            let mut form = form;
            form.push(("csrf", csrf.clone()));
            no_redirects().post(app.url(path)).header(COOKIE, &cookie).form_body(&form).send()
        };
        let token_id = app.store.list_api_tokens(agent.id).await.unwrap().last().unwrap().id;
        for (path, form) in [
            ("/console/admin/softphone", vec![("iframe_url", "https://phone.example.com/".to_owned())]),
            (&format!("/console/admin/tokens/{token_id}/revoke")[..], vec![]),
        ] {
            assert_eq!(console_post(path, form).await.unwrap().status(), 303, "{path}");
        }
        let (agent_cookie, agent_csrf) = agent.session.clone().unwrap();
        let signed_out = no_redirects()
            .post(app.url("/console/logout"))
            .header(COOKIE, &agent_cookie)
            .form_body(&[("csrf", agent_csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_out.status(), 303);

        let log =
            app.client.get(app.url("/api/hub/audit?per_page=100")).bearer_auth(&admin.token).send().await.unwrap();
        assert_eq!(log.status(), 200);
        let log: Value = log.json().await.unwrap();
        let entries = log["entries"].as_array().unwrap();
        let seen = |action: &str, actor: &str| {
            entries.iter().any(|e| e["action"] == action && e["actor"] == actor && e["address"] == "127.0.0.1")
        };
        for (action, actor) in [
            ("sign_in", "admin@example.com"),
            ("sign_in", "agent@example.com"),
            ("sign_in_failed", "admin@example.com"),
            ("sign_out", "agent@example.com"),
            ("token_created", "admin@example.com"),
            ("token_revoked", "admin@example.com"),
            ("cti_config_changed", "admin@example.com"),
            ("cti_token_rotated", "admin@example.com"),
            ("freshdesk_cti_changed", "admin@example.com"),
            ("routing_changed", "admin@example.com"),
            ("user_role_changed", "admin@example.com"),
            ("custom_field_created", "admin@example.com"),
            ("softphone_changed", "admin@example.com"),
        ] {
            assert!(seen(action, actor), "no {action} by {actor} in {log:#}");
        }
        let role_change = |user: i64| {
            entries.iter().find(|e| e["action"] == "user_role_changed" && e["target"] == format!("user:{user}"))
        };
        assert!(role_change(zd_customer.id).is_some(), "a role change through the Zendesk API");
        let role_change = role_change(customer.id).unwrap();
        assert_eq!(role_change["detail"], "end-user -> agent");
        let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
        let text = log.to_string();
        for secret in [&admin.password, &admin.token, &new_token, &"a wrong password".to_owned()] {
            assert!(!text.contains(secret.as_str()), "a secret is in the audit log");
        }
        assert_eq!(log["count"].as_i64().unwrap(), entries.len() as i64);
        let page = app.client.get(app.url("/api/hub/audit?per_page=2&page=2")).bearer_auth(&admin.token);
        let page: Value = page.send().await.unwrap().json().await.unwrap();
        assert_eq!(page["entries"].as_array().unwrap().len(), 2);
        assert_eq!(page["entries"][0]["id"], entries[2]["id"]);

        // Admins only, in the API and the console.
        let (_, agent_token) = app.user(Role::Agent, "agent2@example.com", "agent2 password").await;
        let refused = app.client.get(app.url("/api/hub/audit")).bearer_auth(&agent_token).send().await.unwrap();
        assert_eq!(refused.status(), 403);
        let page = no_redirects().get(app.url("/console/admin/audit")).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("cti_token_rotated") && html.contains("sign_in_failed"), "{html}");
        let (agent2_cookie, _) = sign_in(app, "agent2@example.com", "agent2 password").await.unwrap();
        let refused = no_redirects().get(app.url("/console/admin/audit")).header(COOKIE, agent2_cookie).send().await;
        assert_eq!(refused.unwrap().status(), 403);
    })
    .await;
}
