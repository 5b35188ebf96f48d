//! Routing rules end to end: the admin API that stores them, and their application where calls
//! become tickets (TPE calls with a comment, Freshdesk pops).

use ctihub_domain::organization::NewGroup;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::Priority;
use ctihub_domain::user::{NewUser, Role, User};
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app};

const LINE: &str = "+18005550100";
const APP_ID: i64 = 735_264_019_863_524;

async fn put_rules(app: &TestApp, token: &str, rules: &Value) -> (u16, Value) {
    let response = app.client.put(app.url("/api/hub/routing")).bearer_auth(token).json(rules).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn group(app: &TestApp, name: &str) -> i64 {
    app.store.create_group(NewGroup { name: name.into(), description: None }).await.unwrap().id
}

async fn customer(app: &TestApp, name: &str, phone: &str, tags: &[&str]) -> User {
    let mut new = NewUser::new(Role::EndUser, name);
    new.phones = vec![(PhoneKind::Phone, phone.to_owned())];
    new.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    app.store.create_user(new).await.unwrap()
}

/// Support hours 09:00–17:00 UTC on weekdays; after hours → night group; VIPs → urgent, to an
/// agent; anything on an 800 number → support group.
fn rules(night: i64, support: i64, agent: i64) -> Value {
    json!({
        "lines": [{"number": "1 (800) 555-0100", "name": "Hotline", "time_zone": "UTC",
                   "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]}],
        "rules": [
            {"name": "after hours", "when": {"dialed": LINE, "hours": "outside"}, "then": {"group_id": night}},
            {"name": "vip", "when": {"user_tag": "vip"},
             "then": {"priority": "urgent", "assignee_id": agent, "tags": ["vip_caller"]}},
            {"name": "800", "when": {"dialed": "1800*"}, "then": {"group_id": support, "tags": ["hotline"]}},
        ],
    })
}

#[tokio::test]
async fn admins_store_rules_and_unknown_groups_or_agents_are_named() {
    on_each_app(async |app| {
        let (_admin, admin_token) = app.user(Role::Admin, "root@example.com", "pw").await;
        let (anna, anna_token) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let carl = customer(app, "Carl", "+15135557611", &[]).await;
        let (night, support) = (group(app, "Night").await, group(app, "Support").await);

        let (status, _) = put_rules(app, &anna_token, &rules(night, support, anna.id)).await;
        assert_eq!(status, 403, "agents may not change routing");

        let (status, body) = put_rules(app, &admin_token, &rules(night, 999_999, anna.id)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["details"][0]["field"], "rules[2].then.group_id");
        assert_eq!(body["details"][0]["message"], "group 999999 does not exist");

        let (status, body) = put_rules(app, &admin_token, &rules(night, support, carl.id)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["details"][0]["field"], "rules[1].then.assignee_id");
        assert_eq!(body["details"][0]["message"], format!("user {} is not an active agent", carl.id));

        let mut bad_zone = rules(night, support, anna.id);
        bad_zone["lines"][0]["time_zone"] = json!("Mars/Olympus");
        let (status, body) = put_rules(app, &admin_token, &bad_zone).await;
        assert_eq!((status, body["details"][0]["field"].as_str()), (422, Some("lines[0].time_zone")), "{body}");

        let (status, body) = put_rules(app, &admin_token, &json!({"rules": [{"when": {"dnis": "1"}}]})).await;
        assert_eq!(status, 422, "unknown condition names are refused, not ignored: {body}");

        let (status, body) = put_rules(app, &admin_token, &rules(night, support, anna.id)).await;
        assert_eq!(status, 200, "{body}");
        let read: Value = app
            .client
            .get(app.url("/api/hub/routing"))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(read["rules"][1]["then"]["priority"], "urgent");
        assert_eq!(read["lines"][0]["hours"][0]["close"], "17:00");
        assert_eq!(read["rules"].as_array().map(Vec::len), Some(3));
    })
    .await;
}

/// Create a TPE call with a comment (so a ticket is made); the call object answered.
async fn tpe_call(app: &TestApp, token: &str, from: &str, started: &str, extra: Value) -> Value {
    let mut call = json!({"from_line": from, "to_line": LINE, "call_started_at": started,
                          "direction": "inbound", "app_id": APP_ID});
    for (k, v) in extra.as_object().unwrap() {
        call[k] = v.clone();
    }
    let response = app
        .client
        .post(app.url("/api/v2/calls.json"))
        .basic_auth("pbx@example.com/token", Some(token))
        .json(&json!({"call": call, "comment": {"title": "A call"}}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["call"].clone()
}

#[tokio::test]
async fn tickets_made_from_tpe_calls_are_routed_and_the_call_learns_its_hours() {
    on_each_app(async |app| {
        let (_pbx, pbx_token) = app.user(Role::Agent, "pbx@example.com", "pw").await;
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (night, support) = (group(app, "Night").await, group(app, "Support").await);
        let config = serde_json::from_value(rules(night, support, anna.id)).unwrap();
        ctihub_web::routing::save(&app.store, &config).await.unwrap();
        let vip = customer(app, "Vera", "+15135550001", &["VIP"]).await;

        // Thursday 14:31 UTC: open. An unknown caller on the 800 line → support group.
        let call = tpe_call(app, &pbx_token, "+15135557611", "2022-01-27T15:31:40+01", json!({})).await;
        let ticket = app.store.get_ticket(call["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!((ticket.group_id, ticket.assignee_id, ticket.priority), (Some(support), None, None));
        assert_eq!(ticket.tags, vec!["hotline"]);
        assert_eq!(call["outside_business_hours"], false, "routing fills what the partner left out");

        // A VIP during hours: the VIP rule comes before the 800 rule.
        let call = tpe_call(app, &pbx_token, "+1 513 555 0001", "2022-01-27T15:31:40+01", json!({})).await;
        let ticket = app.store.get_ticket(call["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(ticket.requester_id, vip.id);
        assert_eq!(
            (ticket.group_id, ticket.assignee_id, ticket.priority),
            (None, Some(anna.id), Some(Priority::Urgent))
        );
        assert_eq!(ticket.tags, vec!["vip_caller"]);

        // The same VIP on Saturday: after hours wins, being first.
        let call = tpe_call(app, &pbx_token, "+1 513 555 0001", "2022-01-29T10:00:00Z", json!({})).await;
        let ticket = app.store.get_ticket(call["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!((ticket.group_id, ticket.priority), (Some(night), None));
        assert_eq!(call["outside_business_hours"], true);

        // What the partner reported about its hours stands; the rules still read the line's.
        let call =
            tpe_call(app, &pbx_token, "+15135557611", "2022-01-29T10:00:00Z", json!({"outside_business_hours": false}))
                .await;
        assert_eq!(call["outside_business_hours"], false);
        let ticket = app.store.get_ticket(call["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(ticket.group_id, Some(night));

        // A call without a comment (no ticket) still learns its hours; a number no line lists
        // learns nothing.
        let bare = json!({"call": {"from_line": "+15135557611", "to_line": LINE, "call_started_at": "2022-01-29T10:00:00Z",
                                   "direction": "inbound", "app_id": APP_ID}});
        let response = app
            .client
            .post(app.url("/api/v2/calls.json"))
            .basic_auth("pbx@example.com/token", Some(&pbx_token))
            .json(&bare)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!((&body["call"]["outside_business_hours"], &body["call"]["ticket_id"]), (&json!(true), &Value::Null));
        let mut elsewhere = bare.clone();
        elsewhere["call"]["to_line"] = json!("+18005550199");
        let response = app
            .client
            .post(app.url("/api/v2/calls.json"))
            .basic_auth("pbx@example.com/token", Some(&pbx_token))
            .json(&elsewhere)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["call"]["outside_business_hours"], Value::Null);

        // No rules: tickets are made as before.
        ctihub_web::routing::save(&app.store, &Default::default()).await.unwrap();
        let call = tpe_call(app, &pbx_token, "+15135557611", "2022-01-29T10:00:00Z", json!({})).await;
        let ticket = app.store.get_ticket(call["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!((ticket.group_id, ticket.tags.len()), (None, 0));
        assert_eq!(call["outside_business_hours"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn freshdesk_call_tickets_are_routed_but_keep_their_responder() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (ben, _) = app.user(Role::Agent, "ben@example.com", "pw").await;
        let (night, support) = (group(app, "Night").await, group(app, "Support").await);
        let config = serde_json::from_value(rules(night, support, ben.id)).unwrap();
        ctihub_web::routing::save(&app.store, &config).await.unwrap();
        let vip = customer(app, "Vera", "+15135550001", &["vip"]).await;

        let response = app
            .client
            .post(app.url("/freshdesk/api/v2/integrations/cti/pop"))
            .basic_auth(&key, Some("X"))
            .json(&json!({"requester_id": vip.id, "responder_id": anna.id, "call_reference_id": "r-1",
                          "call_url": "https://rec.example/1.mp3"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let answer: Value = response.json().await.unwrap();
        let ticket = app.store.get_ticket(answer["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(ticket.assignee_id, Some(anna.id), "the agent who took the call keeps it");
        assert_eq!((ticket.priority, ticket.tags.clone()), (Some(Priority::Urgent), vec!["vip_caller".to_owned()]));
    })
    .await;
}

#[tokio::test]
async fn the_console_page_shows_rules_in_order_and_saves_the_document() {
    on_each_app(async |app| {
        use crate::console_helpers::{FormBody, no_redirects, sign_in};
        use reqwest::StatusCode;
        use reqwest::header::COOKIE;

        app.user(Role::Admin, "root@example.com", "root password").await;
        app.user(Role::Agent, "anna@example.com", "anna password").await;
        let night = group(app, "Night shift").await;
        let (root, csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (anna, anna_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let page = async |cookie: &str| {
            let response = no_redirects().get(app.url("/console/admin/routing")).header(COOKIE, cookie).send().await;
            let response = response.unwrap();
            (response.status(), response.text().await.unwrap())
        };
        let post = async |cookie: &str, form: &[(&str, &str)]| {
            let request = no_redirects().post(app.url("/console/admin/routing")).header(COOKIE, cookie);
            request.form_body(form).send().await.unwrap()
        };

        let (status, html) = page(&root).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("No rules: tickets from calls are not routed."), "{html}");
        assert!(html.contains(r#"href="/console/admin/routing" aria-current="page""#), "{html}");
        assert_eq!(page(&anna).await.0, StatusCode::FORBIDDEN);
        let refused = post(&anna, &[("csrf", &anna_csrf), ("document", "{}")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let no_csrf = post(&root, &[("document", "{}")]).await;
        assert_ne!(no_csrf.status(), StatusCode::SEE_OTHER, "a form without the CSRF token is refused");

        let unknown = r#"{"rules": [{"when": {"user_tag": "vip"}, "then": {"group_id": 123456789}}]}"#;
        let answer = post(&root, &[("csrf", &csrf), ("document", unknown)]).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = answer.text().await.unwrap();
        assert!(html.contains("rules[0].then.group_id: group 123456789 does not exist"), "{html}");
        assert!(html.contains("123456789"), "what the admin typed is kept: {html}");
        let answer = post(&root, &[("csrf", &csrf), ("document", "{not json")]).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(answer.text().await.unwrap().contains("the document is not valid"));

        let good = format!(
            r#"{{"lines": [{{"number": "{LINE}", "name": "Hotline", "hours": [{{"days": ["sat"], "open": "10:00", "close": "14:00"}}]}}],
                "rules": [{{"name": "after hours", "when": {{"hours": "outside"}}, "then": {{"group_id": {night}}}}},
                          {{"when": {{"user_tag": "vip"}}, "then": {{"priority": "high"}}}}]}}"#
        );
        let answer = post(&root, &[("csrf", &csrf), ("document", &good)]).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let stored = ctihub_web::routing::load(&app.store).await.unwrap();
        assert_eq!(stored.rules.len(), 2);
        let (_, html) = page(&root).await;
        let first = html.find("after hours: outside business hours → group Night shift").expect(&html);
        let second = html.find("caller tagged vip → priority high").expect(&html);
        assert!(first < second, "listed in evaluation order");
        assert!(html.contains("Hotline (+18005550100), UTC: sat 10:00–14:00"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn a_ticket_an_agent_files_from_a_call_in_the_console_is_routed_too() {
    on_each_app(async |app| {
        use crate::console_helpers::{FormBody, no_redirects, sign_in};
        use reqwest::header::{COOKIE, LOCATION};

        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let (night, support) = (group(app, "Night").await, group(app, "Support").await);
        let config = serde_json::from_value(rules(night, support, anna.id)).unwrap();
        ctihub_web::routing::save(&app.store, &config).await.unwrap();
        let vip = customer(app, "Vera", "+15135550001", &["vip"]).await;
        let started = jiff::civil::date(2022, 1, 27).at(12, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).unwrap();
        let data = ctihub_domain::call::CallData::new(
            ctihub_domain::call::Direction::Inbound,
            "+15135550001",
            LINE,
            started.timestamp().as_millisecond(),
        );
        let call = app.store.create_call(&data, &[], None).await.unwrap();

        let (cookie, csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let vip_id = vip.id.to_string();
        let form = [("csrf", csrf.as_str()), ("action", "create"), ("customer", &vip_id)];
        let response = no_redirects()
            .post(app.url(&format!("/console/calls/{}/file", call.id)))
            .header(COOKIE, &cookie)
            .form_body(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        let ticket_id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
        let ticket = app.store.get_ticket(ticket_id).await.unwrap();
        assert_eq!(ticket.assignee_id, Some(anna.id), "the agent filing it keeps it");
        assert_eq!((ticket.priority, ticket.tags), (Some(Priority::Urgent), vec!["vip_caller".to_owned()]));
        // A Thursday at noon on the hotline: inside its hours, recorded on the call it filed.
        let filed = app.store.get_call(call.id).await.unwrap();
        assert_eq!(filed.data.ticket_id, Some(ticket_id));
        assert_eq!(filed.data.details.get("outside_business_hours"), Some(&serde_json::Value::Bool(false)));
    })
    .await;
}

#[tokio::test]
async fn a_rule_naming_an_agent_who_left_still_routes_the_rest_of_the_ticket() {
    on_each_app(async |app| {
        let (_pbx, pbx_token) = app.user(Role::Agent, "pbx@example.com", "pw").await;
        let (anna, _) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (night, support) = (group(app, "Night").await, group(app, "Support").await);
        let config = serde_json::from_value(rules(night, support, anna.id)).unwrap();
        ctihub_web::routing::save(&app.store, &config).await.unwrap();
        customer(app, "Vera", "+15135550001", &["vip"]).await;
        let patch = ctihub_domain::user::UserPatch { active: Some(false), ..Default::default() };
        app.store.update_user(anna.id, patch).await.unwrap();

        let call = tpe_call(app, &pbx_token, "+1 513 555 0001", "2022-01-27T15:31:40+01", json!({})).await;
        let ticket = app.store.get_ticket(call["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!((ticket.assignee_id, ticket.priority), (None, Some(Priority::Urgent)), "created, unassigned");
        assert_eq!(ticket.tags, vec!["vip_caller"]);
    })
    .await;
}
