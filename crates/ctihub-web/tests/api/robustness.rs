//! Bad input never breaks the server: every dialect endpoint, fed hand-written malformed
//! requests and generated ones (arbitrary bytes, and valid bodies with one part mutated), answers
//! below 500, and every 4xx comes in that dialect's error shape.
//!
//! The generated requests run in-process (`tower::ServiceExt::oneshot` on the real router) on
//! SQLite; the hand-written corpus goes over HTTP on every backend. Cases: `PROPTEST_CASES`
//! (default 256 per generated test); e.g. `PROPTEST_CASES=20000 scripts/with-postgres cargo test
//! -p ctihub-web --test api -- robustness` for a longer run.

use axum::body::Body;
use axum::http::{Method, Request};
use ctihub_domain::user::Role;
use ctihub_store::testing::fresh_sqlite_store;
use ctihub_web::AppState;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestApp, on_each_app};

const ZAMMAD_TOKEN: &str = "zammad-token-0123456789";
const SIPGATE_TOKEN: &str = "sipgate-token-0123456789";
const PLACETEL_TOKEN: &str = "placetel-token-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": "…"}`
    Zammad,
    /// sipgate and placetel: `<Response><Error>…</Error></Response>`
    Xml,
    /// `{"error": …, "description": …}`, `application/json; charset=utf-8`
    Zendesk,
    /// `{"code", "message"}` or `{"description", "errors": […]}`, `application/json; charset=utf-8`
    Freshdesk,
    /// `{"error": code, "message": …}`
    Native,
}

/// Whether a 4xx answer is in the dialect's shape; `Err` says what is wrong.
pub fn check_error_shape(dialect: Dialect, content_type: &str, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    if dialect == Dialect::Xml {
        let ok = content_type == "application/xml; charset=UTF-8"
            && text.starts_with("<?xml")
            && text.contains("<Response><Error>")
            && text.ends_with("</Error></Response>");
        return if ok { Ok(()) } else { Err(format!("not sipgate/placetel XML ({content_type}): {text}")) };
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| format!("not JSON ({content_type}): {}", text.chars().take(300).collect::<String>()))?;
    let string = |key: &str| json.get(key).is_some_and(Value::is_string);
    let ok = match dialect {
        Dialect::Zammad => content_type.starts_with("application/json") && string("error"),
        Dialect::Zendesk => {
            content_type == "application/json; charset=utf-8"
                && json.get("error").is_some_and(|e| e.is_string() || e.is_object())
        }
        Dialect::Freshdesk => {
            content_type == "application/json; charset=utf-8"
                && ((string("code") && string("message")) || (string("description") && json["errors"].is_array()))
        }
        Dialect::Native => content_type.starts_with("application/json") && string("error") && string("message"),
        Dialect::Xml => unreachable!(),
    };
    if ok { Ok(()) } else { Err(format!("not {dialect:?}'s error shape ({content_type}): {json}")) }
}

/// How a request proves who sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The token is in the URL (PBX pushes).
    None,
    Bearer,
    /// Zendesk: Basic `email/token:TOKEN`.
    ZendeskToken,
    /// Freshdesk: Basic `TOKEN:X`.
    FreshdeskKey,
}

/// An endpoint and a valid-looking request to it, the seed the mutations start from.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub dialect: Dialect,
    pub method: &'static str,
    /// With a query string for GET endpoints that read one.
    pub path: &'static str,
    pub auth: Auth,
    pub body: SeedBody,
}

#[derive(Debug, Clone)]
pub enum SeedBody {
    Empty,
    Form(&'static str),
    Json(Value),
}

fn endpoints() -> Vec<Endpoint> {
    use Auth::*;
    use Dialect::*;
    use SeedBody::*;
    let e = |dialect, method, path, auth, body| Endpoint { dialect, method, path, auth, body };
    let push =
        "event=newCall&direction=in&from=4930600000001&to=4930123456&callId=fuzz-1&user%5B%5D=Agent&queue=support";
    vec![
        e(Zammad, "POST", "/api/v1/cti/zammad-token-0123456789", None, Form(push)),
        e(Zammad, "POST", "/api/v1/integration/cti/zammad-token-0123456789", None, Form(push)),
        e(Zammad, "GET", "/api/v1/cti/log?limit=10", Bearer, Empty),
        e(Zammad, "POST", "/api/v1/cti/done/1", Bearer, Form("done=true")),
        e(Zammad, "POST", "/api/v1/cti/done/bulk", Bearer, Form("ids%5B%5D=1&ids%5B%5D=2")),
        e(
            Xml,
            "POST",
            "/api/v1/sipgate/sipgate-token-0123456789/in",
            None,
            Form("event=newCall&direction=in&from=4930600000001&to=4930123456&callId=fuzz-2&user%5B%5D=Agent&xcid=abc"),
        ),
        e(
            Xml,
            "POST",
            "/api/v1/sipgate/sipgate-token-0123456789/out/",
            None,
            Form("event=hangup&direction=out&from=4930123456&to=4930600000001&callId=fuzz-3&cause=normalClearing"),
        ),
        e(
            Xml,
            "POST",
            "/api/v1/placetel/placetel-token-0123456789",
            None,
            Form("event=IncomingCall&from=4930600000001&to=4930123456&call_id=fuzz-4&peer=777"),
        ),
        e(
            Xml,
            "POST",
            "/api/v1/placetel/placetel-token-0123456789",
            None,
            Form("event=HungUp&call_id=fuzz-4&type=accepted&duration=12&from=4930600000001&to=4930123456"),
        ),
        e(
            Zendesk,
            "GET",
            "/api/v2/search.json?query=type%3Auser%20phone%3A*5557611&sort_by=created_at&page=1&per_page=10",
            ZendeskToken,
            Empty,
        ),
        e(Zendesk, "GET", "/api/v2/users/search.json?query=jane&external_id=x", ZendeskToken, Empty),
        e(Zendesk, "GET", "/api/v2/users.json?role=end-user&page=2&per_page=5", ZendeskToken, Empty),
        e(
            Zendesk,
            "POST",
            "/api/v2/users.json",
            ZendeskToken,
            Json(json!({"user": {
            "name": "Jane Fuzz", "email": "jane.fuzz@example.com", "phone": "+1 513 555 7611",
            "role": "end-user", "external_id": "ext-1", "tags": ["a", "b"], "user_fields": {"plan": "gold"},
            "organization_id": null, "verified": true}})),
        ),
        e(
            Zendesk,
            "PUT",
            "/api/v2/users/1.json",
            ZendeskToken,
            Json(json!({"user": {"name": "Renamed", "phone": "555"}})),
        ),
        e(
            Zendesk,
            "POST",
            "/api/v2/tickets.json",
            ZendeskToken,
            Json(json!({"ticket": {
            "subject": "Call", "comment": {"body": "hello", "public": false}, "requester_id": 1, "priority": "high",
            "status": "open", "type": "incident", "tags": ["call"], "custom_fields": [{"id": 1, "value": "x"}],
            "via_id": 45, "assignee_id": 1}})),
        ),
        e(
            Zendesk,
            "PUT",
            "/api/v2/tickets/1.json",
            ZendeskToken,
            Json(json!({"ticket": {"status": "solved", "comment": {"body": "done"}}})),
        ),
        e(Zendesk, "GET", "/api/v2/tickets.json?page=1&per_page=3&sort_order=desc", ZendeskToken, Empty),
        e(
            Zendesk,
            "POST",
            "/api/v2/user_fields.json",
            ZendeskToken,
            Json(json!({"user_field": {"type": "text", "key": "plan", "title": "Plan"}})),
        ),
        e(
            Zendesk,
            "POST",
            "/api/v2/ticket_fields.json",
            ZendeskToken,
            Json(json!({"ticket_field": {"type": "tagger", "title": "Kind",
            "custom_field_options": [{"name": "A", "value": "a"}]}})),
        ),
        e(
            Zendesk,
            "POST",
            "/api/v2/calls",
            ZendeskToken,
            Json(json!({"call": {
            "app_id": 1, "from_line": "+15135557611", "to_line": "+15135550000", "direction": "inbound",
            "call_started_at": "2022-01-27T15:31:40+01", "call_ended_at": "2022-01-27 15:41:40 +0100", "duration": 600,
            "completion_status": "completed", "agent_id": 1, "external_id": "tpe-1", "ivr_hops": [{"action": "x"}],
            "wait_time": 3, "recording_url": "https://example.com/r.mp3"}})),
        ),
        e(
            Zendesk,
            "PATCH",
            "/api/v2/calls/1.json",
            ZendeskToken,
            Json(json!({"call": {"duration": 5, "completion_status": "missed"}})),
        ),
        e(
            Zendesk,
            "POST",
            "/api/v2/calls/1/comments",
            ZendeskToken,
            Json(json!({"comment": {"body": "note", "public": false},
            "display_to_agent": 1, "title": "t"})),
        ),
        e(
            Zendesk,
            "POST",
            "/api/v2/channels/voice/tickets.json",
            ZendeskToken,
            Json(json!({"ticket": {
            "via_id": 45, "subject": "Voicemail", "requester_id": 1, "voice_comment": {"from": "+15135557611", "to": "+15135550000",
            "recording_url": "https://example.com/r.mp3", "started_at": "2019-04-16T09:14:57Z", "call_duration": 40,
            "answered_by_id": 1, "transcription_text": "hi", "location": "Dublin"}}})),
        ),
        e(Zendesk, "POST", "/api/v2/channels/voice/agents/1/tickets/1/display.json", ZendeskToken, Empty),
        e(Zendesk, "POST", "/api/v2/channels/voice/agents/1/users/1/display.json", ZendeskToken, Empty),
        e(
            Freshdesk,
            "POST",
            "/api/v2/integrations/cti/pop",
            FreshdeskKey,
            Json(json!({
            "requester_phone": "+15135557611", "responder_id": 1, "call_reference_id": "fd-1", "new_ticket": true,
            "requester_id": null})),
        ),
        e(
            Freshdesk,
            "POST",
            "/freshdesk/api/v2/integrations/cti/pop",
            FreshdeskKey,
            Json(json!({
            "requester_phone": "+15135557611", "responder_email": "admin@example.com", "call_reference_id": "fd-2"})),
        ),
        e(Freshdesk, "GET", "/freshdesk/api/v2/integrations/cti/details?call_reference_id=fd-1", FreshdeskKey, Empty),
        e(
            Freshdesk,
            "GET",
            "/freshdesk/api/v2/search/contacts?query=%22phone%3A%275135557611%27%22",
            FreshdeskKey,
            Empty,
        ),
        e(Freshdesk, "GET", "/freshdesk/api/v2/contacts?phone=5135557611&page=1&per_page=10", FreshdeskKey, Empty),
        e(
            Freshdesk,
            "POST",
            "/freshdesk/api/v2/contacts",
            FreshdeskKey,
            Json(json!({"name": "Fuzz", "phone": "+15135557612",
            "email": "fuzz@example.com", "mobile": "017", "unique_external_id": "u1", "tags": ["x"]})),
        ),
        e(
            Freshdesk,
            "POST",
            "/freshdesk/api/v2/tickets",
            FreshdeskKey,
            Json(json!({"subject": "Call", "description": "d",
            "email": "caller@example.com", "priority": 1, "status": 2, "phone": "+15135557611", "tags": ["call"]})),
        ),
        e(
            Freshdesk,
            "POST",
            "/freshdesk/api/v2/tickets/1/notes",
            FreshdeskKey,
            Json(json!({"body": "note", "private": true})),
        ),
        e(
            Native,
            "GET",
            "/api/hub/dip?from=%2B15135557611&to=%2B18005550100&input=1234%23&at=2022-01-27T15%3A31%3A40%2B01",
            Bearer,
            Empty,
        ),
        e(Native, "GET", "/api/hub/callers?number=%2B15135557611", Bearer, Empty),
        e(
            Native,
            "GET",
            "/api/hub/journal?status=open&direction=in&since=2022-01-01T00%3A00%3A00Z&limit=5&before_id=99",
            Bearer,
            Empty,
        ),
        e(Native, "POST", "/api/hub/journal/done", Bearer, Json(json!({"ids": [1, 2], "done": true}))),
        e(Native, "GET", "/api/hub/reports/calls?from=2022-01-01&to=2022-02-01&group_by=day", Bearer, Empty),
        e(Native, "GET", "/api/hub/calls.csv?from=2022-01-01&to=2022-02-01", Bearer, Empty),
        e(
            Native,
            "POST",
            "/api/hub/users",
            Bearer,
            Json(json!({"name": "Native Fuzz", "role": "end-user",
            "email": "native.fuzz@example.com", "phones": [{"number": "+15135557613", "kind": "phone"}]})),
        ),
        e(Native, "PATCH", "/api/hub/users/1", Bearer, Json(json!({"name": "Admin", "active": true}))),
        e(Native, "PUT", "/api/hub/presence", Bearer, Json(json!({"presence": "available"}))),
        e(Native, "POST", "/api/hub/tokens", Bearer, Json(json!({"label": "fuzz"}))),
    ]
}

/// One generated change to an endpoint's seed request.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    /// The body replaced by arbitrary bytes.
    Bytes(Vec<u8>),
    /// The body replaced by arbitrary text.
    Text(String),
    /// One JSON value (by its index in a walk of the document) replaced by another.
    JsonValue(usize, Value),
    /// One JSON member removed.
    JsonRemove(usize),
    /// One form or query pair's value replaced by hostile text.
    PairValue(usize, String),
    /// One form or query pair removed.
    PairRemove(usize),
    /// An extra pair appended (a repeated key, an odd key).
    PairAdd(String, String),
    /// The wrong content type for the body.
    ContentType(&'static str),
    /// No credentials, or garbage ones.
    Credentials(Option<String>),
    /// A path segment (an id or a token) replaced.
    PathSegment(String),
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("%".to_owned()),
        Just("%ZZ".to_owned()),
        Just("\u{0}".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("99999999999999999999999999".to_owned()),
        Just("1e309".to_owned()),
        Just("NaN".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("2022-13-45T25:61:61+99".to_owned()),
        Just("+".to_owned()),
        Just("anonymous".to_owned()),
        Just("*".to_owned()),
        Just("\"".to_owned()),
        Just(":".to_owned()),
        Just("a".repeat(5000)),
        Just("\u{202e}\u{feff}é中".to_owned()),
        "\\PC{0,40}",
        "[0-9+*#() -]{0,30}",
    ]
}

fn hostile_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(u64::MAX)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(9_007_199_254_740_993_i64)),
        hostile_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => Just(Mutation::None),
        2 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Mutation::Bytes),
        2 => "\\PC{0,200}".prop_map(Mutation::Text),
        6 => (0..64usize, hostile_json()).prop_map(|(i, v)| Mutation::JsonValue(i, v)),
        2 => (0..64usize).prop_map(Mutation::JsonRemove),
        6 => (0..16usize, hostile_text()).prop_map(|(i, v)| Mutation::PairValue(i, v)),
        2 => (0..16usize).prop_map(Mutation::PairRemove),
        2 => ("[a-zA-Z_\\[\\]%]{0,12}", hostile_text()).prop_map(|(k, v)| Mutation::PairAdd(k, v)),
        1 => proptest::sample::select(&["text/plain", "application/json", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/xml", ""][..]).prop_map(Mutation::ContentType),
        1 => proptest::option::of("[ -~]{0,40}").prop_map(Mutation::Credentials),
        // Never empty: `/api/v1/placetel/` is another route, not that endpoint with no token.
        2 => hostile_text().prop_filter("a segment", |s| !s.is_empty()).prop_map(Mutation::PathSegment),
    ]
}

/// Every value in a JSON document, in a fixed walk order, as mutable references' paths.
fn json_paths(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                out.push(path.clone());
                json_paths(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(path.clone());
                json_paths(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn json_at<'a>(root: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |v, key| match v {
        Value::Object(m) => m.get_mut(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn mutate_pairs(pairs: &str, mutation: &Mutation) -> String {
    let mut list: Vec<String> = pairs.split('&').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    match mutation {
        Mutation::PairValue(i, v) if !list.is_empty() => {
            let i = i % list.len();
            let key = list[i].split('=').next().unwrap_or("").to_owned();
            // Raw `%` sequences sometimes, encoded the rest of the time: both reach parsers.
            list[i] = if v.starts_with('%') { format!("{key}={v}") } else { format!("{key}={}", encode(v)) };
        }
        Mutation::PairRemove(i) if !list.is_empty() => {
            let i = i % list.len();
            list.remove(i);
        }
        Mutation::PairAdd(k, v) => list.push(format!("{k}={}", encode(v))),
        _ => {}
    }
    list.join("&")
}

/// A request and the dialect whose error shape its 4xx answers must have.
#[derive(Debug, Clone)]
pub struct Probe {
    pub dialect: Dialect,
    pub method: Method,
    pub uri: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

struct Credentials {
    admin_token: String,
}

fn probe(endpoint: &Endpoint, mutation: &Mutation, credentials: &Credentials) -> Probe {
    let (mut path, mut query) = match endpoint.path.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (endpoint.path.to_owned(), None),
    };
    let (mut content_type, mut body) = match &endpoint.body {
        SeedBody::Empty => (None, Vec::new()),
        SeedBody::Form(form) => {
            let form = if query.is_none() { mutate_pairs(form, mutation) } else { form.to_string() };
            (Some("application/x-www-form-urlencoded".to_owned()), form.into_bytes())
        }
        SeedBody::Json(doc) => {
            let mut doc = doc.clone();
            let mut paths = Vec::new();
            json_paths(&doc, &mut Vec::new(), &mut paths);
            match mutation {
                Mutation::JsonValue(i, v) if !paths.is_empty() => {
                    if let Some(slot) = json_at(&mut doc, &paths[i % paths.len()]) {
                        *slot = v.clone();
                    }
                }
                Mutation::JsonRemove(i) if !paths.is_empty() => {
                    let target = &paths[i % paths.len()];
                    let (last, parent) = target.split_last().unwrap();
                    match json_at(&mut doc, parent) {
                        Some(Value::Object(m)) => {
                            m.remove(last);
                        }
                        Some(Value::Array(a)) => {
                            a.remove(last.parse::<usize>().unwrap());
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            (Some("application/json".to_owned()), doc.to_string().into_bytes())
        }
    };
    if let Some(q) = &query {
        query = Some(mutate_pairs(q, mutation));
    }
    match mutation {
        Mutation::Bytes(bytes) => body = bytes.clone(),
        Mutation::Text(text) => body = text.clone().into_bytes(),
        Mutation::ContentType(ct) => content_type = (!ct.is_empty()).then(|| ct.to_string()),
        Mutation::PathSegment(segment) => {
            // The last numeric segment or the token.
            let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
            let target = segments
                .iter()
                .rposition(|s| s.chars().next().is_some_and(|c| c.is_ascii_digit()) || s.contains("token"));
            if let Some(i) = target {
                segments[i] = encode(segment);
            }
            path = segments.join("/");
        }
        _ => {}
    }
    let authorization = match (mutation, endpoint.auth) {
        (Mutation::Credentials(garbage), _) => garbage.clone(),
        (_, Auth::None) => None,
        (_, Auth::Bearer) => Some(format!("Bearer {}", credentials.admin_token)),
        (_, Auth::ZendeskToken) => Some(basic(&format!("admin@example.com/token:{}", credentials.admin_token))),
        (_, Auth::FreshdeskKey) => Some(basic(&format!("{}:X", credentials.admin_token))),
    };
    let uri = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path,
    };
    Probe {
        dialect: endpoint.dialect,
        method: Method::from_bytes(endpoint.method.as_bytes()).unwrap(),
        uri,
        content_type,
        authorization,
        body,
    }
}

fn basic(userinfo: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(userinfo))
}

/// Send a probe through the router in-process; `Err` describes a broken promise.
async fn send(router: &axum::Router, probe: &Probe) -> Result<u16, String> {
    let mut request = Request::builder().method(probe.method.clone()).uri(&probe.uri);
    if let Some(ct) = &probe.content_type {
        request = request.header("content-type", ct);
    }
    if let Some(auth) = &probe.authorization {
        request = request.header("authorization", auth);
    }
    let request = match request.body(Body::from(probe.body.clone())) {
        Ok(r) => r,
        // The generated URI or header is not valid HTTP: no client could send it.
        Err(_) => return Ok(0),
    };
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.map_err(|e| e.to_string())?;
    if status >= 500 {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    if (400..500).contains(&status) {
        check_error_shape(probe.dialect, &content_type, &body).map_err(|e| format!("{status}: {e}"))?;
    }
    Ok(status)
}

/// An app on a fresh SQLite store with every integration enabled, an admin with a token, and a
/// few records for the ids the seeds name.
async fn fuzz_app() -> (axum::Router, Credentials, ctihub_store::testing::TestStore) {
    let test_store = fresh_sqlite_store("US").await;
    let store = test_store.store.clone();
    let mut config = ctihub_web::cti::load_config(&store).await.unwrap();
    config.enabled = true;
    config.token = Some(ZAMMAD_TOKEN.into());
    config.sipgate.enabled = true;
    config.sipgate.token = Some(SIPGATE_TOKEN.into());
    config.placetel.enabled = true;
    config.placetel.token = Some(PLACETEL_TOKEN.into());
    ctihub_web::cti::save_config(&store, &config).await.unwrap();
    let mut admin = ctihub_domain::user::NewUser::new(Role::Admin, "Admin");
    admin.email = Some(ctihub_domain::user::Email::parse("admin@example.com").unwrap());
    let admin = store.create_user(admin).await.unwrap();
    let token = ctihub_web::auth::secrets::generate_token();
    store.create_api_token(admin.id, Some("fuzz"), &ctihub_web::auth::secrets::hash_token(&token)).await.unwrap();
    let state = AppState::new(store).with_api_rate_limit(u32::MAX);
    (ctihub_web::app(state), Credentials { admin_token: token }, test_store)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
}

/// Generated requests to every dialect endpoint: never a 5xx, every 4xx in the dialect's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_never_break_a_dialect() {
    let (router, credentials, _store) = fuzz_app().await;
    let endpoints = endpoints();
    let strategy = (0..endpoints.len(), mutation());
    let mut runner = TestRunner::default();
    let mut failures = Vec::new();
    // Every endpoint's seed once, then generated cases.
    let seeds = (0..endpoints.len()).map(|i| (i, Mutation::None));
    let generated = (0..cases() as usize * 4).map(|_| strategy.new_tree(&mut runner).unwrap().current());
    for (i, mutation) in seeds.chain(generated) {
        let p = probe(&endpoints[i], &mutation, &credentials);
        if let Err(e) = send(&router, &p).await {
            failures.push(format!("{} {} ({mutation:?}): {e}", p.method, p.uri.chars().take(200).collect::<String>()));
        }
    }
    assert!(failures.is_empty(), "{} broken answers:\n{}", failures.len(), failures.join("\n"));
}

/// One hand-written malformed request and the answer it must get.
struct Bad {
    dialect: Dialect,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: String,
    auth: Auth,
    status: u16,
}

fn bad(dialect: Dialect, method: &'static str, path: &str, auth: Auth, body: &str, status: u16) -> Bad {
    let content_type = match body.trim_start().chars().next() {
        None => None,
        Some('{' | '[') => Some("application/json"),
        Some(_) => Some("application/x-www-form-urlencoded"),
    };
    Bad { dialect, method, path: path.to_owned(), content_type, body: body.to_owned(), auth, status }
}

/// The corpus: per endpoint, the mistakes integrations make (missing and malformed fields, wrong
/// types, broken JSON, wrong credentials, ids that are not ids, oversized bodies).
fn corpus() -> Vec<Bad> {
    use Auth::*;
    use Dialect::*;
    let zammad = format!("/api/v1/cti/{ZAMMAD_TOKEN}");
    let sipgate = format!("/api/v1/sipgate/{SIPGATE_TOKEN}/in");
    let placetel = format!("/api/v1/placetel/{PLACETEL_TOKEN}");
    let long_id = "x".repeat(300);
    let huge = format!("event=newCall&direction=in&from=1&to=2&callId=1&pad={}", "a".repeat(3 * 1024 * 1024));
    let huge_json = format!("{{\"pad\": \"{}\"}}", "a".repeat(3 * 1024 * 1024));
    let mut with_type = bad(Zammad, "POST", &zammad, None, "{\"event\": \"newCall\"", 422);
    with_type.content_type = Some("application/json");
    vec![
        bad(Zammad, "POST", &zammad, None, "", 422),
        bad(Zammad, "POST", &zammad, None, "event=newCall&direction=sideways&from=1&to=2&callId=1", 422),
        bad(Zammad, "POST", &zammad, None, "event=ring&direction=in&from=1&to=2&callId=1", 422),
        bad(Zammad, "POST", &zammad, None, "event=newCall&direction=in&from=1&to=2", 422),
        bad(Zammad, "POST", &zammad, None, "event=newCall&direction=in&to=2&callId=1", 422),
        bad(Zammad, "POST", &zammad, None, &format!("event=hangup&direction=in&callId={long_id}"), 422),
        // A broken %-escape is kept as written (the call is stored with that number), as lenient
        // as form decoders in PBX-side HTTP stacks; not an error.
        bad(Zammad, "POST", &zammad, None, "event=newCall&direction=in&from=%ZZ&to=2&callId=1", 200),
        with_type,
        bad(Zammad, "POST", &zammad, None, &huge, 413),
        bad(Zammad, "POST", "/api/v1/cti/wrong-token", None, "event=newCall&direction=in&from=1&to=2&callId=1", 401),
        // As Zammad: 403 for a missing login too.
        bad(Zammad, "GET", "/api/v1/cti/log", None, "", 403),
        bad(Zammad, "POST", "/api/v1/cti/done/abc", Bearer, "done=true", 404),
        bad(Zammad, "POST", "/api/v1/cti/done/999999999", Bearer, "done=true", 404),
        bad(Zammad, "POST", "/api/v1/cti/done/bulk", Bearer, "ids%5B%5D=x", 422),
        bad(Xml, "POST", &sipgate, None, "event=newCall&direction=in&from=1&to=2", 422),
        bad(Xml, "POST", &sipgate, None, "event=dance&direction=in&from=1&to=2&callId=1", 422),
        bad(Xml, "POST", &sipgate, None, "", 422),
        bad(Xml, "POST", "/api/v1/sipgate/wrong-token/out", None, "event=hangup&callId=1", 401),
        bad(Xml, "POST", &placetel, None, "event=Nope&call_id=1&from=1&to=2", 422),
        bad(Xml, "POST", &placetel, None, "event=IncomingCall&from=1&to=2", 422),
        bad(Xml, "POST", &placetel, None, "{\"event\": 5}", 422),
        bad(Xml, "POST", "/api/v1/placetel/wrong-token", None, "event=HungUp&call_id=1", 401),
        bad(Zendesk, "GET", "/api/v2/search.json?query=type:user", None, "", 401),
        bad(Zendesk, "GET", "/api/v2/search.json?query=name:%22unclosed", ZendeskToken, "", 400),
        bad(Zendesk, "GET", "/api/v2/search.json?query=role:", ZendeskToken, "", 400),
        bad(Zendesk, "POST", "/api/v2/users.json", ZendeskToken, "{not json", 400),
        bad(Zendesk, "POST", "/api/v2/users.json", ZendeskToken, "[]", 400),
        bad(Zendesk, "POST", "/api/v2/users.json", ZendeskToken, r#"{"user": {"name": ""}}"#, 422),
        bad(Zendesk, "POST", "/api/v2/users.json", ZendeskToken, r#"{"user": {"name": "A", "role": "king"}}"#, 422),
        bad(Zendesk, "GET", "/api/v2/users/abc.json", ZendeskToken, "", 404),
        bad(Zendesk, "PUT", "/api/v2/users/999999999.json", ZendeskToken, r#"{"user": {"name": "A"}}"#, 404),
        bad(Zendesk, "POST", "/api/v2/tickets.json", ZendeskToken, r#"{"ticket": {}}"#, 422),
        bad(Zendesk, "PUT", "/api/v2/tickets/abc", ZendeskToken, r#"{"ticket": {}}"#, 404),
        bad(Zendesk, "POST", "/api/v2/calls", ZendeskToken, r#"{"call": {"from_line": 5}}"#, 422),
        bad(Zendesk, "POST", "/api/v2/calls", ZendeskToken, "{", 400),
        bad(Zendesk, "PATCH", "/api/v2/calls/123456789.json", ZendeskToken, r#"{"call": {}}"#, 404),
        bad(Zendesk, "POST", "/api/v2/calls/abc/comments", ZendeskToken, r#"{"comment": {}}"#, 404),
        bad(Zendesk, "POST", "/api/v2/channels/voice/tickets.json", ZendeskToken, r#"{"ticket": "no"}"#, 422),
        bad(Zendesk, "POST", "/api/v2/channels/voice/agents/abc/tickets/1/display.json", ZendeskToken, "", 404),
        bad(Zendesk, "DELETE", "/api/v2/users.json", ZendeskToken, "", 404),
        bad(Zendesk, "PUT", "/api/v2/users/", ZendeskToken, r#"{"user": {}}"#, 404),
        bad(Zendesk, "GET", "/api/v2/no_such_resource.json", ZendeskToken, "", 404),
        bad(Freshdesk, "POST", "/api/v2/integrations/cti/pop", None, r#"{"call_reference_id": "1"}"#, 401),
        bad(Freshdesk, "POST", "/api/v2/integrations/cti/pop", FreshdeskKey, "{}", 400),
        bad(Freshdesk, "POST", "/freshdesk/api/v2/integrations/cti/pop", FreshdeskKey, "{", 400),
        bad(Freshdesk, "GET", "/freshdesk/api/v2/integrations/cti/details", FreshdeskKey, "", 400),
        bad(Freshdesk, "POST", "/freshdesk/api/v2/contacts", FreshdeskKey, r#"{"name": 5}"#, 400),
        bad(Freshdesk, "GET", "/freshdesk/api/v2/contacts/abc", FreshdeskKey, "", 404),
        bad(Freshdesk, "POST", "/freshdesk/api/v2/tickets/abc/notes", FreshdeskKey, r#"{"body": "x"}"#, 404),
        bad(Freshdesk, "GET", "/freshdesk/api/v2/search/contacts?query=broken", FreshdeskKey, "", 400),
        bad(Freshdesk, "GET", "/freshdesk/api/v2/nothing-here", FreshdeskKey, "", 404),
        bad(Native, "GET", "/api/hub/me", None, "", 401),
        bad(Native, "GET", "/api/hub/dip", Bearer, "", 400),
        bad(Native, "GET", "/api/hub/dip?from=1&at=yesterday", Bearer, "", 422),
        bad(Native, "GET", "/api/hub/journal?limit=abc", Bearer, "", 400),
        bad(Native, "GET", "/api/hub/journal?since=tomorrow", Bearer, "", 422),
        bad(Native, "GET", "/api/hub/users/abc", Bearer, "", 404),
        bad(Native, "POST", "/api/hub/users", Bearer, "{", 400),
        bad(Native, "POST", "/api/hub/users", Bearer, r#"{"name": "x", "role": "king"}"#, 422),
        bad(Native, "PUT", "/api/hub/cti/config", Bearer, r#"{"enabled": "yes"}"#, 422),
        bad(Native, "PUT", "/api/hub/routing", Bearer, r#"{"rules": 5}"#, 422),
        bad(Native, "GET", "/api/hub/reports/calls?from=garbage", Bearer, "", 422),
        bad(Native, "GET", "/api/hub/nothing-here", Bearer, "", 404),
        bad(Zendesk, "GET", "/api/v2/users/me.json", None, "", 401),
        bad(Zendesk, "GET", "/api/v2/users/abc/tickets/requested.json", ZendeskToken, "", 404),
        bad(
            Zendesk,
            "POST",
            "/api/v2/user_fields.json",
            ZendeskToken,
            r#"{"user_field": {"type": "sparkles", "key": "k"}}"#,
            422,
        ),
        bad(Zendesk, "POST", "/api/v2/ticket_fields.json", ZendeskToken, r#"{"ticket_field": 7}"#, 422),
        bad(Zendesk, "GET", "/api/v2/ticket_fields/abc.json", ZendeskToken, "", 404),
        bad(Zendesk, "GET", "/api/v2/tickets/999999999/comments.json", ZendeskToken, "", 404),
        bad(Freshdesk, "GET", "/freshdesk/api/v2/agents/me", None, "", 401),
        bad(Freshdesk, "GET", "/freshdesk/api/v2/tickets/abc", FreshdeskKey, "", 404),
        bad(Freshdesk, "POST", "/freshdesk/api/v2/tickets", FreshdeskKey, "[1, 2]", 400),
        bad(Native, "GET", "/api/hub/events?after=abc", Bearer, "", 400),
        bad(Native, "GET", "/api/hub/callers", Bearer, "", 400),
        bad(Native, "PUT", "/api/hub/presence", Bearer, r#"{"presence": "on the moon"}"#, 422),
        bad(Native, "POST", "/api/hub/tokens", Bearer, r#"{"label": 5}"#, 422),
        bad(Native, "PUT", "/api/hub/freshdesk/cti", Bearer, "{", 400),
        bad(Native, "PATCH", "/api/hub/users/999999999", Bearer, r#"{"name": "x"}"#, 404),
        bad(Xml, "POST", &sipgate, None, &huge, 413),
        bad(Xml, "POST", &placetel, None, &huge, 413),
        bad(Zendesk, "POST", "/api/v2/calls", ZendeskToken, &huge_json, 413),
        bad(Freshdesk, "POST", "/api/v2/integrations/cti/pop", FreshdeskKey, &huge_json, 413),
        bad(Native, "POST", "/api/hub/users", Bearer, &huge_json, 413),
    ]
}

/// Every malformed request in the corpus gets its status in its dialect's shape, on every
/// backend, over real HTTP.
#[tokio::test]
async fn malformed_requests_get_the_dialects_errors() {
    on_each_app(async |app: &TestApp| {
        let mut config = ctihub_web::cti::load_config(&app.store).await.unwrap();
        config.enabled = true;
        config.token = Some(ZAMMAD_TOKEN.into());
        config.sipgate.enabled = true;
        config.sipgate.token = Some(SIPGATE_TOKEN.into());
        config.placetel.enabled = true;
        config.placetel.token = Some(PLACETEL_TOKEN.into());
        ctihub_web::cti::save_config(&app.store, &config).await.unwrap();
        let (_, token) = app.user(Role::Admin, "admin@example.com", "a long password").await;
        let mut wrong = Vec::new();
        for case in corpus() {
            let method = Method::from_bytes(case.method.as_bytes()).unwrap();
            let mut request = app.client.request(method, app.url(&case.path)).body(case.body.clone());
            if let Some(ct) = case.content_type {
                request = request.header("content-type", ct);
            }
            request = match case.auth {
                Auth::None => request,
                Auth::Bearer => request.bearer_auth(&token),
                Auth::ZendeskToken => request.basic_auth("admin@example.com/token", Some(&token)),
                Auth::FreshdeskKey => request.basic_auth(&token, Some("X")),
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let content_type =
                response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let body = response.bytes().await.unwrap();
            let shape = if status >= 400 { check_error_shape(case.dialect, &content_type, &body) } else { Ok(()) };
            if status != case.status || shape.is_err() {
                wrong.push(format!(
                    "{} {} {} → {status} (expected {}): {} {}",
                    case.method,
                    case.path.chars().take(80).collect::<String>(),
                    case.body.chars().take(80).collect::<String>(),
                    case.status,
                    shape.err().unwrap_or_default(),
                    String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
                ));
            }
        }
        assert!(wrong.is_empty(), "{} answers not as expected:\n{}", wrong.len(), wrong.join("\n"));
    })
    .await;
}

// The PBX parameter reader every push dialect shares, fuzzed directly: any body either parses or
// is refused with a message, and what a PBX encodes reads back as sent.
proptest! {
    #[test]
    fn pbx_parameters_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        use ctihub_web::cti::params::Params;
        for parsed in [Ok(Params::from_form(&body)), Params::from_json(&body)] {
            match parsed {
                Ok(params) => {
                    let _ = params.to_json();
                    let _ = params.all("user");
                }
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
        }
    }

    #[test]
    fn encoded_pbx_parameters_read_back(
        pairs in proptest::collection::vec(("[a-zA-Z][a-zA-Z_]{0,8}", "\\PC{0,20}"), 0..8),
        users in proptest::collection::vec("[a-zA-Z ]{1,12}", 0..4),
    ) {
        use ctihub_web::cti::params::Params;
        let mut form: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        form.extend(users.iter().map(|u| format!("user%5B%5D={}", encode(u))));
        let params = Params::from_form(form.join("&").as_bytes());
        for (key, value) in &pairs {
            if key == "user" || value.trim().is_empty() {
                continue;
            }
            // The first non-empty value of a key wins.
            let first = pairs.iter().find(|(k, v)| k == key && !v.trim().is_empty()).map(|(_, v)| v.trim());
            prop_assert_eq!(params.get(key), first);
        }
        let sent: Vec<String> = users.iter().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect();
        let plain_users: Vec<String> =
            pairs.iter().filter(|(k, _)| k == "user").map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
        let all = params.all("user");
        prop_assert!(sent.iter().all(|u| all.contains(u)), "{:?} in {:?}", sent, all);
        prop_assert_eq!(all.len(), sent.len() + plain_users.len());
    }
}
