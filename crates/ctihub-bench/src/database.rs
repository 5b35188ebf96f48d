//! The databases a run measures: an SQLite file in the data directory, and a PostgreSQL
//! database, either on a server the caller names (`--postgres-url`) or on a private cluster this
//! harness keeps in the data directory (so a seeded million users survives between runs, like
//! the SQLite file). The private cluster keeps PostgreSQL's durable defaults (`fsync`,
//! `synchronous_commit`): unlike the test suites' throwaway cluster, a benchmark of "stored
//! before acknowledged" must pay for the flush.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_store::{ConnectOptions, DatabaseLocation, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where one backend's databases are: the seeded one and an empty one for the idle reading.
pub struct Databases {
    pub backend: Backend,
    /// The seeded database, as a URL `ctihub serve --database-url` takes.
    pub seeded: String,
    /// An empty database (recreated on every run).
    pub empty: String,
    /// SQLite: the seeded file, and its copy as seeding left it (see [`Databases::restore_seeded`]).
    sqlite_files: Option<SqliteFiles>,
}

struct SqliteFiles {
    working: PathBuf,
    as_seeded: PathBuf,
}

impl Databases {
    pub fn sqlite(dir: &Path, name: &str) -> anyhow::Result<Databases> {
        let empty_dir = dir.join(format!("{name}-empty"));
        if empty_dir.exists() {
            std::fs::remove_dir_all(&empty_dir)?;
        }
        std::fs::create_dir_all(&empty_dir)?;
        let seeded = dir.join(format!("{name}.sqlite3"));
        Ok(Databases {
            backend: Backend::Sqlite,
            seeded: format!("sqlite://{}", seeded.display()),
            empty: format!("sqlite://{}", empty_dir.join("ctihub.sqlite3").display()),
            sqlite_files: Some(SqliteFiles { as_seeded: dir.join(format!("{name}.seeded.sqlite3")), working: seeded }),
        })
    }

    /// SQLite: put the seeded file back as seeding left it, so that every run measures the same
    /// database (a million users, their tickets, the agents) rather than one holding every
    /// earlier run's calls: ingest on a file grown to 11 GB by ten runs was 11–39 % slower than
    /// on a fresh one (docs/benchmarks.md, run 11), so figures drifted with the number of runs
    /// before. A file seeded before this copy was kept is seeded again.
    pub fn restore_seeded(&self) -> anyhow::Result<()> {
        let Some(files) = &self.sqlite_files else { return Ok(()) };
        for suffix in ["", "-wal", "-shm"] {
            let mut path = files.working.clone().into_os_string();
            path.push(suffix);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        if files.as_seeded.exists() {
            std::fs::copy(&files.as_seeded, &files.working)
                .with_context(|| format!("cannot copy {}", files.as_seeded.display()))?;
        }
        Ok(())
    }

    /// SQLite: keep a copy of the database as seeding left it, if there is none yet.
    pub async fn keep_seeded(&self) -> anyhow::Result<()> {
        let Some(files) = &self.sqlite_files else { return Ok(()) };
        if files.as_seeded.exists() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.seeded).await?;
        // A consistent copy of what the connections see, whatever is still in the WAL.
        sqlx::query("VACUUM INTO $1").bind(path_str(&files.as_seeded)?).execute(&mut conn).await?;
        println!(
            "kept the seeded database as {} ({:.1} s)",
            files.as_seeded.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Databases `name` and `name_empty` on the server at `server_url` (any database in its
    /// path is replaced); the empty one is dropped and created again.
    pub async fn postgres(server_url: &str, name: &str) -> anyhow::Result<Databases> {
        let admin = sqlx::PgPool::connect(server_url).await.context("cannot connect to PostgreSQL")?;
        let empty_name = format!("{name}_empty");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{empty_name}\""))).execute(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{empty_name}\""))).execute(&admin).await?;
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&admin)
            .await?;
        if exists.is_none() {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&admin).await?;
        }
        admin.close().await;
        Ok(Databases {
            backend: Backend::Postgres,
            seeded: with_database(server_url, name)?,
            empty: with_database(server_url, &empty_name)?,
            sqlite_files: None,
        })
    }
}

