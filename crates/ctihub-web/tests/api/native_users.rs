use ctihub_domain::user::Role;
use serde_json::{Value, json};

use crate::helpers::on_each_app;

#[tokio::test]
async fn users_are_created_read_updated_and_listed() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Admin, "admin@example.com", "admin pass").await;
        let response = app
            .client
            .post(app.url("/api/hub/users"))
            .bearer_auth(&token)
            .json(&json!({
                "name": "Jane Caller",
                "email": "jane@example.com",
                "phones": [{"kind": "phone", "number": "+1 513.555.7611"}, {"kind": "mobile", "number": "513 555 0199 x12"}],
                "tags": ["VIP"],
                "external_id": "crm-1"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let user: Value = response.json().await.unwrap();
        assert_eq!(user["role"], "end-user");
        assert_eq!(user["phones"][0], json!({"kind": "phone", "number": "+1 513.555.7611", "normalized": "+15135557611", "extension": null}));
        assert_eq!(user["phones"][1]["extension"], "12");
        assert_eq!(user["tags"], json!(["vip"]));
        assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
        let id = user["id"].as_i64().unwrap();

        let url = app.url(&format!("/api/hub/users/{id}"));
        let response = app
            .client
            .patch(&url)
            .bearer_auth(&token)
            .json(&json!({"email": null, "phones": [{"kind": "work", "number": "030 5557 1600"}], "name": "Jane C."}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let updated: Value = response.json().await.unwrap();
        assert_eq!(updated["email"], Value::Null);
        assert_eq!(updated["name"], "Jane C.");
        assert_eq!(updated["external_id"], "crm-1", "absent fields are kept");
        assert_eq!(updated["phones"].as_array().unwrap().len(), 1);

        let fetched: Value = app.client.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(fetched, updated);

        let page: Value = app
            .client
            .get(app.url("/api/hub/users?role=end-user&per_page=10"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["count"], 1);
        assert_eq!(page["users"][0]["id"], id);
    })
    .await;
}

#[tokio::test]
async fn invalid_users_are_rejected_with_field_details() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Admin, "admin@example.com", "admin pass").await;
        let post = |body: Value| app.client.post(app.url("/api/hub/users")).bearer_auth(&token).json(&body).send();

        let response = post(json!({"name": "X", "email": "not-an-email"})).await.unwrap();
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid");
        assert_eq!(body["details"][0]["field"], "email");

        let response = post(json!({"name": "X", "role": "boss"})).await.unwrap();
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("end-user, agent, admin"), "{body}");

        let response = post(json!({"name": "X", "phones": [{"kind": "fax", "number": "1"}]})).await.unwrap();
        assert_eq!(response.status(), 422);

        let response = post(json!({"name": "Dup", "email": "ADMIN@example.com"})).await.unwrap();
        assert_eq!(response.status(), 409);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["details"][0]["field"], "email");

        let response = post(json!({"name": "X", "colour": "red"})).await.unwrap();
        assert_eq!(response.status(), 422, "unknown fields are named, not ignored");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("colour"), "{body}");

        let response = post(json!({"name": "Agent", "role": "agent", "password": "short"})).await.unwrap();
        assert_eq!(response.status(), 422);

        let response = app.client.get(app.url("/api/hub/users/999999")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn callers_are_identified_from_any_spelling() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent pass").await;
        app.client
            .post(app.url("/api/hub/users"))
            .bearer_auth(&token)
            .json(&json!({"name": "Jane", "phones": [{"kind": "phone", "number": "+1 513.555.7611"}]}))
            .send()
            .await
            .unwrap();
        let identify = |number: &str| {
            app.client.get(app.url("/api/hub/callers")).query(&[("number", number)]).bearer_auth(&token).send()
        };
        let body: Value = identify("(513) 555-7611").await.unwrap().json().await.unwrap();
        assert_eq!(body["kind"], "number");
        assert_eq!(body["normalized"], "+15135557611");
        assert_eq!(body["matches"][0]["level"], "known");
        assert_eq!(body["matches"][0]["user"]["name"], "Jane");

        let body: Value = identify("anonymous").await.unwrap().json().await.unwrap();
        assert_eq!(body["kind"], "withheld");
        assert_eq!(body["matches"], json!([]));
    })
    .await;
}
