//! The console's journal API and the CTI administration API.

use ctihub_domain::cti::NotifyRule;
use ctihub_domain::user::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app_in};

async fn journal(app: &TestApp, token: &str, query: &str) -> Value {
    let response =
        app.client.get(app.url(&format!("/api/hub/journal{query}"))).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

async fn calls(app: &TestApp, url: &str, specs: &[(&str, &str, &str)]) {
    for (call_id, direction, last) in specs {
        let (from, to) =
            if *direction == "in" { ("493055571600", "4930600000000") } else { ("4930600000000", "493055571600") };
        let base = format!("direction={direction}&from={from}&to={to}&callId={call_id}");
        app.push(url, &format!("event=newCall&{base}")).await;
        if !last.is_empty() {
            app.push(url, &format!("{last}&{base}")).await;
        }
    }
}

#[tokio::test]
async fn the_journal_filters_pages_and_marks_done() {
    on_each_app_in("DE", async |app| {
        let (agent, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let url = app.enable_cti(|_| {}).await;
        calls(
            app,
            &url,
            &[
                ("missed-1", "in", "event=hangup&cause=cancel"),
                ("answered", "in", "event=answer&user=agent%40example.com"),
                ("outbound", "out", "event=hangup&cause=normalClearing"),
                ("missed-2", "in", "event=hangup&cause=noAnswer"),
            ],
        )
        .await;

        let all = journal(app, &token, "").await;
        let ids: Vec<&str> =
            all["entries"].as_array().unwrap().iter().map(|e| e["cause"].as_str().unwrap_or("-")).collect();
        assert_eq!(ids, vec!["noAnswer", "normalClearing", "-", "cancel"], "newest first");
        assert_eq!(all["open_count"], 2);
        let first = &all["entries"][0];
        assert_eq!(first["direction"], "inbound");
        assert_eq!(first["state"], "ended");
        assert_eq!(first["completion_status"], "declined");
        assert_eq!(first["from_pretty"], "+49 30 55571600");

        let open = journal(app, &token, "?status=open&direction=in").await;
        assert_eq!(open["entries"].as_array().unwrap().len(), 2);
        let mine = journal(app, &token, &format!("?agent_id={}", agent.id)).await;
        assert_eq!(mine["entries"].as_array().unwrap().len(), 1);
        assert_eq!(mine["entries"][0]["to_comment"], "agent@example.com");

        let page1 = journal(app, &token, "?limit=3").await;
        assert_eq!(page1["entries"].as_array().unwrap().len(), 3);
        let before = page1["next_before_id"].as_i64().unwrap();
        let page2 = journal(app, &token, &format!("?limit=3&before_id={before}")).await;
        assert_eq!(page2["entries"].as_array().unwrap().len(), 1);
        assert_eq!(page2["next_before_id"], Value::Null);

        let future = journal(app, &token, "?since=2999-01-01T00:00:00Z").await;
        assert!(future["entries"].as_array().unwrap().is_empty());
        let bad = app.client.get(app.url("/api/hub/journal?since=yesterday")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(bad.status(), 422);
        let bad = app.client.get(app.url("/api/hub/journal?status=later")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(bad.status(), 422);

        let missed = open["entries"][0]["id"].as_i64().unwrap();
        let response = app
            .client
            .post(app.url("/api/hub/journal/done"))
            .bearer_auth(&token)
            .json(&json!({"ids": [missed]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"updated": 1}));
        assert_eq!(journal(app, &token, "").await["open_count"], 1);
        let response = app
            .client
            .post(app.url("/api/hub/journal/done"))
            .bearer_auth(&token)
            .json(&json!({"ids": [missed], "done": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(journal(app, &token, "").await["open_count"], 2, "back on the callback list");

        let response = app
            .client
            .post(app.url("/api/hub/journal/done-all"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"updated": 2}));
        assert_eq!(journal(app, &token, "").await["open_count"], 0);
    })
    .await;
}

#[tokio::test]
async fn agents_see_their_queues_and_admins_may_see_all() {
    on_each_app_in("DE", async |app| {
        let (agent, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let (_, admin_token) = app.user(Role::Admin, "admin@example.com", "admin password").await;
        let url = app
            .enable_cti(|c| c.notify_map = vec![NotifyRule { queue: "support".into(), user_ids: vec![agent.id] }])
            .await;
        app.push(&url, "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=s&queue=support").await;
        app.push(&url, "event=newCall&direction=in&from=493055571600&to=4930600000000&callId=x&queue=sales").await;
        assert_eq!(journal(app, &token, "").await["entries"].as_array().unwrap().len(), 1);
        let forbidden = app.client.get(app.url("/api/hub/journal?all=true")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(forbidden.status(), 403);
        assert_eq!(journal(app, &admin_token, "?all=true").await["entries"].as_array().unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn admins_configure_the_integration_and_rotate_its_token() {
    on_each_app_in("DE", async |app| {
        let (_, admin) = app.user(Role::Admin, "admin@example.com", "admin password").await;
        let (_, agent) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        let forbidden = app.client.get(app.url("/api/hub/cti/config")).bearer_auth(&agent).send().await.unwrap();
        assert_eq!(forbidden.status(), 403);

        let settings: Value = app
            .client
            .get(app.url("/api/hub/cti/config"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(settings["config"]["enabled"], false);
        assert_eq!(settings["config"]["view_limit"], 60);
        assert_eq!(settings["push_path"], Value::Null);

        let mut config = settings["config"].clone();
        config["enabled"] = json!(true);
        config["inbound"]["block_caller_ids"] = json!([{"caller_id": "491715000000", "note": "spam"}]);
        let response =
            app.client.put(app.url("/api/hub/cti/config")).bearer_auth(&admin).json(&config).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let saved: Value = response.json().await.unwrap();
        let path = saved["push_path"].as_str().unwrap().to_owned();
        assert!(path.starts_with("/api/v1/cti/") && path.len() > 30, "{path}");
        let blocked = "event=newCall&direction=in&from=491715000000&to=4930600000000&callId=b";
        assert_eq!(app.push(&app.url(&path), blocked).await.1, json!({"action": "reject", "reason": "busy"}));

        let rotated: Value = app
            .client
            .post(app.url("/api/hub/cti/token"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let new_path = rotated["push_path"].as_str().unwrap();
        assert_ne!(new_path, path);
        assert_eq!(app.push(&app.url(&path), blocked).await.0, 401, "the old URL stops working at once");
        assert_eq!(app.push(&app.url(new_path), "event=newCall&direction=in&from=1&to=2&callId=n").await.0, 200);

        config["notify_map"] = json!([{"queue": "", "user_ids": [1]}]);
        let response =
            app.client.put(app.url("/api/hub/cti/config")).bearer_auth(&admin).json(&config).send().await.unwrap();
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["details"][0]["field"], "notify_map[0].queue");
    })
    .await;
}

#[tokio::test]
async fn entries_past_the_retention_period_are_purged() {
    on_each_app_in("DE", async |app| {
        use ctihub_domain::call::{CallData, Direction};
        use ctihub_domain::time::now_millis;
        let (_, token) = app.user(Role::Agent, "agent@example.com", "agent password").await;
        app.enable_cti(|c| c.retention_days = 30).await;
        let day = 24 * 3600 * 1000;
        // A call that started long ago but was reported now is kept for the whole period.
        let reported_late = CallData::new(Direction::Inbound, "1", "2", now_millis() - 400 * day);
        let call = app.store.create_call(&reported_late, &[], None).await.unwrap();
        let state = ctihub_web::AppState::new(app.store.clone());
        let ids = async || {
            let left = journal(app, &token, "").await;
            left["entries"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect::<Vec<i64>>()
        };
        ctihub_web::retention::purge_once_at(&state, call.created_at + 29 * day).await.unwrap();
        assert_eq!(ids().await, vec![call.id]);
        ctihub_web::retention::purge_once_at(&state, call.created_at + 31 * day).await.unwrap();
        assert!(ids().await.is_empty());
    })
    .await;
}
