use ctihub_domain::user::{Role, UserPatch};
use serde_json::Value;

use crate::helpers::on_each_app;

#[tokio::test]
async fn every_credential_form_authenticates() {
    on_each_app(async |app| {
        let (agent, token) = app.user(Role::Agent, "agent@example.com", "correct horse").await;
        let me = app.url("/api/hub/me");
        let requests = [
            ("email:password", app.client.get(&me).basic_auth("agent@example.com", Some("correct horse"))),
            ("email/token:TOKEN", app.client.get(&me).basic_auth("Agent@Example.com/token", Some(&token))),
            ("TOKEN:X", app.client.get(&me).basic_auth(&token, Some("X"))),
            ("Bearer", app.client.get(&me).bearer_auth(&token)),
        ];
        for (form, request) in requests {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{form}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["id"], agent.id, "{form}");
            assert_eq!(body["email"], "agent@example.com");
            assert!(body.get("password_hash").is_none(), "secrets never leave the server");
        }
    })
    .await;
}

#[tokio::test]
async fn bad_credentials_get_401_with_a_challenge() {
    on_each_app(async |app| {
        let (_, token) = app.user(Role::Agent, "agent@example.com", "correct horse").await;
        app.user(Role::Agent, "other@example.com", "battery staple").await;
        let me = app.url("/api/hub/me");
        let requests = [
            ("no header", app.client.get(&me)),
            ("wrong password", app.client.get(&me).basic_auth("agent@example.com", Some("wrong"))),
            ("unknown email", app.client.get(&me).basic_auth("nobody@example.com", Some("correct horse"))),
            ("token of someone else", app.client.get(&me).basic_auth("other@example.com/token", Some(&token))),
            ("unknown token", app.client.get(&me).bearer_auth("not-a-token")),
            (
                "password used as token",
                app.client.get(&me).basic_auth("agent@example.com/token", Some("correct horse")),
            ),
        ];
        for (case, request) in requests {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{case}");
            assert_eq!(response.headers()["www-authenticate"], "Basic realm=\"ctihub\"", "{case}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "unauthenticated", "{case}");
        }
    })
    .await;
}

#[tokio::test]
async fn roles_are_enforced_and_deactivation_locks_out() {
    on_each_app(async |app| {
        let (customer, customer_token) = app.user(Role::EndUser, "customer@example.com", "customer pw").await;
        let (agent, agent_token) = app.user(Role::Agent, "agent@example.com", "agent pw!").await;

        let response = app.client.get(app.url("/api/hub/users")).bearer_auth(&customer_token).send().await.unwrap();
        assert_eq!(response.status(), 403, "end-users cannot call agent APIs");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "forbidden");

        let own = app.url(&format!("/api/hub/users/{}", customer.id));
        assert_eq!(app.client.get(&own).bearer_auth(&customer_token).send().await.unwrap().status(), 200);
        let other = app.url(&format!("/api/hub/users/{}", agent.id));
        assert_eq!(app.client.get(&other).bearer_auth(&customer_token).send().await.unwrap().status(), 403);

        let response = app
            .client
            .post(app.url("/api/hub/users"))
            .bearer_auth(&agent_token)
            .json(&serde_json::json!({"name": "New Admin", "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "agents cannot create admins");

        app.store.update_user(agent.id, UserPatch { active: Some(false), ..Default::default() }).await.unwrap();
        let response = app.client.get(app.url("/api/hub/me")).bearer_auth(&agent_token).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let response = app
            .client
            .get(app.url("/api/hub/me"))
            .basic_auth("agent@example.com", Some("agent pw!"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn tokens_created_over_the_api_work_and_are_stored_hashed() {
    on_each_app(async |app| {
        app.user(Role::Admin, "admin@example.com", "admin pw!").await;
        let (agent, agent_token) = app.user(Role::Agent, "agent@example.com", "agent pw!").await;
        let response = app
            .client
            .post(app.url("/api/hub/tokens"))
            .basic_auth("admin@example.com", Some("admin pw!"))
            .json(&serde_json::json!({"label": "asterisk", "user_id": agent.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        let token = body["token"].as_str().unwrap();
        assert_eq!(body["label"], "asterisk");
        assert!(app.store.user_for_token_hash(token).await.unwrap().is_none(), "the raw token is not what is stored");
        let response = app.client.get(app.url("/api/hub/me")).basic_auth(token, Some("X")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let me: Value = response.json().await.unwrap();
        assert_eq!(me["id"], agent.id, "the token acts as the user it was made for");

        // Handing out standing credentials is an admin's job, as in the console.
        let response = app
            .client
            .post(app.url("/api/hub/tokens"))
            .bearer_auth(&agent_token)
            .json(&serde_json::json!({"label": "mine"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
    })
    .await;
}
