//! Zendesk's two ways of paging a list, and the query string they live in.
//!
//! - Offset paging (`?page=2&per_page=50`) answers `next_page`/`previous_page` as absolute URLs
//!   on the host the client used, and `count`.
//! - Cursor paging (`?page[size]=100`, which node-zendesk and zenpy add to list requests)
//!   answers `meta.has_more` and `links.next`. The cursor is the offset, opaque to clients.
//!
//! Parameters are read fully form-decoded (`+` and `%20` are spaces, `page%5Bsize%5D` is
//! `page[size]`); unknown ones and junk values (zenpy's literal `include=None`) are ignored.

use axum::http::{HeaderMap, Uri};
use serde_json::{Map, Value, json};

use super::base_url;

/// Zendesk's largest page.
pub(crate) const MAX_PAGE_SIZE: i64 = 100;

/// The decoded query parameters of a request, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn from_uri(uri: &Uri) -> Self {
        QueryParams(uri.query().and_then(|q| serde_html_form::from_str(q).ok()).unwrap_or_default())
    }

    /// The last value of a parameter, trimmed; empty values count as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    fn positive(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.parse::<i64>().ok()).filter(|n| *n > 0)
    }

    /// The query string with `name` set to `value` (replacing earlier values).
    fn with(&self, name: &str, value: &str) -> String {
        let mut pairs: Vec<(&str, &str)> =
            self.0.iter().filter(|(k, _)| k != name).map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.push((name, value));
        serde_html_form::to_string(&pairs).unwrap_or_default()
    }
}

/// Which page a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Paging {
    Offset { page: i64, per_page: i64 },
    Cursor { size: i64, offset: i64 },
}

impl Paging {
    /// `default_size` is the page size when the client names none.
    pub fn read(params: &QueryParams, default_size: i64) -> Paging {
        if let Some(size) = params.positive("page[size]") {
            let offset = params.get("page[after]").and_then(|v| v.parse::<i64>().ok()).filter(|n| *n >= 0);
            return Paging::Cursor { size: size.min(MAX_PAGE_SIZE), offset: offset.unwrap_or(0) };
        }
        let per_page = params.positive("per_page").unwrap_or(default_size).min(MAX_PAGE_SIZE);
        Paging::Offset { page: params.positive("page").unwrap_or(1), per_page }
    }

    pub fn offset(&self) -> i64 {
        match self {
            Paging::Offset { page, per_page } => (page - 1).saturating_mul(*per_page),
            Paging::Cursor { offset, .. } => *offset,
        }
    }

    pub fn limit(&self) -> i64 {
        match self {
            Paging::Offset { per_page, .. } => *per_page,
            Paging::Cursor { size, .. } => *size,
        }
    }
}

/// Where the request was sent, for links to other pages of the same list.
pub(crate) struct ListUrl {
    base: String,
    path: String,
    params: QueryParams,
}

impl ListUrl {
    pub fn new(headers: &HeaderMap, uri: &Uri) -> Self {
        ListUrl { base: base_url(headers), path: uri.path().to_owned(), params: QueryParams::from_uri(uri) }
    }

    pub fn params(&self) -> &QueryParams {
        &self.params
    }

    /// The page asked for, 100 records when the client names no size (Zendesk's default).
    pub fn paging(&self) -> Paging {
        Paging::read(&self.params, MAX_PAGE_SIZE)
    }

    /// `scheme://host` as the client addressed us, for the records' `url`s.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn with(&self, name: &str, value: &str) -> String {
        format!("{}{}?{}", self.base, self.path, self.params.with(name, value))
    }
}

/// `{key: items, …}` with the paging attributes of the mode the client asked for.
pub(crate) fn list_envelope(key: &str, items: Vec<Value>, total: i64, paging: &Paging, url: &ListUrl) -> Value {
    let shown = items.len() as i64;
    let mut body = Map::new();
    body.insert(key.to_owned(), Value::Array(items));
    match paging {
        Paging::Offset { page, .. } => {
            let more = paging.offset() + shown < total;
            let next = more.then(|| url.with("page", &(page + 1).to_string()));
            let previous = (*page > 1).then(|| url.with("page", &(page - 1).to_string()));
            body.insert("next_page".into(), json!(next));
            body.insert("previous_page".into(), json!(previous));
            body.insert("count".into(), json!(total));
        }
        Paging::Cursor { offset, .. } => {
            let after = offset + shown;
            let more = after < total;
            let next = more.then(|| url.with("page[after]", &after.to_string()));
            let before = (*offset > 0).then(|| offset.to_string());
            body.insert(
                "meta".into(),
                json!({"has_more": more, "after_cursor": more.then(|| after.to_string()), "before_cursor": before}),
            );
            body.insert("links".into(), json!({"next": next, "prev": null}));
        }
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, header};

    fn url(query: &str) -> ListUrl {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        ListUrl::new(&headers, &format!("/api/v2/search.json?{query}").parse().unwrap())
    }

    #[test]
    fn parameters_are_fully_decoded_and_junk_ignored() {
        let u = url("query=role%3Aend-user+phone%3A*5135557611&page%5Bsize%5D=2&include=None&per_page=x");
        assert_eq!(u.params().get("query"), Some("role:end-user phone:*5135557611"));
        assert_eq!(Paging::read(u.params(), 100), Paging::Cursor { size: 2, offset: 0 });
        assert_eq!(Paging::read(url("per_page=500&page=3").params(), 100), Paging::Offset { page: 3, per_page: 100 });
        assert_eq!(Paging::read(url("per_page=x&page=-1").params(), 100), Paging::Offset { page: 1, per_page: 100 });
    }

    #[test]
    fn offset_pages_link_on_the_clients_host() {
        let u = url("query=a+b&per_page=2");
        let paging = Paging::read(u.params(), 100);
        let body = list_envelope("users", vec![json!(1), json!(2)], 5, &paging, &u);
        assert_eq!(body["count"], 5);
        assert_eq!(body["next_page"], "http://127.0.0.1:8080/api/v2/search.json?query=a+b&per_page=2&page=2");
        assert_eq!(body["previous_page"], Value::Null);
        let last = Paging::Offset { page: 3, per_page: 2 };
        let body = list_envelope("users", vec![json!(5)], 5, &last, &u);
        assert_eq!(body["next_page"], Value::Null);
        assert!(body["previous_page"].as_str().unwrap().ends_with("page=2"));
    }

    #[test]
    fn cursor_pages_follow_links_next() {
        let u = url("page%5Bsize%5D=2");
        let paging = Paging::read(u.params(), 100);
        let body = list_envelope("tickets", vec![json!(1), json!(2)], 3, &paging, &u);
        assert_eq!(body["meta"]["has_more"], true);
        let next = body["links"]["next"].as_str().unwrap();
        assert!(next.contains("page%5Bafter%5D=2"), "{next}");
        let body = list_envelope("tickets", vec![json!(3)], 3, &Paging::Cursor { size: 2, offset: 2 }, &u);
        assert_eq!(body["meta"]["has_more"], false);
        assert_eq!(body["links"]["next"], Value::Null);
    }
}
