//! Zendesk search, users and user fields, as the CTI guide's flows call them: find a caller by
//! phone in any format, create one with only a phone, map a call-center agent by custom field.

use ctihub_domain::organization::NewOrganization;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::NewTicket;
use ctihub_domain::user::{NewUser, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app};
use crate::zendesk_helpers::{Zendesk, ids};

/// The five formats the guide lists, and one more that must not match.
async fn callers(app: &TestApp) -> (Vec<i64>, i64) {
    let mut wanted = Vec::new();
    for (i, phone) in
        ["+1 513.555.7611", "(513) 555-7611", "513 555 7611", "513-555-7611", "513.555.7611"].into_iter().enumerate()
    {
        let mut user = NewUser::new(Role::EndUser, format!("Caller {i}"));
        user.phones = vec![(PhoneKind::Phone, phone.into())];
        wanted.push(app.store.create_user(user).await.unwrap().id);
    }
    let mut other = NewUser::new(Role::EndUser, "Someone Else");
    other.phones = vec![(PhoneKind::Phone, "+1 513 555 7612".into())];
    let other = app.store.create_user(other).await.unwrap().id;
    (wanted, other)
}

#[tokio::test]
async fn a_caller_is_found_by_phone_in_every_format_the_guide_lists() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let (wanted, other) = callers(app).await;
        let body = zd.search("role:end-user phone:*5135557611").await;
        assert_eq!(body["count"], 5, "{body}");
        assert_eq!(ids(&body["results"]), wanted);
        assert!(body["results"].as_array().unwrap().iter().all(|r| r["result_type"] == "user"));
        assert_eq!(body["facets"], Value::Null);
        assert_eq!(body["next_page"], Value::Null);

        // node-zendesk's encoding (`+` for spaces, literal `*` and `:`) reads the same.
        let raw = zd
            .request(Method::GET, "/api/v2/search.json?query=role%3Aend-user+phone%3A*5135557611")
            .send()
            .await
            .unwrap();
        let raw: Value = raw.json().await.unwrap();
        assert_eq!(raw["count"], 5);

        // A shorter suffix still matches, and the neighbour's number is told apart.
        assert_eq!(zd.search("phone:*7612").await["count"], 1);
        assert_eq!(ids(&zd.search("phone:*5135557612").await["results"]), vec![other]);
        // Exact: the whole number, in any spelling zenpy quotes.
        assert_eq!(zd.search(r#"phone:"+1 (513) 555-7611""#).await["count"], 5);
        assert_eq!(zd.search("phone:15135557611").await["count"], 5);
        assert_eq!(zd.search("phone:5557611").await["count"], 0, "exact is not a suffix match");
        // The users endpoint, as zenpy's users.search calls it.
        let users = zd.send_query("/api/v2/users/search.json", &[("query", "phone:*5135557611")]).await;
        assert_eq!(users.status, 200);
        assert_eq!(ids(&users.body["users"]), wanted);
        // Agents are not end-users.
        assert_eq!(zd.search("role:agent phone:*5135557611").await["count"], 0);
    })
    .await;
}

