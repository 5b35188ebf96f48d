//! What the two XML-speaking dialects share. placetel's answers in Zammad are sipgate's
//! vocabulary (`<Reject>`, `<Dial callerId><Number>`), so both render them from here, along with
//! Zammad's access checks and its `<Response><Error>` error shape.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::cti::Decision;
use crate::cti::config::token_matches;
use crate::cti::params::{Params, read_params};
use crate::error::ApiError;

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const CONTENT_TYPE_XML: &str = "application/xml; charset=UTF-8";

/// Text safe inside an element. Characters XML 1.0 cannot carry at all (most C0 controls,
/// U+FFFE, U+FFFF) are dropped rather than producing a document the provider would refuse.
/// Quotes stay as they are, as Zammad's XML builder leaves them.
fn escape_text(text: &str) -> String {
    escape(text, false)
}

/// Text safe inside a double-quoted attribute value. Tab and line breaks become character
/// references so attribute-value normalization does not turn them into spaces.
fn escape_attribute(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `<Response …>` with the given attributes and, for a reject or a caller-id rewrite, its action.
pub(crate) fn response_document(attributes: &[(&str, &str)], decision: &Decision) -> String {
    let mut xml = String::from(DECLARATION);
    xml.push_str("<Response");
    for (name, value) in attributes {
        xml.push_str(&format!(r#" {name}="{}""#, escape_attribute(value)));
    }
    let action = match decision {
        Decision::Continue => None,
        Decision::Reject => Some(r#"<Reject reason="busy"/>"#.to_owned()),
        Decision::Dial { caller_id, number } => Some(format!(
            r#"<Dial callerId="{}"><Number>{}</Number></Dial>"#,
            escape_attribute(caller_id),
            escape_text(number)
        )),
    };
    match action {
        None => xml.push_str("/>"),
        Some(action) => {
            xml.push('>');
            xml.push_str(&action);
            xml.push_str("</Response>");
        }
    }
    xml
}

/// A 200 with an XML body.
pub(crate) fn xml_ok(document: String) -> Response {
    ([(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_XML))], document).into_response()
}

/// An error as Zammad's sipgate and placetel controllers render it.
#[derive(Debug, Clone)]
pub(crate) struct XmlError {
    status: StatusCode,
    message: String,
}

impl XmlError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        XmlError { status, message: message.into() }
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
}

impl From<ApiError> for XmlError {
    fn from(e: ApiError) -> Self {
        e.log();
        XmlError { status: e.status(), message: e.public_message() }
    }
}

impl From<ctihub_store::StoreError> for XmlError {
    fn from(e: ctihub_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for XmlError {
    fn into_response(self) -> Response {
        let body = format!("{DECLARATION}<Response><Error>{}</Error></Response>", escape_text(&self.message));
        (self.status, [(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_XML))], body).into_response()
    }
}

/// Zammad's `check_configured` then `check_token`: a disabled or unconfigured integration
/// answers 422 whatever the token, so the configuration is checked first.
pub(crate) fn check_access(enabled: bool, configured: Option<&str>, presented: &str) -> Result<(), XmlError> {
    if !enabled {
        return Err(XmlError::unprocessable("Feature is disabled, please contact your administrator!"));
    }
    let Some(configured) = configured.filter(|t| !t.trim().is_empty()) else {
        return Err(XmlError::unprocessable("Feature not configured, please contact your admin!"));
    };
    if !token_matches(presented, configured) {
        return Err(XmlError::unauthorized("Invalid token, please contact your admin!"));
    }
    Ok(())
}

/// The headers and the raw body, which signatures are computed over. Nothing is parsed yet, so
/// an unsigned body is never interpreted.
pub(crate) async fn read_body(state: &AppState, request: Request) -> Result<(HeaderMap, Bytes), XmlError> {
    let headers = request.headers().clone();
    let body = Bytes::from_request(request, state)
        .await
        .map_err(|e| XmlError::new(e.status(), format!("The body cannot be read: {}", e.body_text())))?;
    Ok((headers, body))
}

/// A request's headers, body and parameters, read once: it may be admitted twice
/// (`EventHandling`). A body that cannot be read is still refused after the access checks, and
/// bad parameters after the signature's.
pub(crate) type ReadRequest = Result<(HeaderMap, Bytes, Result<Params, XmlError>), XmlError>;

pub(crate) async fn read_request(state: &AppState, request: Request) -> ReadRequest {
    let (headers, body) = read_body(state, request).await?;
    let params = parse_params(state, &headers, body.clone()).await;
    Ok((headers, body, params))
}

/// The parameters of a body already read, in whichever encoding its Content-Type names.
pub(crate) async fn parse_params(state: &AppState, headers: &HeaderMap, body: Bytes) -> Result<Params, XmlError> {
    let mut request = Request::new(Body::from(body));
    if let Some(content_type) = headers.get(CONTENT_TYPE) {
        request.headers_mut().insert(CONTENT_TYPE, content_type.clone());
    }
    let (params, _) = read_params(request, state).await.map_err(|e| XmlError::new(e.status, e.message))?;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(escape_attribute(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e'f");
        assert_eq!(escape_text(r#"a&b<c>d"e'f"#), r#"a&amp;b&lt;c&gt;d"e'f"#);
        assert_eq!(escape_attribute("x\ty\nz\u{1}\u{ffff}ä"), "x&#9;y&#10;zä");
        assert_eq!(escape_text("x\ty\nz\u{1}\u{ffff}ä"), "x\ty\nzä");
    }

    #[test]
    fn documents_for_each_decision() {
        let attrs = [("onHangup", "http://h/a?b&c"), ("onAnswer", "http://h/a?b&c")];
        assert_eq!(
            response_document(&attrs, &Decision::Continue),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response onHangup="http://h/a?b&amp;c" onAnswer="http://h/a?b&amp;c"/>"#
        );
        assert_eq!(
            response_document(&[], &Decision::Reject),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>"#
        );
        let dial = Decision::Dial { caller_id: "4930\"1".into(), number: "<0171>".into() };
        assert_eq!(
            response_document(&[], &dial),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="4930&quot;1"><Number>&lt;0171&gt;</Number></Dial></Response>"#
        );
    }
}
