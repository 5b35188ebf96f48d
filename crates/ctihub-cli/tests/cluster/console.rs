//! An agent's console as the browser runs it: signed in through the form, holding the live event
//! stream, and reconnecting with `Last-Event-ID` (as EventSource does) when its node goes away.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub data: Value,
}

/// Sign in on `base`; the session cookie, good on every node.
pub async fn sign_in(base: &str, email: &str, password: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = client.get(format!("{base}/console/login")).send().await.unwrap();
    let login = cookie(&form, "ctihub_login").expect("a login cookie");
    let html = form.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    let csrf = html[start..].split('"').next().unwrap();
    let body = format!(
        "csrf={}&email={}&password={}&next=%2Fconsole%2Fjournal",
        urlencode(csrf),
        urlencode(email),
        urlencode(password)
    );
    let answer = client
        .post(format!("{base}/console/login"))
        .header(COOKIE, format!("ctihub_login={login}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "sign-in of {email}");
    format!("ctihub_session={}", cookie(&answer, "ctihub_session").expect("a session cookie"))
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (k, v) = c.split(';').next()?.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A console page's live stream.
pub struct Console {
    client: reqwest::Client,
    cookie: String,
    pub node: String,
    response: Option<reqwest::Response>,
    buffer: String,
    last_id: Option<i64>,
    /// Ids already handled: a replay after a reconnect may repeat some, and the page shows each
    /// event once.
    seen: HashSet<i64>,
}

impl Console {
    /// Open the stream on `base` (the node the load balancer picked).
    pub async fn open(base: &str, cookie: &str) -> Console {
        let mut console = Console {
            client: reqwest::Client::new(),
            cookie: cookie.to_owned(),
            node: base.to_owned(),
            response: None,
            buffer: String::new(),
            last_id: None,
            seen: HashSet::new(),
        };
        console.connect(base).await.expect("open the console stream");
        console
    }

    /// (Re)connect to `base`, telling it the last event this page saw.
    pub async fn connect(&mut self, base: &str) -> Result<(), String> {
        let mut request = self.client.get(format!("{base}/console/events")).header(COOKIE, &self.cookie);
        if let Some(id) = self.last_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if response.status() != 200 {
            return Err(format!("status {}", response.status()));
        }
        self.node = base.to_owned();
        self.buffer.clear();
        self.response = Some(response);
        Ok(())
    }

    /// The next new event within `wait`. `Ok(None)`: nothing came; `Err`: the stream broke (its
    /// node went away) and the page must reconnect.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Event>, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    self.last_id = Some(self.last_id.map_or(event.id, |last| last.max(event.id)));
                    if self.seen.insert(event.id) {
                        return Ok(Some(event));
                    }
                }
            }
            let Some(response) = self.response.as_mut() else { return Err("not connected".into()) };
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Err(_) => return Ok(None),
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => {
                    self.response = None;
                    return Err("the stream ended".into());
                }
                Ok(Err(e)) => {
                    self.response = None;
                    return Err(e.to_string());
                }
            }
        }
    }
}

fn parse(block: &str) -> Option<Event> {
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
    // Blocks without data are keep-alives.
    if data.is_empty() {
        return None;
    }
    Some(Event { id: id?, kind, data: serde_json::from_str(&data).unwrap_or(Value::String(data)) })
}
