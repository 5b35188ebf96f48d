//! Servers under test as separate processes: the real `ctihub serve` binary and the bare hyper
//! handler of the ceiling measurement. A separate process is what makes a resident-size reading
//! honest (the harness's own clients and buffers are not counted) and puts client and server on
//! the machine's cores the way a PBX and ctihub would share them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A child process serving HTTP on 127.0.0.1; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl ServerProcess {
    /// `ctihub serve` on `database` (an `sqlite://` or `postgres://` URL), on a free port.
    pub fn ctihub(binary: &Path, database: &str, log: &Path) -> anyhow::Result<ServerProcess> {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database-url")
            .arg(database)
            // The load comes from one client on one address with one push token: lift every
            // budget, or the rate limits would be what is measured.
            .env("CTIHUB_API_RATE_LIMIT", u32::MAX.to_string())
            .env("CTIHUB_PUSH_RATE_LIMIT", u32::MAX.to_string())
            .env("CTIHUB_ADDRESS_RATE_LIMIT", u32::MAX.to_string())
            .env_remove("CTIHUB_DATABASE_URL")
            .env_remove("CTIHUB_DATA_DIR");
        ServerProcess::start(command, "ctihub listening on http://", log)
    }

    /// This harness's own `bare-server` subcommand.
    pub fn bare(log: &Path) -> anyhow::Result<ServerProcess> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("bare-server");
        ServerProcess::start(command, "bare server listening on http://", log)
    }

    /// Start `command` and wait for the line `banner` + `ADDR…` on its standard output. The rest
    /// of its output goes to `log`.
    fn start(mut command: Command, banner: &str, log: &Path) -> anyhow::Result<ServerProcess> {
        let log_file = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        command.stdout(Stdio::piped()).stderr(log_file).stdin(Stdio::null());
        let mut child = command.spawn().with_context(|| format!("cannot start {:?}", command.get_program()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (found, address) = std::sync::mpsc::channel();
        let banner = banner.to_owned();
        // Reads the banner, then keeps draining so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(rest) = line.strip_prefix(&banner) {
                    let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = found.send(addr);
                    sent = true;
                }
            }
        });
        let mut server = ServerProcess { child, base: String::new() };
        match address.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) if addr.starts_with("127.0.0.1:") => server.base = format!("http://{addr}"),
            Ok(addr) => bail!("the server listens on {addr}, not on 127.0.0.1"),
            Err(_) => bail!("the server did not start within 120 s; see {}", log.display()),
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident and peak resident size now, from `/proc/PID/status`.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        Memory::of(self.pid())
    }

    /// Wait until `/healthz` answers (the banner comes after migrating, so this is quick).
    pub async fn ready(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} did not answer /healthz within 30 s", self.base);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's memory, in KiB.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

impl Memory {
    pub fn of(pid: u32) -> anyhow::Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok(Memory { rss_kib: field("VmRSS:")?, peak_rss_kib: field("VmHWM:")? })
    }

    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}

/// `target/release/ctihub` next to this harness's binary, unless given.
pub fn ctihub_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("ctihub"),
    };
    if !path.is_file() {
        bail!("{} not found: build it (cargo build --release -p ctihub-cli) or pass --ctihub", path.display());
    }
    Ok(path)
}

/// Let this process (and the servers it starts, which inherit the limit) hold as many sockets
/// as the hard limit allows: 10,000 consoles need 10,000 descriptors on each side.
pub fn raise_open_files_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            eprintln!("cannot raise the open-files limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}
