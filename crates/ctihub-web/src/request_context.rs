//! What every request carries for the logs: a request id, a `request` span, and credentials
//! marked so they never reach a log line.
//!
//! - The id is the caller's `X-Request-Id` when it sends one (a PBX can then find its own
//!   request in our logs), otherwise a new UUID; either way the answer carries it back.
//! - The span names the method, the path (with a push URL's token replaced by `***`) and the id,
//!   so every line logged while the request runs says which request it belongs to.
//! - An answer with a 5xx status is logged at `error` with its latency, inside that span.
//!
//! One layer of our own rather than tower-http's `SetRequestId`, `PropagateRequestId`, `Trace`
//! and `SetSensitiveRequestHeaders`, which made a string and two copies of each new id, put it in
//! the request's extensions where nothing read it, and wrapped every answer's body.
//! Replacing them saved 1.5–2.3 µs of server CPU per request (`wrk` on a missing page) and about
//! 2 µs per PBX event under ingest (docs/benchmarks.md). The span covers the handler, not the
//! streaming of an answer's body after it (a console's event stream), where nothing logs.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use tracing::Instrument;
use tracing::instrument::Instrumented;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the whole application; see the module's documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContextLayer;

impl<S> tower::Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContext { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestContext<S> {
    inner: S,
}

impl<S, A, B> tower::Service<Request<A>> for RequestContext<S>
where
    S: tower::Service<Request<A>, Response = Response<B>>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<A>) -> Self::Future {
        // Before routing, which `inner.call` runs, so the logged latency includes it.
        let started = Instant::now();
        mark_credentials_sensitive(request.headers_mut());
        let id = request.headers().get(&REQUEST_ID).cloned().unwrap_or_else(new_request_id);
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            path = %redact_path(request.uri().path()),
            request_id = %id.to_str().unwrap_or("-"),
        );
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture { inner: inner.instrument(span), id: Some(id), started }
    }
}

pin_project_lite::pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        id: Option<HeaderValue>,
        started: Instant,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = ready!(this.inner.as_mut().poll(cx))?;
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        let status = response.status();
        if status.is_server_error() {
            let latency_ms = this.started.elapsed().as_secs_f64() * 1e3;
            let _entered = this.inner.span().enter();
            tracing::error!(status = status.as_u16(), latency_ms, "response failed");
        }
        Poll::Ready(Ok(response))
    }
}

/// A random (version 4) UUID, as tower-http's `MakeRequestUuid` made them.
fn new_request_id() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).expect("a UUID is a valid header value")
}

/// Debug output of a sensitive header value shows `Sensitive`, never the credential.
fn mark_credentials_sensitive(headers: &mut HeaderMap) {
    for name in [AUTHORIZATION, COOKIE] {
        if let axum::http::header::Entry::Occupied(mut values) = headers.entry(name) {
            for value in values.iter_mut() {
                value.set_sensitive(true);
            }
        }
    }
}

/// The request path for logs, with the secret of token-in-URL endpoints replaced by `***`.
fn redact_path(path: &str) -> Cow<'_, str> {
    const SECRET_AFTER: &[&str] =
        &["/api/v1/cti/", "/api/v1/integration/cti/", "/api/v1/sipgate/", "/api/v1/placetel/"];
    // Paths under these prefixes that are routes, not tokens.
    const NOT_SECRET: &[&str] = &["log", "done"];
    for prefix in SECRET_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (token, tail) = rest.split_once('/').map_or((rest, ""), |(token, _)| (token, &rest[token.len()..]));
            if NOT_SECRET.contains(&token) {
                return Cow::Borrowed(path);
            }
            return Cow::Owned(format!("{prefix}***{tail}"));
        }
    }
    Cow::Borrowed(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_tokens_never_reach_the_logs() {
        assert_eq!(redact_path("/api/v1/cti/s3cret"), "/api/v1/cti/***");
        assert_eq!(redact_path("/api/v1/integration/cti/s3cret"), "/api/v1/integration/cti/***");
        assert_eq!(redact_path("/api/v1/sipgate/s3cret/in"), "/api/v1/sipgate/***/in");
        assert_eq!(redact_path("/api/v1/placetel/s3cret"), "/api/v1/placetel/***");
        assert_eq!(redact_path("/api/v1/cti/log"), "/api/v1/cti/log");
        assert_eq!(redact_path("/api/v1/cti/done/12"), "/api/v1/cti/done/12");
        assert_eq!(redact_path("/healthz"), "/healthz");
    }

    #[test]
    fn new_ids_are_distinct_version_4_uuids() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(a.to_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }

    #[test]
    fn credentials_are_marked_sensitive_and_other_headers_are_not() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer one"));
        headers.append(COOKIE, HeaderValue::from_static("a=1"));
        headers.append(COOKIE, HeaderValue::from_static("b=2"));
        headers.append(REQUEST_ID, HeaderValue::from_static("pbx-42"));
        mark_credentials_sensitive(&mut headers);
        assert!(headers.get_all(AUTHORIZATION).iter().all(HeaderValue::is_sensitive));
        assert!(headers.get_all(COOKIE).iter().all(HeaderValue::is_sensitive));
        assert!(!headers[&REQUEST_ID].is_sensitive());
        assert!(!format!("{headers:?}").contains("Bearer one"));
    }

    /// Log lines written while it is the default subscriber of this thread.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs one request with the given answer status through the layer; the answer and the log.
    async fn answer_with(status: u16, request: Request<()>) -> (Response<()>, String) {
        use tower::{Layer, ServiceExt};
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let inner = tower::service_fn(move |_: Request<()>| async move {
            tracing::info!("handling");
            Ok::<_, std::convert::Infallible>(Response::builder().status(status).body(()).unwrap())
        });
        let response = RequestContextLayer.layer(inner).oneshot(request).await.unwrap();
        let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        (response, log)
    }

    #[tokio::test]
    async fn a_callers_id_comes_back_and_a_server_error_is_logged_with_its_request() {
        let request = Request::post("/api/v1/cti/s3cret").header(REQUEST_ID, "pbx-42").body(()).unwrap();
        let (response, log) = answer_with(503, request).await;
        assert_eq!(response.headers()[&REQUEST_ID], "pbx-42");
        let failure = log.lines().find(|line| line.contains("response failed")).expect(&log);
        assert!(failure.contains("ERROR") && failure.contains("status=503"), "{failure}");
        for field in ["method=POST", "path=/api/v1/cti/***", "request_id=pbx-42"] {
            assert!(log.lines().all(|line| line.contains(field)), "every line names {field}: {log}");
        }
        assert!(!log.contains("s3cret"), "{log}");
    }

    #[tokio::test]
    async fn without_an_id_the_answer_gets_a_new_one_and_success_logs_no_error() {
        let (response, log) = answer_with(200, Request::get("/healthz").body(()).unwrap()).await;
        let id = response.headers()[&REQUEST_ID].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(log.contains("handling") && log.contains(&format!("request_id={id}")), "{log}");
        assert!(!log.contains("ERROR"), "{log}");
    }
}
