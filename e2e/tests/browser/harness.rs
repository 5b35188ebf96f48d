//! A live ctihub (one or more nodes on one SQLite file), Debian's chromedriver, and a headless
//! Chromium driven through WebDriver.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctihub_domain::user::{Email, NewUser, Role, User};
use ctihub_store::testing::{TestStore, fresh_sqlite_store};
use ctihub_web::AppState;
use ctihub_web::auth::secrets;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
pub const PUSH_TOKEN: &str = "e2e-push-token-0123456789";

/// One browser at a time: two Chromiums on a 2-core machine would measure each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Figures and file paths go straight to stderr: libtest captures `println!` of passing tests,
/// and these are the point of the run.
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "[e2e] {line}");
}

pub fn epoch_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    async fn start() -> Chromedriver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser tests need Chromium and chromedriver: run `apt-get install chromium chromium-driver` \
             (missing {CHROMEDRIVER} or {CHROMIUM})"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let driver = Chromedriver { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A ctihub node in its own runtime, so that crashing it drops every connection it holds, as a
/// killed process would.
pub struct Node {
    runtime: Option<tokio::runtime::Runtime>,
    pub addr: SocketAddr,
    pub state: AppState,
}

impl Node {
    pub async fn start(db: Arc<TestStore>, addr: Option<SocketAddr>) -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (addr, state) = runtime
            .spawn(async move {
                let store = db.another_node().await;
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                // A restarted node takes its old port back while old connections linger.
                socket.set_reuseaddr(true).unwrap();
                socket.bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap())).expect("bind the node's port");
                let listener = socket.listen(128).unwrap();
                let addr = listener.local_addr().unwrap();
                let state = AppState::new(store);
                tokio::spawn(ctihub_web::serve(listener, state.clone(), std::future::pending()));
                (addr, state)
            })
            .await
            .unwrap();
        Node { runtime: Some(runtime), addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stop at once: every open connection (event streams included) is cut.
    pub fn crash(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Run `task` on this node's runtime (its hub and store live there).
    pub async fn run<F>(&self, task: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.as_ref().expect("node is running").spawn(task).await.unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.crash();
    }
}

pub struct Console {
    pub db: Arc<TestStore>,
    pub node: Node,
    pub browser: Client,
    pub http: reqwest::Client,
    _driver: Chromedriver,
    _profile: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Console {
    pub async fn start() -> Console {
        let serial = SERIAL.lock().await;
        let db = Arc::new(fresh_sqlite_store("DE").await);
        let node = Node::start(db.clone(), None).await;
        let driver = Chromedriver::start().await;
        let profile = tempfile::tempdir().unwrap();
        let mut options = serde_json::Map::new();
        options.insert("binary".into(), CHROMIUM.into());
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1400,900",
        ]
        .iter()
        .map(|a| serde_json::Value::from(*a))
        .chain([format!("--user-data-dir={}", profile.path().display()).into()])
        .collect::<Vec<_>>();
        options.insert("args".into(), args.into());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options.into());
        let browser = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("chromedriver starts a Chromium session");
        Console { db, node, browser, http: reqwest::Client::new(), _driver: driver, _profile: profile, _serial: serial }
    }

    pub async fn close(self) {
        let _ = self.browser.clone().close().await;
    }

    pub fn store(&self) -> &ctihub_store::Store {
        &self.db.store
    }

    pub async fn user(&self, role: Role, name: &str, email: &str, password: &str) -> User {
        let mut new = NewUser::new(role, name);
        new.email = Some(Email::parse(email).unwrap());
        new.password_hash = Some(secrets::hash_password(password).unwrap());
        self.store().create_user(new).await.unwrap()
    }

    pub async fn enable_cti(&self) {
        let store = self.store();
        let mut config = ctihub_web::cti::load_config(store).await.unwrap();
        config.enabled = true;
        config.token = Some(PUSH_TOKEN.into());
        ctihub_web::cti::save_config(store, &config).await.unwrap();
    }

    /// A Zammad-style push to `node`, as a PBX sends it.
    pub async fn push_to(&self, node: &Node, form: &str) {
        let response = self
            .http
            .post(node.url(&format!("/api/v1/cti/{PUSH_TOKEN}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    pub async fn push(&self, form: &str) {
        self.push_to(&self.node, form).await
    }

    pub async fn goto(&self, path: &str) {
        self.browser.goto(&self.node.url(path)).await.unwrap();
    }

    /// Sign in through the form and wait until the live channel is open.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/console/login").await;
        self.find("#email").await.send_keys(email).await.unwrap();
        self.find("#password").await.send_keys(password).await.unwrap();
        self.find("#sign-in").await.click().await.unwrap();
        self.live().await;
    }

    pub async fn live(&self) {
        self.wait_for("body[data-live='open']", Duration::from_secs(10)).await;
    }

    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css, Duration::from_secs(5)).await
    }

    pub async fn wait_for(&self, css: &str, within: Duration) -> Element {
        let found =
            self.browser.wait().at_most(within).every(Duration::from_millis(5)).for_element(Locator::Css(css)).await;
        match found {
            Ok(element) => element,
            Err(e) => {
                let path = self.screenshot("failure").await;
                panic!("`{css}` did not appear within {within:?} ({e}); page at {}", path.display())
            }
        }
    }

    /// Wait until `css` matches an element whose text contains `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str, within: Duration) -> Element {
        let deadline = Instant::now() + within;
        loop {
            for element in self.browser.find_all(Locator::Css(css)).await.unwrap_or_default() {
                if element.text().await.is_ok_and(|t| t.contains(text)) {
                    return element;
                }
            }
            if Instant::now() > deadline {
                let path = self.screenshot("failure").await;
                panic!("no `{css}` containing `{text}` within {within:?}; page at {}", path.display());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.browser.find_all(Locator::Css(css)).await.unwrap().len()
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        let png = self.browser.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
        path.canonicalize().unwrap_or(path)
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("e2e-screenshots")
}
