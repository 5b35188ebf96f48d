//! A Zendesk client as integrations are: e-mail and API token, JSON both ways, and every answer
//! checked for the JSON content type with charset that node-zendesk needs.

use ctihub_domain::user::{Role, User};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::helpers::TestApp;

pub const JSON_UTF8: &str = "application/json; charset=utf-8";

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

pub struct Zendesk<'a> {
    pub app: &'a TestApp,
    pub user: User,
    pub email: String,
    pub token: String,
}

impl Zendesk<'_> {
    pub async fn as_role<'a>(app: &'a TestApp, role: Role, email: &str) -> Zendesk<'a> {
        let (user, token) = app.user(role, email, "a password").await;
        Zendesk { app, user, email: email.into(), token }
    }

    /// An admin, as integrations install themselves (custom fields need one).
    pub async fn admin(app: &TestApp) -> Zendesk<'_> {
        Zendesk::as_role(app, Role::Admin, "pbx@example.com").await
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .basic_auth(format!("{}/token", self.email), Some(&self.token))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// POST expecting 201; the object under `key`.
    pub async fn created(&self, path: &str, body: Value, key: &str) -> Value {
        let answer = self.post(path, body).await;
        assert_eq!(answer.status, 201, "{path}: {}", answer.body);
        answer.body[key].clone()
    }

    /// `search.json` results for a query.
    pub async fn search(&self, query: &str) -> Value {
        let answer = self.send_query("/api/v2/search.json", &[("query", query)]).await;
        assert_eq!(answer.status, 200, "{query}: {}", answer.body);
        answer.body
    }

    pub async fn send_query(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        answer(self.request(Method::GET, path).query(query).send().await.unwrap()).await
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert_eq!(headers.get("content-type").map(|v| v.to_str().unwrap()), Some(JSON_UTF8), "({status}) {text}");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    Answer { status, body, headers }
}

/// The ids of a list of results, in order.
pub fn ids(list: &Value) -> Vec<i64> {
    list.as_array().unwrap().iter().map(|item| item["id"].as_i64().unwrap()).collect()
}
