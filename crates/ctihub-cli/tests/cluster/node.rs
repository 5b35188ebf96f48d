//! A PostgreSQL database of its own and `ctihub serve` processes on it: the nodes of a cluster as
//! an operator runs them, each a real process that can be killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ctihub");
/// Generous for a debug build on a busy 2-core machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh database on the test server (`scripts/with-postgres` provides one), dropped at the end.
pub struct Database {
    pub url: String,
    name: String,
    pub logs: tempfile::TempDir,
}

impl Database {
    pub fn create(purpose: &str) -> Database {
        let base = std::env::var("CTIHUB_TEST_DATABASE_URL").expect(
            "the cluster tests need PostgreSQL: run them through scripts/with-postgres (CTIHUB_TEST_DATABASE_URL)",
        );
        let name = format!("ctihub_cluster_{purpose}_{}", std::process::id());
        psql(&format!("DROP DATABASE IF EXISTS {name}"));
        psql(&format!("CREATE DATABASE {name}"));
        let (server, query) = base.split_once('?').map_or((base.as_str(), None), |(s, q)| (s, Some(q)));
        let (server, _) = server.rsplit_once('/').expect("a database URL ends in /DATABASE");
        let url = match query {
            Some(query) => format!("{server}/{name}?{query}"),
            None => format!("{server}/{name}"),
        };
        Database { url, name, logs: tempfile::tempdir().expect("a directory for node logs") }
    }

    /// `ctihub ARGS... --database-url URL`, which must succeed; its standard output.
    pub fn ctihub(&self, args: &[&str]) -> String {
        let output = command(args).arg("--database-url").arg(&self.url).output().expect("run ctihub");
        assert!(output.status.success(), "ctihub {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// The store, to check what the nodes wrote.
    pub async fn store(&self) -> ctihub_store::Store {
        use ctihub_domain::phone::{PhoneNormalizer, Region};
        let location = ctihub_store::DatabaseLocation::Postgres(self.url.clone());
        let phones = PhoneNormalizer::new(Region::parse("DE").expect("a region"));
        ctihub_store::Store::connect(&location, &Default::default(), phones).await.expect("open the cluster's database")
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Nodes are gone by now (they are dropped first); FORCE ends any straggling connection.
        psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// `psql -c SQL` against the server scripts/with-postgres started (PGHOST, PGPORT, PGUSER).
fn psql(sql: &str) {
    let status = Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .expect("run psql");
    assert!(status.success(), "psql -c {sql:?} failed");
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CTIHUB_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

/// One `ctihub serve` process.
pub struct Node {
    pub name: String,
    pub base: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    /// Start a node with extra `CTIHUB_*` settings on a free loopback port; wait until it listens.
    pub fn start_with(db: &Database, name: &str, settings: &[(&str, &str)]) -> Node {
        let log = db.logs.path().join(format!("{name}.log"));
        let mut child = command(&["serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
            .env("CTIHUB_DEFAULT_REGION", "DE")
            .envs(settings.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("a node log file"))
            .spawn()
            .expect("start ctihub serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("ctihub listening on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let base = rx.recv_timeout(STARTUP_TIMEOUT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("{name} did not start listening: {}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        Node { name: name.to_owned(), base, child, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: no shutdown, no goodbye to the database.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the node");
        self.child.wait().expect("reap the node");
    }

    /// The node's log, for a failing assertion's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
