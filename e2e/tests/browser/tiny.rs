//! A test-local HTTP server on 127.0.0.1 (std only, on its own threads, so the e2e crate needs
//! no server framework): it serves one page at `/phone` (the softphone the console frames) and answers
//! every other request `200 ok`, recording each (the click-to-dial callback's receiver).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub content_type: String,
    pub body: String,
}

pub struct TinyServer {
    pub base: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl TinyServer {
    /// Serve `page` (HTML) at `/phone`, on `host` ("127.0.0.1" or "localhost").
    /// The accepting thread lives as long as the test process; each test's server is idle
    /// once the test is done.
    pub fn start(host: &str, page: &'static str) -> TinyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{host}:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, page, log);
                });
            }
        });
        TinyServer { base, seen }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, page: &str, log: Arc<Mutex<Vec<Request>>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let (mut length, mut content_type) = (0usize, String::new());
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "content-type" => content_type = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (content_type_out, answer) = if method == "GET" && target.starts_with("/phone") {
        ("text/html; charset=utf-8", page)
    } else {
        log.lock().unwrap().push(Request {
            method,
            target,
            content_type,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        ("text/plain", "ok")
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type_out}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
    reader.get_mut().write_all(response.as_bytes())?;
    reader.get_mut().flush()
}
