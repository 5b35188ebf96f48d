//! What the console tests share: form posts as a browser sends them, cookies, and sign-in
//! through the real form.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::TestApp;

/// reqwest's `form` feature is off in this workspace; encode as a browser does.
pub trait FormBody {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded").body(serde_html_form::to_string(form).unwrap())
    }
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn cookie_value(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (pair, attributes) = c.split_once(';').unwrap_or((c, ""));
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| (v.to_owned(), attributes.to_owned()))
    })
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no hidden {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Sign in through the form; returns the session cookie and the page's CSRF token.
pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> Result<(String, String), StatusCode> {
    let client = no_redirects();
    let form = client.get(app.url("/console/login")).send().await.unwrap();
    let (login_cookie, _) = cookie_value(&form, "ctihub_login").expect("a login cookie");
    let csrf = hidden(&form.text().await.unwrap(), "csrf");
    let response = client
        .post(app.url("/console/login"))
        .header(COOKIE, format!("ctihub_login={login_cookie}"))
        .form_body(&[("csrf", csrf.as_str()), ("email", email), ("password", password), ("next", "/console/journal")])
        .send()
        .await
        .unwrap();
    if response.status() != StatusCode::SEE_OTHER {
        return Err(response.status());
    }
    assert_eq!(response.headers()[LOCATION], "/console/journal");
    let (session, attributes) = cookie_value(&response, "ctihub_session").expect("a session cookie");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Lax") && attributes.contains("Path=/"));
    let cookie = format!("ctihub_session={session}");
    let page = client.get(app.url("/console/journal")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = hidden(&page.text().await.unwrap(), "csrf");
    Ok((cookie, csrf))
}
