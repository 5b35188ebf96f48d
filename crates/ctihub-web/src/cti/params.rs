//! Event parameters however a PBX sends them: form-encoded (`user[]=A&user%5B%5D=B&user=C`),
//! JSON (`"user": ["A"]` or `"user": "A"`) or multipart. Repeated keys and `[]` suffixes are
//! folded into one list per name, so every dialect reads `params.all("user")`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;

/// Why a body could not be read, in words a PBX admin can act on, and the status to answer:
/// 413 for a body over the size limit, 422 for one that cannot be parsed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ParamsError {
    pub message: String,
    pub status: StatusCode,
}

impl ParamsError {
    fn invalid(message: impl Into<String>) -> Self {
        ParamsError { message: message.into(), status: StatusCode::UNPROCESSABLE_ENTITY }
    }

    /// A rejection from reading the body keeps its status when it is about the body's size.
    fn unreadable(status: StatusCode, message: String) -> Self {
        let status = if status == StatusCode::PAYLOAD_TOO_LARGE { status } else { StatusCode::UNPROCESSABLE_ENTITY };
        ParamsError { message, status }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, Vec<String>>,
}

impl Params {
    fn push(&mut self, key: &str, value: String) {
        let key = key.strip_suffix("[]").unwrap_or(key);
        self.values.entry(key.to_owned()).or_default().push(value);
    }

    /// The first non-empty value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key)?.iter().map(|v| v.trim()).find(|v| !v.is_empty())
    }

    /// The first of several names that is present (`callId` before `call_id`).
    pub fn first_of(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.get(k))
    }

    /// Every non-empty value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.values
            .get(key)
            .map(|vs| vs.iter().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect())
            .unwrap_or_default()
    }

    /// The parameters as stored with the event: single values as strings, repeated ones as lists.
    pub fn to_json(&self) -> serde_json::Value {
        let map = self
            .values
            .iter()
            .map(|(k, vs)| {
                let value = match vs.as_slice() {
                    [one] => serde_json::Value::String(one.clone()),
                    many => serde_json::Value::from(many.to_vec()),
                };
                (k.clone(), value)
            })
            .collect();
        serde_json::Value::Object(map)
    }

    /// A form body read as browsers and `serde_html_form` read one (`+` is a space, bytes that
    /// are not UTF-8 become U+FFFD), so no form is unreadable. The pairs go straight into the
    /// map: every PBX event comes through here, and deserializing them into a list first cost
    /// three times as much.
    pub fn from_form(body: &[u8]) -> Params {
        let mut params = Params::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            params.push(&key, value.into_owned());
        }
        params
    }

    pub fn from_json(body: &[u8]) -> Result<Params, ParamsError> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ParamsError::invalid(format!("the JSON body cannot be read: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(ParamsError::invalid("the JSON body must be an object"));
        };
        let mut params = Params::default();
        for (k, v) in map {
            match v {
                serde_json::Value::Array(items) => items.into_iter().for_each(|i| params.push(&k, scalar(i))),
                serde_json::Value::Null => {}
                other => params.push(&k, scalar(other)),
            }
        }
        Ok(params)
    }
}

fn scalar(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Read a request body in whichever encoding its Content-Type names; form when it names none.
pub async fn read_params<S: Send + Sync>(request: Request, state: &S) -> Result<(Params, Bytes), ParamsError> {
    let content_type =
        request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        // Boxed: reading multipart takes a large future, which every body would carry otherwise.
        return Box::pin(read_multipart(request, state)).await.map(|params| (params, Bytes::new()));
    }
    let body = Bytes::from_request(request, state)
        .await
        .map_err(|e| ParamsError::unreadable(e.status(), format!("the body cannot be read: {}", e.body_text())))?;
    let params = if content_type.starts_with("application/json") || content_type.ends_with("+json") {
        Params::from_json(&body)?
    } else {
        Params::from_form(&body)
    };
    Ok((params, body))
}

async fn read_multipart<S: Send + Sync>(request: Request, state: &S) -> Result<Params, ParamsError> {
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| ParamsError::unreadable(e.status(), e.body_text()))?;
    let mut params = Params::default();
    while let Some(field) =
        multipart.next_field().await.map_err(|e| ParamsError::unreadable(e.status(), e.body_text()))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let text = field.text().await.map_err(|e| ParamsError::unreadable(e.status(), e.body_text()))?;
        params.push(&name, text);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_list_is_one_list() {
        let p = Params::from_form(b"user[]=Alice&user%5B%5D=Bob&user=Carol&callId=1&from=%2B4930");
        assert_eq!(p.all("user"), vec!["Alice", "Bob", "Carol"]);
        assert_eq!(p.get("from"), Some("+4930"));
        assert_eq!(p.first_of(&["callId", "call_id"]), Some("1"));
        let j = Params::from_json(br#"{"user": ["A", "B"], "call_id": 12, "answeringNumber": null}"#).unwrap();
        assert_eq!(j.all("user"), vec!["A", "B"]);
        assert_eq!(j.get("call_id"), Some("12"));
        assert_eq!(j.get("answeringNumber"), None);
        assert!(Params::from_json(b"[1]").is_err());
    }

    #[test]
    fn empty_values_are_absent() {
        let p = Params::from_form(b"cause=&user[]=&to=+491");
        assert_eq!(p.get("cause"), None);
        assert!(p.all("user").is_empty());
        assert_eq!(p.get("to"), Some("491"), "a raw + in a form is a space");
    }

    #[test]
    fn any_form_body_reads() {
        let p = Params::from_form(b"from=%FF49&&=x&callId");
        assert_eq!(p.get("from"), Some("\u{FFFD}49"), "bytes that are not UTF-8 are replaced");
        assert_eq!(p.get(""), Some("x"));
        assert_eq!(p.get("callId"), None, "a key without a value is empty");
    }
}
