//! A PBX's HTTP/1.1 keep-alive connection: one form POST at a time, the answer read whole
//! before the next is sent, as a dial plan posts its events.
//!
//! Written by hand rather than with reqwest because the harness shares the machine's two cores
//! with the server it measures. Through reqwest each request cost the client about 20 µs of CPU
//! (its pool, URL and header maps, body streams): at 9,000 events/s that is a fifth of a core the
//! server does not get, while a PBX would post from a machine of its own. This connection writes
//! each request with one call and parses only the status line and `Content-Length`.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server's answer to one request.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One connection to `http://HOST:PORT`, opened on first use and again after the server
/// closes it.
pub struct PbxConnection {
    /// `HOST:PORT`, for connecting and for the `Host` header.
    authority: String,
    stream: Option<TcpStream>,
    /// Bytes read from the stream; a response's head and body are parsed out of it.
    received: Vec<u8>,
    request: Vec<u8>,
}

impl PbxConnection {
    /// A connection to `base`, an `http://HOST:PORT` URL (no path, no TLS: the harness only
    /// talks to loopback servers).
    pub fn new(base: &str) -> anyhow::Result<PbxConnection> {
        let url = url::Url::parse(base).with_context(|| format!("{base}: not a URL"))?;
        if url.scheme() != "http" {
            bail!("{base}: the PBX client speaks plain http:// only");
        }
        let host = url.host_str().with_context(|| format!("{base}: no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        Ok(PbxConnection {
            authority: format!("{host}:{port}"),
            stream: None,
            received: Vec::with_capacity(4096),
            request: Vec::with_capacity(1024),
        })
    }

    /// POST a form-encoded `body` to `path` and read the whole answer.
    pub async fn post_form(&mut self, path: &str, body: &str) -> anyhow::Result<Answer> {
        self.request.clear();
        self.request.extend_from_slice(b"POST ");
        self.request.extend_from_slice(path.as_bytes());
        self.request.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        self.request.extend_from_slice(self.authority.as_bytes());
        self.request.extend_from_slice(b"\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ");
        self.request.extend_from_slice(body.len().to_string().as_bytes());
        self.request.extend_from_slice(b"\r\n\r\n");
        self.request.extend_from_slice(body.as_bytes());

        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.authority)
                .await
                .with_context(|| format!("connecting to {}", self.authority))?;
            stream.set_nodelay(true)?;
            self.received.clear();
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        let outcome = exchange(stream, &self.request, &mut self.received).await;
        match &outcome {
            Ok((_, keep_alive)) if *keep_alive => {}
            // Closed by the server, or in an unknown state after an error: open anew next time.
            _ => self.stream = None,
        }
        outcome.map(|(answer, _)| answer)
    }
}

/// Write `request`, then read one response; also says whether the connection stays open.
async fn exchange(stream: &mut TcpStream, request: &[u8], received: &mut Vec<u8>) -> anyhow::Result<(Answer, bool)> {
    stream.write_all(request).await.context("sending the request")?;
    let (status, body_start, length, keep_alive) = loop {
        if let Some(head) = parse_head(received)? {
            break head;
        }
        read_more(stream, received).await?;
    };
    while received.len() < body_start + length {
        read_more(stream, received).await?;
    }
    let body = received[body_start..body_start + length].to_vec();
    received.drain(..body_start + length);
    Ok((Answer { status, body }, keep_alive))
}

async fn read_more(stream: &mut TcpStream, received: &mut Vec<u8>) -> anyhow::Result<()> {
    received.reserve(4096);
    if stream.read_buf(received).await.context("reading the answer")? == 0 {
        bail!("the server closed the connection before answering in full");
    }
    Ok(())
}

/// The status, where the body starts, its length and whether the connection stays open, once
/// `received` holds the whole head.
fn parse_head(received: &[u8]) -> anyhow::Result<Option<(u16, usize, usize, bool)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let body_start = match response.parse(received).context("an unreadable HTTP answer")? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.context("an HTTP answer without a status")?;
    let mut length = None;
    let mut keep_alive = response.version == Some(1);
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(header.value).unwrap_or("");
            length = Some(text.trim().parse::<usize>().with_context(|| format!("Content-Length {text:?}"))?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("the server answered with Transfer-Encoding; the PBX client reads Content-Length bodies only");
        } else if header.name.eq_ignore_ascii_case("connection") {
            keep_alive &= !header.value.eq_ignore_ascii_case(b"close");
        }
    }
    let length = length.context("an HTTP answer without Content-Length")?;
    Ok(Some((status, body_start, length, keep_alive)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_head_gives_status_body_and_keep_alive() {
        let answer = b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}";
        let (status, start, length, keep_alive) = parse_head(answer).unwrap().unwrap();
        assert_eq!((status, &answer[start..start + length], keep_alive), (422, &b"{}"[..], true));
    }

    #[test]
    fn a_partial_head_asks_for_more_and_close_is_honoured() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Len").unwrap().is_none());
        let (_, _, _, keep_alive) =
            parse_head(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").unwrap().unwrap();
        assert!(!keep_alive);
    }

    #[test]
    fn chunked_or_unmeasured_answers_are_refused_by_name() {
        let chunked = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap_err();
        assert!(chunked.to_string().contains("Transfer-Encoding"), "{chunked}");
        let unmeasured = parse_head(b"HTTP/1.1 200 OK\r\n\r\n").unwrap_err();
        assert!(unmeasured.to_string().contains("Content-Length"), "{unmeasured}");
    }
}
