//! `spawn_app()`: the real router on a free port with a fresh database.

use ctihub_domain::user::{Email, NewUser, Role};
use std::sync::Arc;

use ctihub_store::Store;
use ctihub_store::testing::{TestStore, fresh_stores};
use ctihub_web::AppState;
use ctihub_web::auth::secrets;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub backend: &'static str,
    /// The node this app runs as (each app is its own node, as each server process is).
    pub node: ctihub_web::cluster::Node,
    database: Arc<TestStore>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The database file, on SQLite.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.database.sqlite_path()
    }

    /// A user with a password (hashed like production) and, for convenience, an API token.
    pub async fn user(&self, role: Role, email: &str, password: &str) -> (ctihub_domain::user::User, String) {
        let mut new = NewUser::new(role, email.split('@').next().unwrap_or("user"));
        new.email = Some(Email::parse(email).unwrap());
        new.password_hash = Some(secrets::hash_password(password).unwrap());
        let user = self.store.create_user(new).await.unwrap();
        let token = secrets::generate_token();
        self.store.create_api_token(user.id, Some("test"), &secrets::hash_token(&token)).await.unwrap();
        (user, token)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    /// Another ctihub node on the same database, as in a multi-node deployment.
    pub async fn another_node(&self) -> TestApp {
        let store = self.database.another_node().await;
        spawn(store, self.database.clone()).await
    }
}

async fn spawn(store: Store, database: Arc<TestStore>) -> TestApp {
    spawn_with(store, database, |state| state).await
}

async fn spawn_with(store: Store, database: Arc<TestStore>, configure: impl FnOnce(AppState) -> AppState) -> TestApp {
    let backend = database.backend;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = configure(AppState::new(store.clone()));
    let node = state.node.clone();
    tokio::spawn(async move {
        ctihub_web::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    TestApp { base, client: reqwest::Client::new(), store, backend, node, database, shutdown: Some(tx) }
}

/// Run `test` against a fresh app on every backend.
pub async fn on_each_app(test: impl AsyncFn(&TestApp)) {
    on_each_app_in("US", test).await
}

/// The same with the app's state configured first (a low rate limit, say).
pub async fn on_each_app_with(configure: impl Fn(AppState) -> AppState, test: impl AsyncFn(&TestApp)) {
    for t in fresh_stores("US").await {
        let t = Arc::new(t);
        let app = spawn_with(t.store.clone(), t.clone(), &configure).await;
        eprintln!("-- on {}", app.backend);
        test(&app).await;
    }
}

/// The same with another default region for phone numbers.
pub async fn on_each_app_in(region: &str, test: impl AsyncFn(&TestApp)) {
    for t in fresh_stores(region).await {
        let t = Arc::new(t);
        let app = spawn(t.store.clone(), t.clone()).await;
        eprintln!("-- on {}", app.backend);
        test(&app).await;
    }
}

impl TestApp {
    /// Enable the generic CTI integration with `config` tweaks; returns the push URL.
    pub async fn enable_cti(&self, tweak: impl FnOnce(&mut ctihub_domain::cti::CtiConfig)) -> String {
        let mut config = ctihub_web::cti::load_config(&self.store).await.unwrap();
        config.enabled = true;
        config.token = Some("zammad-token-0123456789".into());
        tweak(&mut config);
        ctihub_web::cti::save_config(&self.store, &config).await.unwrap();
        self.url("/api/v1/cti/zammad-token-0123456789")
    }

    /// POST a form body as a PBX does; returns status and JSON.
    pub async fn push(&self, url: &str, form: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")))
    }
}

impl TestApp {
    /// POST a form body with extra headers, as sipgate and placetel do; returns status and the
    /// XML answer as text. Every answer of theirs, errors included, must be XML.
    pub async fn push_xml(&self, url: &str, form: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.client.post(url).header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(form.to_owned()).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        assert_eq!(content_type.as_deref(), Some("application/xml; charset=UTF-8"), "({status}) {text}");
        (status, text)
    }
}
