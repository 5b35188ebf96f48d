//! The Freshdesk REST subset under `/freshdesk/api/v2`: what an integration needs to find a
//! caller and log a call, in Freshdesk's shapes.

use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{NewUser, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app};

const JSON_UTF8: &str = "application/json; charset=utf-8";

async fn call(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut request = app
        .client
        .request(method, app.url(&format!("/freshdesk/api/v2/{path}")))
        .basic_auth(key, Some("unused_with_api_key"))
        .header("content-type", "application/json");
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], JSON_UTF8, "({status}) {path}");
    let link = response.headers().get("link").map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), link)
}

#[tokio::test]
async fn contacts_are_found_by_phone_created_and_shown() {
    on_each_app(async |app| {
        let (_, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (status, created, _) = call(
            app,
            &key,
            Method::POST,
            "contacts",
            Some(json!({"view_all_tickets": false, "description": "Freshdesk Contact", "name": "Carl", "phone": "+15135557611"})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!((created["name"].as_str(), created["phone"].as_str()), (Some("Carl"), Some("+15135557611")));
        for key_field in ["created_at", "updated_at"] {
            assert!(created[key_field].as_str().is_some_and(|t| t.ends_with('Z')), "{key_field}");
        }
        let id = created["id"].as_i64().unwrap();

        let (status, listed, link) = call(app, &key, Method::GET, "contacts?page=1&per_page=100&phone=%2B15135557611", None).await;
        assert_eq!(status, 200);
        assert_eq!(listed.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>(), [id]);
        assert_eq!(link, None, "no Link header on the last page");

        // The `+` arrives unescaped, as both Freshdesk clients send it.
        let (status, found, _) =
            call(app, &key, Method::GET, "search/contacts?page=1&query=%22phone:'+15135557611'%22", None).await;
        assert_eq!(status, 200);
        assert_eq!((found["total"].as_i64(), found["results"][0]["id"].as_i64()), (Some(1), Some(id)));

        let (status, shown, _) = call(app, &key, Method::GET, &format!("contacts/{id}"), None).await;
        assert_eq!((status, shown["id"].as_i64()), (200, Some(id)));

        let (status, missing, _) = call(app, &key, Method::POST, "contacts", Some(json!({"name": "No way to reach"}))).await;
        assert_eq!(status, 400);
        assert_eq!(missing["errors"][0]["code"], "missing_field");
        let (status, unknown, _) = call(app, &key, Method::GET, "contacts/999999999", None).await;
        assert_eq!((status, unknown["code"].as_str()), (404, Some("not_found")));
        let (status, _, _) = call(app, &key, Method::GET, "no/such/route", None).await;
        assert_eq!(status, 404);
    })
    .await;
}

#[tokio::test]
async fn contact_listings_page_with_a_link_header() {
    on_each_app(async |app| {
        let (_, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        for n in 0..3 {
            app.store.create_user(NewUser::new(Role::EndUser, format!("C{n}"))).await.unwrap();
        }
        let (_, first, link) = call(app, &key, Method::GET, "contacts?page=1&per_page=2", None).await;
        assert_eq!(first.as_array().unwrap().len(), 2);
        assert!(link.unwrap().contains("page=2"));
        let (_, last, link) = call(app, &key, Method::GET, "contacts?page=2&per_page=2", None).await;
        assert_eq!((last.as_array().unwrap().len(), link), (1, None));
    })
    .await;
}

#[tokio::test]
async fn tickets_and_notes_are_created_and_agents_listed() {
    on_each_app(async |app| {
        let (anna, key) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let mut new = NewUser::new(Role::EndUser, "Carl");
        new.phones = vec![(PhoneKind::Mobile, "+15135557611".into())];
        let carl = app.store.create_user(new).await.unwrap();

        let (status, ticket, _) = call(
            app,
            &key,
            Method::POST,
            "tickets",
            Some(json!({"subject": "Call from Carl", "requester_id": carl.id, "description": "Printer",
                        "source": 3, "status": 2, "priority": 1, "tags": ["phone"], "responder_id": anna.id})),
        )
        .await;
        assert_eq!(status, 201, "{ticket}");
        assert_eq!(
            (ticket["source"].as_i64(), ticket["status"].as_i64(), ticket["priority"].as_i64()),
            (Some(3), Some(2), Some(1))
        );
        assert_eq!((ticket["requester_id"].as_i64(), ticket["responder_id"].as_i64()), (Some(carl.id), Some(anna.id)));
        let id = ticket["id"].as_i64().unwrap();
        let (status, shown, _) = call(app, &key, Method::GET, &format!("tickets/{id}"), None).await;
        assert_eq!((status, shown["subject"].as_str()), (200, Some("Call from Carl")));

        let (status, note, _) = call(
            app,
            &key,
            Method::POST,
            &format!("tickets/{id}/notes"),
            Some(json!({"body": "Called back", "private": true})),
        )
        .await;
        assert_eq!(status, 201, "{note}");
        assert_eq!(
            (note["private"].as_bool(), note["user_id"].as_i64(), note["ticket_id"].as_i64()),
            (Some(true), Some(anna.id), Some(id))
        );
        let stored = app.store.list_comments(id).await.unwrap();
        assert!(stored.iter().any(|c| c.body == "Called back" && !c.public));

        // An unknown e-mail requester becomes a contact.
        let (status, by_email, _) = call(
            app,
            &key,
            Method::POST,
            "tickets",
            Some(json!({"subject": "Hi", "email": "new@example.com", "description": "x"})),
        )
        .await;
        assert_eq!(status, 201);
        let requester = app.store.get_user(by_email["requester_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(requester.email.as_deref(), Some("new@example.com"));

        let (status, bad, _) = call(
            app,
            &key,
            Method::POST,
            "tickets",
            Some(json!({"subject": "x", "requester_id": 999_999_999, "priority": 9})),
        )
        .await;
        assert_eq!(status, 400);
        let fields: Vec<&str> =
            bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["priority", "requester_id"]);
        let (status, _, _) = call(app, &key, Method::POST, "tickets/999999999/notes", Some(json!({"body": "x"}))).await;
        assert_eq!(status, 404);

        let (status, me, _) = call(app, &key, Method::GET, "agents/me", None).await;
        assert_eq!(
            (status, me["id"].as_i64(), me["contact"]["email"].as_str()),
            (200, Some(anna.id), Some("anna@example.com"))
        );
        assert_eq!(me["available"], false, "no console session");
        let (status, agents, _) = call(app, &key, Method::GET, "agents", None).await;
        assert_eq!(status, 200);
        assert_eq!(agents.as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect::<Vec<_>>(), [anna.id]);
    })
    .await;
}
