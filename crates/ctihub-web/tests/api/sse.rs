//! A minimal Server-Sent Events reader for the tests: what a browser's EventSource sees.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::TestApp;

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<i64>,
    pub kind: String,
    pub data: Value,
}

pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Open the signed-in agent's stream; once this returns, the server is subscribed.
    pub async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> EventStream {
        let mut request = app.client.get(app.url("/api/hub/events")).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        EventStream { response, buffer: String::new() }
    }

    /// The signed-in console's own stream (cookie, not token), as the browser opens it.
    pub async fn open_console(app: &TestApp, cookie: &str) -> EventStream {
        let response = app.client.get(app.url("/console/events")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        EventStream { response, buffer: String::new() }
    }

    /// The next event, or `None` when nothing arrives within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Every event up to and including the first of `kind`; panics if it does not come.
    pub async fn until(&mut self, kind: &str) -> Vec<SseEvent> {
        let mut seen = Vec::new();
        loop {
            let event = self.next(Duration::from_secs(8)).await.unwrap_or_else(|| {
                panic!("no `{kind}` event; saw {:?}", seen.iter().map(|e: &SseEvent| &e.kind).collect::<Vec<_>>())
            });
            let done = event.kind == kind;
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let (mut id, mut kind, mut data) = (None, String::from("message"), String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("event:") {
            kind = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    // Comment-only blocks are keep-alives.
    (!data.is_empty()).then(|| SseEvent { id, kind, data: serde_json::from_str(&data).unwrap_or(Value::String(data)) })
}