/// Open `url` as the app would (default pool size) and bring its schema up to date.
pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Store> {
    let location = DatabaseLocation::parse(url)?;
    let options = ConnectOptions { max_connections, ..Default::default() };
    let store = Store::connect(&location, &options, PhoneNormalizer::default()).await?;
    store.migrate().await?;
    Ok(store)
}

/// `postgres://u@h:p/old?x` → `postgres://u@h:p/NAME?x`.
pub fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url.split_once("://").context("a PostgreSQL URL has a scheme")?;
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// A PostgreSQL cluster in `DIR/postgres`, created on first use and started for the run
/// (stopped when dropped). As root, it runs as the `postgres` user, which must exist (the Debian
/// package creates it), since PostgreSQL refuses to run as root.
pub struct LocalPostgres {
    bindir: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    pub url: String,
}

impl LocalPostgres {
    pub fn start(dir: &Path) -> anyhow::Result<LocalPostgres> {
        let bindir = postgres_bindir()?;
        let dir = std::path::absolute(dir)?;
        let root = dir.join("postgres");
        let data = root.join("data");
        let socket = root.join("sock");
        let as_postgres = rustix::process::geteuid().is_root();
        let mut cluster = LocalPostgres { bindir, data: data.clone(), as_postgres, url: String::new() };
        if !data.join("PG_VERSION").exists() {
            std::fs::create_dir_all(&socket)?;
            cluster.chown(&root)?;
            cluster
                .tool(
                    "initdb",
                    &["-D", path_str(&data)?, "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--locale=C"],
                )
                .context("initdb failed")?;
            // Durability stays at PostgreSQL's defaults; only where it listens is set (the socket
            // directory at every start, so the data directory can move).
            let conf =
                "\n# ctihub-bench\nlisten_addresses = '127.0.0.1'\nmax_connections = 200\nshared_buffers = 256MB\n";
            let mut file = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf"))?;
            std::io::Write::write_all(&mut file, conf.as_bytes())?;
        }
        std::fs::create_dir_all(&socket)?;
        let port = free_port()?;
        let log = root.join("postgres.log");
        cluster.chown(&root)?;
        cluster
            .tool(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data)?,
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    path_str(&log)?,
                    "-o",
                    &format!("-p {port} -k {}", path_str(&socket)?),
                    "start",
                ],
            )
            .with_context(|| format!("PostgreSQL did not start; see {}", log.display()))?;
        cluster.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(cluster)
    }

    fn tool(&self, name: &str, args: &[&str]) -> anyhow::Result<()> {
        let program = self.bindir.join(name);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        // initdb fails when it cannot resolve a working directory the postgres user may read.
        let status = command.args(args).current_dir("/").stdout(std::process::Stdio::null()).status()?;
        if !status.success() {
            bail!("{name} exited with {status}");
        }
        Ok(())
    }

    fn chown(&self, path: &Path) -> anyhow::Result<()> {
        if self.as_postgres {
            let status = Command::new("chown").arg("-R").arg("postgres:").arg(path).status()?;
            if !status.success() {
                bail!("cannot hand {} to the postgres user (does it exist?)", path.display());
            }
        }
        Ok(())
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if let Ok(data) = path_str(&self.data) {
            let _ = self.tool("pg_ctl", &["-D", data, "-w", "-t", "60", "-m", "fast", "stop"]);
        }
    }
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("the data directory's path must be UTF-8")
}

/// initdb and pg_ctl: from `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`.
fn postgres_bindir() -> anyhow::Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").is_file()).collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    candidates.pop().context(
        "PostgreSQL server binaries not found (apt-get install postgresql), or pass --postgres-url / --no-postgres",
    )
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Wait for a server to accept connections at `url`.
pub async fn wait_for_postgres(url: &str) -> anyhow::Result<()> {
    for _ in 0..120 {
        if let Ok(pool) = sqlx::PgPool::connect(url).await {
            pool.close().await;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("PostgreSQL at {} did not accept connections", ctihub_store::redact_url(url))
}
