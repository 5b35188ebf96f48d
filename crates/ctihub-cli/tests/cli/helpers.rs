//! Run the real `ctihub` binary in a private working directory, with bounded waits everywhere
//! so a hung child fails its test instead of hanging the suite.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ctihub");

/// Generous for a debug build on a busy 2-core machine; a healthy command takes well under 1 s.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A working directory of its own: `./ctihub.toml` and `./ctihub-data` of one test never meet
/// another's.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().expect("create a temporary directory") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory the `data_*` helpers pass with `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path
    }

    /// `ctihub ARGS...` in this directory, with none of the developer's `CTIHUB_*` settings (or
    /// the test runner's own) leaking in.
    pub fn cmd(&self, args: &[&str]) -> Invocation {
        let mut command = Command::new(BIN);
        command.args(args).current_dir(self.path()).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CTIHUB_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        Invocation { command }
    }

    /// `ctihub ARGS... --data-dir <sandbox>/data`.
    pub fn data_cmd(&self, args: &[&str]) -> Invocation {
        let mut invocation = self.cmd(args);
        invocation.command.arg("--data-dir").arg(self.data_dir());
        invocation
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        self.data_cmd(args).run()
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        env.iter().fold(self.data_cmd(args), |invocation, (name, value)| invocation.env(name, value)).run()
    }

    /// Create a user and return its id.
    pub fn create_user(&self, role: &str, name: &str, email: &str) -> i64 {
        let out = self.run(&["user", "create", "--role", role, "--name", name, "--email", email]).success();
        out.stdout.trim().parse().unwrap_or_else(|_| panic!("user create printed no id: {out:?}"))
    }

    /// `ctihub serve` on a port the kernel picks, ready when this returns.
    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    /// The same with more options (`--database-url …`).
    pub fn serve_with(&self, extra: &[&str]) -> Server {
        let mut command = self.data_cmd(&["serve", "--listen", "127.0.0.1:0"]).command;
        command.args(extra);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start ctihub serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(Vec::<String>::new()));
        let (lines_tx, lines_rx) = mpsc::channel();
        let stdout_reader = {
            let stdout = Arc::clone(&stdout);
            let pipe = child.stdout.take().expect("stdout is piped");
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    stdout.lock().unwrap().push(line.clone());
                    let _ = lines_tx.send(line);
                }
            })
        };
        {
            let stderr = Arc::clone(&stderr);
            let mut pipe = child.stderr.take().expect("stderr is piped");
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    stderr.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut server =
            Server { child, url: String::new(), stdout, stdout_reader: Some(stdout_reader), stderr, exited: None };

        // The banner names the port the kernel picked, which is how we find it without the race
        // of "pick a free port, release it, hope nobody takes it".
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while server.url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("ctihub listening on ") {
                        server.url = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    }
                }
                Err(_) => panic!("ctihub serve printed no banner within {STARTUP_TIMEOUT:?}: {}", server.diagnostics()),
            }
        }
        loop {
            let probe = self.cmd(&["healthcheck", "--url", &server.url]).run();
            if probe.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ctihub serve not healthy within {STARTUP_TIMEOUT:?}: {probe:?}\n{}",
                server.diagnostics()
            );
            thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

pub struct Invocation {
    command: Command,
}

impl Invocation {
    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn run(mut self) -> Outcome {
        let mut child = self.command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start ctihub");
        let stdout = read_in_background(child.stdout.take().expect("stdout is piped"));
        let stderr = read_in_background(child.stderr.take().expect("stderr is piped"));
        let status = wait_with_timeout(&mut child, COMMAND_TIMEOUT);
        let outcome = Outcome {
            status: status.unwrap_or_else(|| {
                let _ = child.kill();
                child.wait().expect("reap the killed child")
            }),
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        };
        assert!(status.is_some(), "ctihub did not finish within {COMMAND_TIMEOUT:?}: {:?}: {outcome:?}", self.command);
        outcome
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    #[track_caller]
    pub fn success(self) -> Self {
        assert!(self.status.success(), "expected success: {self:#?}");
        self
    }

    #[track_caller]
    pub fn failure(self) -> Self {
        assert!(!self.status.success(), "expected failure: {self:#?}");
        self
    }
}

pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stdout_reader: Option<thread::JoinHandle<()>>,
    stderr: Arc<Mutex<String>>,
    exited: Option<ExitStatus>,
}

impl Server {
    /// Wait until the server has printed a line matching `predicate` and return all its stdout.
    pub fn wait_for_stdout(&self, what: &str, predicate: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let lines = self.stdout.lock().unwrap().clone();
            if lines.iter().any(|l| predicate(l)) {
                return lines;
            }
            assert!(Instant::now() < deadline, "server never printed {what}: {}", self.diagnostics());
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn diagnostics(&self) -> String {
        format!("\n--- server stdout ---\n{}\n--- server stderr ---\n{}", self.stdout().join("\n"), self.stderr())
    }

    /// Send SIGTERM, as systemd and container runtimes do, and wait for the exit. Afterwards
    /// [`Server::stdout`] holds everything the server printed.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill(1)");
        assert!(status.success(), "kill -TERM failed");
        let exited = wait_with_timeout(&mut self.child, STARTUP_TIMEOUT)
            .unwrap_or_else(|| panic!("ctihub serve ignored SIGTERM for {STARTUP_TIMEOUT:?}: {}", self.diagnostics()));
        self.exited = Some(exited);
        if let Some(reader) = self.stdout_reader.take() {
            reader.join().expect("stdout reader");
        }
        exited
    }
}

impl Server {
    /// SIGKILL: the process dies at once, as on an OOM kill or a pulled plug (minus the disk).
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.exited = Some(self.child.wait().expect("reap the killed server"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nothing listens on (at the moment of asking).
pub fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A minimal HTTP/1.1 GET over a plain socket: status and body.
pub fn http_get(base_url: &str, path: &str, authorization: Option<&str>) -> (u16, String) {
    http_request("GET", base_url, path, authorization, None)
}

/// POST a form body, as a PBX pushes events.
pub fn http_post_form(base_url: &str, path: &str, form: &str) -> (u16, String) {
    http_request("POST", base_url, path, None, Some(form))
}

/// POST a form body; `Err` when the server cannot be reached or does not answer (it died).
pub fn try_post_form(base_url: &str, path: &str, form: &str) -> std::io::Result<(u16, String)> {
    let host = base_url.strip_prefix("http://").expect("an http:// URL");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {response:?}")))?;
    Ok((status, body.to_owned()))
}

fn http_request(
    method: &str,
    base_url: &str,
    path: &str,
    authorization: Option<&str>,
    form: Option<&str>,
) -> (u16, String) {
    let host = base_url.strip_prefix("http://").expect("an http:// URL");
    let mut stream = TcpStream::connect(host).expect("connect to the server");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    if let Some(body) = form {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read the response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{response}"));
    (status, body.to_owned())
}

pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64 with padding (RFC 4648), enough for an Authorization header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Split a line printed for a POSIX shell into words (plain words and '...' quoting, which is
/// all `ctihub` prints).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn helpers_encode_and_split_like_the_real_thing() {
    assert_eq!(base64(b"ada@example.com/token:T0K"), "YWRhQGV4YW1wbGUuY29tL3Rva2VuOlQwSw==");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
    assert_eq!(shell_words(r"a 'b c' 'it'\''s'"), vec!["a", "b c", "it's"]);
}
