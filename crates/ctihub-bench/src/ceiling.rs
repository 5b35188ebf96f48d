//! The ceiling: a bare hyper HTTP/1 handler that answers every request with `{}` and does
//! nothing else. Run as its own process (`ctihub-bench bare-server`) and driven by the same
//! PBX clients as ctihub, it shows what the machine, the loopback and the client allow; ctihub's
//! ingest is reported as a fraction of it.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub async fn serve() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("bare server listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
                // Read the body as ctihub would before answering.
                let _ = http_body_util::BodyExt::collect(request.into_body()).await;
                let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                response.headers_mut().insert("content-type", "application/json".parse().expect("a header value"));
                Ok::<_, Infallible>(response)
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
