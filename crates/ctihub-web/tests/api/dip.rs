//! The IVR data dip, one test per kind of answer: nobody to identify, an unknown number, a known
//! caller with organization, tickets and a routing decision, several users on one number, each
//! outcome of a typed ticket number, and who may ask.

use ctihub_domain::organization::{NewGroup, NewOrganization};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::{NewTicket, TicketStatus};
use ctihub_domain::user::{NewUser, Role, User};
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app};

const CALLER: &str = "+15135557611";
const LINE: &str = "+18005550100";

async fn dip(app: &TestApp, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = app.client.get(app.url("/api/hub/dip")).query(query).bearer_auth(token).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn dipped(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Value {
    let (status, body) = dip(app, token, query).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn customer(app: &TestApp, name: &str, phone: Option<&str>, org: Option<i64>, tags: &[&str]) -> User {
    let mut new = NewUser::new(Role::EndUser, name);
    new.phones = phone.map(|p| vec![(PhoneKind::Phone, p.to_owned())]).unwrap_or_default();
    new.organization_id = org;
    new.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    app.store.create_user(new).await.unwrap()
}

async fn ticket(app: &TestApp, requester: &User, subject: &str, status: TicketStatus) -> i64 {
    let new = NewTicket {
        subject: subject.into(),
        description: subject.into(),
        requester_id: requester.id,
        status: Some(status),
        ..Default::default()
    };
    app.store.create_ticket(new).await.unwrap().id
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

/// Widgets customers on the mobile line go to the tech group (the guide's example); after hours
/// everything goes to the night group.
async fn configure_routing(app: &TestApp, night: i64, tech: i64, jane: i64) {
    let config = serde_json::from_value(json!({
        "lines": [{"number": LINE, "time_zone": "UTC",
                   "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]}],
        "rules": [
            {"name": "night", "when": {"hours": "outside"}, "then": {"group_id": night}},
            {"name": "widgets", "when": {"dialed": LINE, "organization_tag": "widgets"},
             "then": {"group_id": tech, "assignee_id": jane, "tags": ["mobileapp"]}},
            {"name": "vip", "when": {"user_tag": "vip"}, "then": {"priority": "high"}},
        ],
    }))
    .unwrap();
    ctihub_web::routing::save(&app.store, &config).await.unwrap();
}

const THURSDAY_NOON: &str = "2022-01-27T12:00:00Z";
const SATURDAY_NOON: &str = "2022-01-29T12:00:00Z";

#[tokio::test]
async fn a_withheld_or_unknown_number_answers_nobody_but_still_routes_by_line() {
    on_each_app(async |app| {
        let (jane, token) = app.user(Role::Agent, "jane@example.com", "pw").await;
        let night = app.store.create_group(NewGroup { name: "Night".into(), description: None }).await.unwrap().id;
        configure_routing(app, night, night, jane.id).await;

        let body = dipped(app, &token, &[("from", "anonymous"), ("to", LINE), ("at", SATURDAY_NOON)]).await;
        assert_eq!((body["kind"].as_str(), &body["normalized"]), (Some("withheld"), &Value::Null));
        assert_eq!(body["users"], json!([]));
        assert_eq!((&body["open_tickets"], &body["most_recent_ticket"]), (&json!([]), &Value::Null));
        assert_eq!(body["input"], Value::Null);
        assert_eq!(body["routing"]["rule_name"], "night");
        assert_eq!(
            (&body["routing"]["group_id"], &body["routing"]["outside_business_hours"]),
            (&json!(night), &json!(true))
        );

        let body = dipped(app, &token, &[("from", "(212) 555-0000"), ("to", LINE), ("at", THURSDAY_NOON)]).await;
        assert_eq!((body["kind"].as_str(), body["normalized"].as_str()), (Some("number"), Some("+12125550000")));
        assert_eq!(body["users"], json!([]));
        assert_eq!(body["routing"]["rule_index"], Value::Null, "inside hours, nobody to tag: no rule");
        assert_eq!(body["routing"]["outside_business_hours"], false);
    })
    .await;
}

#[tokio::test]
async fn a_known_caller_gets_organization_tickets_and_the_rules_decision() {
    on_each_app(async |app| {
        let (jane, token) = app.user(Role::Agent, "jane@example.com", "pw").await;
        let night = app.store.create_group(NewGroup { name: "Night".into(), description: None }).await.unwrap().id;
        let tech = app.store.create_group(NewGroup { name: "Tech".into(), description: None }).await.unwrap().id;
        configure_routing(app, night, tech, jane.id).await;
        let widgets = app
            .store
            .create_organization(NewOrganization {
                name: "Widgets".into(),
                tags: vec!["widgets".into(), "VIP".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let carl = customer(app, "Carl", Some(CALLER), Some(widgets.id), &["gold"]).await;
        let old_open = ticket(app, &carl, "Printer", TicketStatus::Open).await;
        let pending = ticket(app, &carl, "Scanner", TicketStatus::Pending).await;
        let solved = ticket(app, &carl, "Fax", TicketStatus::Solved).await;

        let body =
            dipped(app, &token, &[("from", "513-555-7611"), ("to", "1 800 555 0100"), ("at", THURSDAY_NOON)]).await;
        let users = body["users"].as_array().unwrap();
        assert_eq!(users.len(), 1);
        let user = &users[0];
        assert_eq!((user["id"].as_i64(), user["level"].as_str()), (Some(carl.id), Some("known")));
        assert_eq!(user["tags"], json!(["gold"]));
        assert_eq!(user["organization"], json!({"id": widgets.id, "name": "Widgets", "tags": ["widgets", "vip"]}));
        assert_eq!(user["vip"], true, "VIP through the organization");
        assert_eq!(ids(&body["open_tickets"]), vec![pending, old_open], "open ones, most recently updated first");
        assert_eq!(body["most_recent_ticket"]["id"], solved, "the latest, whatever its status");
        assert_eq!(body["most_recent_ticket"]["status"], "solved");
        let routing = &body["routing"];
        assert_eq!(routing["rule_name"], "widgets");
        assert_eq!((&routing["group_id"], &routing["assignee_id"]), (&json!(tech), &json!(jane.id)));
        assert_eq!(routing["tags"], json!(["mobileapp"]));

        // The same caller dialing another number: the widgets rule needs the mobile line.
        let body = dipped(app, &token, &[("from", CALLER), ("to", "+18005550199"), ("at", THURSDAY_NOON)]).await;
        assert_eq!(body["routing"]["rule_index"], Value::Null);
        assert_eq!(body["routing"]["outside_business_hours"], Value::Null, "not a configured line");
    })
    .await;
}

#[tokio::test]
async fn several_users_on_one_number_are_listed_known_first_with_all_their_tickets() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Agent, "jane@example.com", "pw").await;
        let carl = customer(app, "Carl", Some(CALLER), None, &[]).await;
        let dora = customer(app, "Dora", None, None, &["vip"]).await;
        // Dora wrote the number in her ticket: a maybe-match for her.
        let doras = ticket(app, &dora, "Call me back on +1 513 555 7611 please", TicketStatus::New).await;
        let carls = ticket(app, &carl, "Invoice", TicketStatus::Open).await;

        let body = dipped(app, &token, &[("from", CALLER), ("to", LINE)]).await;
        let users: Vec<(i64, &str, bool)> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["id"].as_i64().unwrap(), u["level"].as_str().unwrap(), u["vip"].as_bool().unwrap()))
            .collect();
        assert_eq!(users, vec![(carl.id, "known", false), (dora.id, "maybe", true)]);
        assert_eq!(ids(&body["open_tickets"]).len(), 2);
        assert!(ids(&body["open_tickets"]).contains(&doras));
        assert_eq!(body["most_recent_ticket"]["id"], carls);
        assert_eq!(body["routing"]["rule_index"], Value::Null, "no rules configured");
    })
    .await;
}

#[tokio::test]
async fn a_typed_ticket_number_is_answered_only_when_it_is_the_callers() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Agent, "jane@example.com", "pw").await;
        let carl = customer(app, "Carl", Some(CALLER), None, &[]).await;
        let erin = customer(app, "Erin", Some("+12125550000"), None, &[]).await;
        let carls = ticket(app, &carl, "Printer", TicketStatus::Solved).await;
        let erins = ticket(app, &erin, "Secret subject", TicketStatus::Open).await;

        let input = format!("#{carls}#");
        let body = dipped(app, &token, &[("from", CALLER), ("input", &input)]).await;
        assert_eq!(body["input"]["value"], input);
        assert_eq!(body["input"]["result"], "belongs_to_caller");
        assert_eq!(
            (&body["input"]["ticket"]["id"], &body["input"]["ticket"]["subject"]),
            (&json!(carls), &json!("Printer"))
        );

        // Another customer's ticket and a ticket that does not exist answer alike.
        let erins_text = erins.to_string();
        for typed in [erins_text.as_str(), "987654321"] {
            let body = dipped(app, &token, &[("from", CALLER), ("input", typed)]).await;
            assert_eq!(body["input"], json!({"value": typed, "result": "does_not_belong", "ticket": null}));
            assert!(!body.to_string().contains("Secret subject"));
        }
        // Nobody identified: no ticket is the caller's.
        let body = dipped(app, &token, &[("from", "anonymous"), ("input", &carls.to_string())]).await;
        assert_eq!(body["input"]["result"], "does_not_belong");
        assert_eq!(body["input"]["ticket"], Value::Null);

        let body = dipped(app, &token, &[("from", CALLER), ("input", "*9")]).await;
        assert_eq!(body["input"], json!({"value": "*9", "result": "not_a_ticket_number", "ticket": null}));
        let body = dipped(app, &token, &[("from", CALLER), ("input", "  ")]).await;
        assert_eq!(body["input"], Value::Null, "blank input is no input");
    })
    .await;
}

#[tokio::test]
async fn only_agents_may_dip_and_bad_parameters_are_named() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Agent, "jane@example.com", "pw").await;
        let (_, end_user_token) = app.user(Role::EndUser, "carl@example.com", "pw").await;
        let response = app.client.get(app.url("/api/hub/dip")).query(&[("from", CALLER)]).send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(dip(app, &end_user_token, &[("from", CALLER)]).await.0, 403);
        let (status, body) = dip(app, &token, &[("from", CALLER), ("at", "yesterday")]).await;
        assert_eq!((status, body["details"][0]["field"].as_str()), (422, Some("at")), "{body}");
        let response = app.client.get(app.url("/api/hub/dip")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 400, "`from` is required");
    })
    .await;
}