#[tokio::test]
async fn search_terms_combine_and_each_kind_of_term_filters() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let store = &app.store;
        let acme = store
            .create_organization(NewOrganization {
                name: "Acme Widgets".into(),
                tags: vec!["vip".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let mut jane = NewUser::new(Role::EndUser, "Jane Doe");
        jane.email = Some(ctihub_domain::user::Email::parse("jane@acme.example").unwrap());
        jane.organization_id = Some(acme.id);
        jane.tags = vec!["vip".into()];
        jane.external_id = Some("crm-17".into());
        let jane = store.create_user(jane).await.unwrap();
        let john = store.create_user(NewUser::new(Role::EndUser, "John Doe")).await.unwrap();
        let ticket = store
            .create_ticket(NewTicket {
                subject: "Printer on fire".into(),
                description: "smoke".into(),
                requester_id: jane.id,
                tags: vec!["hardware".into()],
                ..Default::default()
            })
            .await
            .unwrap();

        assert_eq!(ids(&zd.search("type:user email:jane@acme.example").await["results"]), vec![jane.id]);
        assert_eq!(ids(&zd.search(r#"type:user name:"Jane Doe""#).await["results"]), vec![jane.id]);
        assert_eq!(ids(&zd.search("type:user name:J*").await["results"]).len(), 2);
        assert_eq!(ids(&zd.search("type:user external_id:crm-17").await["results"]), vec![jane.id]);
        assert_eq!(ids(&zd.search("type:user tags:vip").await["results"]), vec![jane.id]);
        assert_eq!(ids(&zd.search(r#"type:user organization:"Acme Widgets""#).await["results"]), vec![jane.id]);
        assert_eq!(ids(&zd.search(&format!("type:user organization:{}", acme.id)).await["results"]), vec![jane.id]);
        assert_eq!(ids(&zd.search("type:user doe -tags:vip").await["results"]), vec![john.id]);
        assert_eq!(ids(&zd.search("type:ticket status:new").await["results"]), vec![ticket.id]);
        assert_eq!(ids(&zd.search(&format!("type:ticket requester:{}", jane.id)).await["results"]), vec![ticket.id]);
        assert_eq!(ids(&zd.search("type:ticket requester:jane@acme.example").await["results"]), vec![ticket.id]);
        assert_eq!(zd.search("type:ticket status:solved").await["count"], 0);
        assert_eq!(ids(&zd.search("type:organization tags:vip").await["results"]), vec![acme.id]);
        // Without `type:`, a term every type has finds each kind, users first.
        let body = zd.search("tags:vip").await;
        let kinds: Vec<&str> =
            body["results"].as_array().unwrap().iter().map(|r| r["result_type"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["user", "organization"]);
        let fire = zd.search("fire").await;
        assert_eq!(fire["results"][0]["result_type"], "ticket");
        // zenpy adds filter[type] beside type:.
        let filtered = zd.send_query("/api/v2/search.json", &[("filter[type]", "ticket"), ("query", "hardware")]).await;
        assert_eq!(filtered.body["count"], 0, "free words search subjects, not tags");
        let filtered = zd.send_query("/api/v2/search.json", &[("filter[type]", "user"), ("query", "tags:vip")]).await;
        assert_eq!(ids(&filtered.body["results"]), vec![jane.id]);
    })
    .await;
}

#[tokio::test]
async fn search_pages_link_on_the_clients_host_and_bad_queries_are_explained() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        for i in 0..5 {
            app.store.create_user(NewUser::new(Role::EndUser, format!("Paged {i}"))).await.unwrap();
        }
        let first = zd
            .send_query("/api/v2/search.json", &[("query", "name:Paged*"), ("per_page", "2"), ("include", "None")])
            .await;
        assert_eq!(first.body["count"], 5);
        assert_eq!(first.body["results"].as_array().unwrap().len(), 2);
        let next = first.body["next_page"].as_str().unwrap();
        assert!(next.starts_with(&app.base), "{next} is on {}", app.base);
        let second = crate::zendesk_helpers::answer(
            app.client.get(next).basic_auth(format!("{}/token", zd.email), Some(&zd.token)).send().await.unwrap(),
        )
        .await;
        assert_eq!(second.body["results"].as_array().unwrap().len(), 2);
        assert!(second.body["previous_page"].as_str().unwrap().contains("page=1"));

        for (query, fragment) in [
            ("agentId:1", "`agentId` is neither"),
            ("role:boss", "role:boss"),
            ("type:widget", "not one of user, ticket, organization"),
            (r#"name:"open"#, "unclosed quote"),
        ] {
            let bad = zd.send_query("/api/v2/search.json", &[("query", query)]).await;
            assert_eq!(bad.status, 400, "{query}");
            assert_eq!(bad.body["error"], "InvalidQuery");
            assert!(bad.body["description"].as_str().unwrap().contains(fragment), "{query}: {}", bad.body);
        }
        let missing = zd.get("/api/v2/search.json").await;
        assert_eq!(missing.status, 400);
        // Beyond Zendesk's 1000 results: `invalid`, which zenpy turns into its own exception.
        let far = zd.send_query("/api/v2/search.json", &[("query", "name:x"), ("page", "11")]).await;
        assert_eq!((far.status, far.body["error"].as_str()), (422, Some("invalid")));
    })
    .await;
}

#[tokio::test]
async fn a_caller_is_created_with_only_a_phone_and_read_back() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let answer =
            zd.post("/api/v2/users.json", json!({"user": {"name": "Caller: 12345678", "phone": "12345678"}})).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let user = &answer.body["user"];
        assert_eq!(
            (user["name"].as_str(), user["phone"].as_str(), user["role"].as_str()),
            (Some("Caller: 12345678"), Some("12345678"), Some("end-user"))
        );
        assert_eq!(user["shared_phone_number"], false);
        let location = answer.headers["location"].to_str().unwrap();
        assert_eq!(location, format!("{}/api/v2/users/{}.json", app.base, user["id"]));
        assert_eq!(user["url"], location);
        // Found at once by the number, as the caller index is written with the user.
        assert_eq!(ids(&zd.search("phone:*12345678").await["results"]), vec![user["id"].as_i64().unwrap()]);
        // Read with and without the suffix.
        for path in [format!("/api/v2/users/{}", user["id"]), format!("/api/v2/users/{}.json", user["id"])] {
            let shown = zd.get(&path).await;
            assert_eq!(shown.status, 200);
            assert_eq!(shown.body["user"]["phone"], "12345678");
        }

        let nameless = zd.post("/api/v2/users.json", json!({"user": {"phone": "+15135550000"}})).await;
        assert_eq!(nameless.status, 422);
        assert_eq!(nameless.body["error"], "RecordInvalid");
        assert_eq!(nameless.body["details"]["name"][0]["error"], "ValueTooShort");
        let bad = zd
            .post(
                "/api/v2/users.json",
                json!({"user": {"name": "X", "email": "nope", "phone": "call me", "organization_id": 999999}}),
            )
            .await;
        assert_eq!(bad.status, 422);
        for field in ["email", "phone", "organization_id"] {
            assert!(bad.body["details"].get(field).is_some(), "{field}: {}", bad.body);
        }
        let missing = zd.get("/api/v2/users/999999.json").await;
        assert_eq!((missing.status, missing.body["error"].as_str()), (404, Some("RecordNotFound")));
        let dup = zd.post("/api/v2/users.json", json!({"user": {"name": "Y", "email": "pbx@example.com"}})).await;
        assert_eq!(dup.status, 422);
        assert_eq!(dup.body["details"]["email"][0]["error"], "DuplicateValue");
    })
    .await;
}

#[tokio::test]
async fn an_agent_is_found_by_a_custom_user_field_and_fields_are_updated() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let field = zd
            .created(
                "/api/v2/user_fields.json",
                json!({"user_field": {"key": "agentID", "title": "Agent ID", "type": "text"}}),
                "user_field",
            )
            .await;
        assert_eq!((field["key"].as_str(), field["type"].as_str()), (Some("agentID"), Some("text")));
        let listed = zd.get("/api/v2/user_fields.json").await;
        assert_eq!(ids(&listed.body["user_fields"]), vec![field["id"].as_i64().unwrap()]);
        assert_eq!(
            zd.get(&format!("/api/v2/user_fields/{}.json", field["id"])).await.body["user_field"]["key"],
            "agentID"
        );

        let (agent, _) = app.user(Role::Agent, "desk@example.com", "pw").await;
        // zenpy's update: `id` inside the envelope, name always sent.
        let updated = zd
            .put(
                &format!("/api/v2/users/{}.json", agent.id),
                json!({"user": {"id": agent.id, "name": "Desk", "user_fields": {"agentID": "1234"}}}),
            )
            .await;
        assert_eq!(updated.status, 200, "{}", updated.body);
        assert_eq!(updated.body["user"]["user_fields"]["agentID"], "1234");
        assert_eq!(updated.body["user"]["name"], "Desk");
        let found = zd.search("type:user agentID:1234").await;
        assert_eq!(ids(&found["results"]), vec![agent.id]);
        // The agent id ctihub keeps on the agent itself is searchable too.
        app.store
            .update_user(
                agent.id,
                ctihub_domain::user::UserPatch { agent_id: Some(Some("ext-77".into())), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(ids(&zd.search("type:user agent_id:ext-77").await["results"]), vec![agent.id]);
        // `null` clears a field.
        let cleared = zd
            .put(
                &format!("/api/v2/users/{}", agent.id),
                json!({"user": {"name": "Desk", "user_fields": {"agentID": null}}}),
            )
            .await;
        assert_eq!(cleared.body["user"]["user_fields"]["agentID"], Value::Null);
        assert_eq!(zd.search("type:user agentID:1234").await["count"], 0);

        let unknown =
            zd.put(&format!("/api/v2/users/{}", agent.id), json!({"user": {"user_fields": {"nope": 1}}})).await;
        assert_eq!(unknown.status, 422);
        let bad_type = zd
            .post("/api/v2/user_fields.json", json!({"user_field": {"key": "x", "title": "X", "type": "multiselect"}}))
            .await;
        assert_eq!(bad_type.status, 422);
        assert!(bad_type.body["details"]["type"].is_array());
        let blank = zd.post("/api/v2/user_fields.json", json!({"user_field": {"type": "text"}})).await;
        assert!(blank.body["details"]["key"].is_array() && blank.body["details"]["title"].is_array());
    })
    .await;
}

#[tokio::test]
async fn roles_are_enforced_with_zendesks_answers() {
    on_each_app(async |app| {
        let agent = Zendesk::as_role(app, Role::Agent, "agent@example.com").await;
        let customer = Zendesk::as_role(app, Role::EndUser, "customer@example.com").await;
        // End-users cannot call agent APIs, but may ask who they are.
        for path in ["/api/v2/search.json?query=x", "/api/v2/users.json", "/api/v2/tickets.json"] {
            let answer = customer.get(path).await;
            assert_eq!(answer.status, 403, "{path}");
            assert_eq!(answer.body["error"], "Forbidden");
        }
        assert_eq!(customer.get("/api/v2/users/me.json").await.body["user"]["id"], customer.user.id);
        // Agents create end-users, not agents, and do not define fields.
        assert_eq!(
            agent.post("/api/v2/users.json", json!({"user": {"name": "Boss", "role": "admin"}})).await.status,
            403
        );
        assert_eq!(agent.post("/api/v2/users.json", json!({"user": {"name": "Caller"}})).await.status, 201);
        assert_eq!(
            agent
                .post("/api/v2/ticket_fields.json", json!({"ticket_field": {"type": "integer", "title": "Talk"}}))
                .await
                .status,
            403
        );
        let wrong = app
            .client
            .get(app.url("/api/v2/users/me.json"))
            .basic_auth("agent@example.com/token", Some("wrong"))
            .send()
            .await
            .unwrap();
        let wrong = crate::zendesk_helpers::answer(wrong).await;
        assert_eq!((wrong.status, wrong.body["error"].as_str()), (401, Some("Couldn't authenticate you")));
        // Password and Bearer work as well as tokens.
        let (_, token) = app.user(Role::Agent, "bearer@example.com", "secret pw").await;
        let bearer = app.client.get(app.url("/api/v2/users/me")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(bearer.status(), 200);
        let password = app
            .client
            .get(app.url("/api/v2/users/me"))
            .basic_auth("bearer@example.com", Some("secret pw"))
            .send()
            .await
            .unwrap();
        assert_eq!(password.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn users_are_listed_and_their_tickets_most_recent_first() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let caller = app.store.create_user(NewUser::new(Role::EndUser, "Repeat Caller")).await.unwrap();
        let mut made = Vec::new();
        for i in 0..3 {
            let t = app
                .store
                .create_ticket(NewTicket {
                    subject: format!("Call {i}"),
                    description: "d".into(),
                    requester_id: caller.id,
                    ..Default::default()
                })
                .await
                .unwrap();
            made.push(t.id);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        made.reverse();
        let requested = zd.get(&format!("/api/v2/users/{}/tickets/requested.json?include=None", caller.id)).await;
        assert_eq!(ids(&requested.body["tickets"]), made);
        assert_eq!(requested.body["count"], 3);
        // Cursor paging, as zenpy asks with page[size].
        let page =
            zd.send_query(&format!("/api/v2/users/{}/tickets/requested", caller.id), &[("page[size]", "2")]).await;
        assert_eq!(ids(&page.body["tickets"]), made[..2].to_vec());
        assert_eq!(page.body["meta"]["has_more"], true);
        let next = page.body["links"]["next"].as_str().unwrap();
        let rest = crate::zendesk_helpers::answer(
            app.client.get(next).basic_auth(format!("{}/token", zd.email), Some(&zd.token)).send().await.unwrap(),
        )
        .await;
        assert_eq!(ids(&rest.body["tickets"]), made[2..].to_vec());
        assert_eq!(rest.body["links"]["next"], Value::Null);
        assert_eq!(zd.get("/api/v2/users/999999/tickets/requested.json").await.status, 404);

        let agents = zd.send_query("/api/v2/users.json", &[("role", "admin")]).await;
        assert_eq!(ids(&agents.body["users"]), vec![zd.user.id]);
        let everyone = zd.get("/api/v2/users").await;
        assert_eq!(everyone.body["count"], 2);
    })
    .await;
}
