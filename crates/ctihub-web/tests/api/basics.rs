use serde_json::Value;

use crate::helpers::on_each_app;

#[tokio::test]
async fn healthz_checks_the_database() {
    on_each_app(async |app| {
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");

        app.store.close().await;
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 503, "a node without its database reports unhealthy");
    })
    .await;
}

#[tokio::test]
async fn unknown_routes_get_a_json_404_and_every_answer_a_request_id() {
    on_each_app(async |app| {
        let response = app.client.get(app.url("/no/such/thing")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.headers().get("x-request-id").is_some_and(|v| !v.is_empty()));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
        assert_eq!(body["message"], "no route for GET /no/such/thing");

        let response = app.client.get(app.url("/healthz")).header("x-request-id", "pbx-42").send().await.unwrap();
        assert_eq!(response.headers()["x-request-id"], "pbx-42", "a caller's request id is kept");
    })
    .await;
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    on_each_app(async |app| {
        // Twice: the second request counts on the series the first one registered.
        for _ in 0..2 {
            app.client.get(app.url("/healthz")).send().await.unwrap();
        }
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        // The recorder is process-wide and other tests run alongside, so look for our series.
        let counted = text.lines().find(|l| {
            l.starts_with("ctihub_http_requests_total")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
        });
        let count = counted.and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
        assert!(count.is_some_and(|n| n >= 2.0), "no count of two 200s for /healthz in:\n{text}");
        assert!(text.contains("ctihub_http_request_duration_seconds_bucket"));

        // Call events are counted by dialect and event.
        let url = app.enable_cti(|_| {}).await;
        app.push(&url, "event=newCall&direction=in&from=1&to=2&callId=metrics").await;
        let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(
            text.lines().any(|l| l.starts_with("ctihub_cti_events_total")
                && l.contains("source=\"zammad\"")
                && l.contains("event=\"newCall\"")),
            "{text}"
        );
        assert!(
            text.contains("ctihub_hub_events_published_total{kind=\"incoming_call\"}")
                || text.contains("kind=\"journal_changed\""),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn openapi_documents_every_native_route() {
    on_each_app(async |app| {
        let response = app.client.get(app.url("/api/hub/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let doc: Value = response.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/api/hub/me", "get"),
            ("/api/hub/users", "get"),
            ("/api/hub/users", "post"),
            ("/api/hub/users/{id}", "get"),
            ("/api/hub/users/{id}", "patch"),
            ("/api/hub/callers", "get"),
            ("/api/hub/tokens", "post"),
            ("/api/hub/journal", "get"),
            ("/api/hub/journal/done", "post"),
            ("/api/hub/journal/done-all", "post"),
            ("/api/hub/cti/config", "get"),
            ("/api/hub/cti/config", "put"),
            ("/api/hub/cti/token", "post"),
            ("/api/hub/freshdesk/cti", "get"),
            ("/api/hub/freshdesk/cti", "put"),
            ("/api/hub/presence", "get"),
            ("/api/hub/presence", "put"),
            ("/api/hub/events", "get"),
            ("/api/hub/audit", "get"),
        ] {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} undocumented");
        }
    })
    .await;
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_in_json() {
    on_each_app(async |app| {
        let (_, token) = app.user(ctihub_domain::user::Role::Admin, "admin@example.com", "correct horse").await;
        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(ctihub_web::MAX_BODY_BYTES + 10));
        let response = app
            .client
            .post(app.url("/api/hub/users"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "payload_too_large");

        let response = app
            .client
            .post(app.url("/api/hub/users"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "bad_request");
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_open_event_streams_instead_of_waiting_for_them() {
    on_each_app(async |app| {
        let (_, token) = app.user(ctihub_domain::user::Role::Agent, "agent@example.com", "agent password").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(ctihub_web::serve(listener, ctihub_web::AppState::new(app.store.clone()), async {
            let _ = stopped.await;
        }));
        let mut stream = app.client.get(format!("{base}/api/hub/events")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(stream.status(), 200);
        stop.send(()).unwrap();
        let finished = tokio::time::timeout(std::time::Duration::from_secs(10), server).await;
        assert!(finished.is_ok(), "the server still waits for the open stream");
        // The stream ended rather than being cut mid-event.
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
}
