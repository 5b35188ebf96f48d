//! A run's results: the machine they came from, the side-by-side table against the issue's
//! targets, and the JSON written next to it.

use crate::all::{BackendResult, Sizes};

#[derive(Debug, serde::Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    /// `/proc/loadavg` when the run ended: other work on a shared machine shows here.
    pub load_average: String,
    pub commit: String,
    pub finished_at_unix: u64,
}

impl Machine {
    pub fn now() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name").and_then(|v| v.split_once(':')).map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default();
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            load_average: read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
            commit,
            finished_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub machine: Machine,
    pub sizes: Sizes,
    pub results: Vec<BackendResult>,
}

/// One line of the table: what is measured, the target, and how to read it from a result.
struct Row {
    what: &'static str,
    target: &'static str,
    value: fn(&BackendResult) -> f64,
    unit: &'static str,
    /// `Some(limit)`: met when the value is at most (`upper`) or at least the limit.
    limit: Option<f64>,
    upper: bool,
}

const MIB: f64 = 1024.0;

fn rows() -> Vec<Row> {
    let row = |what, target, value, unit, limit, upper| Row { what, target, value, unit, limit, upper };
    vec![
        row("ingest calls/s", ">= 5000", |r: &BackendResult| r.ingest.calls_per_second, "", Some(5000.0), false),
        row("ingest events/s", ">= 15000", |r| r.ingest.events_per_second, "", Some(15000.0), false),
        row("ingest p50 per event", "", |r| r.ingest.latency.p50_ms, " ms", None, true),
        row("ingest p99 per event", "< 10 ms", |r| r.ingest.latency.p99_ms, " ms", Some(10.0), true),
        row("ingest max per event", "", |r| r.ingest.latency.max_ms, " ms", None, true),
        row("ceiling calls/s (bare {})", "", |r| r.ceiling.calls_per_second, "", None, true),
        row("ingest / ceiling", "", |r| r.ingest_fraction_of_ceiling * 100.0, " %", None, true),
        row("identify lookups/s (1 client)", "", |r| r.identify.per_second, "", None, true),
        row("identify p99", "< 1 ms", |r| r.identify.latency.p99_ms, " ms", Some(1.0), true),
        row("dip p99", "< 2 ms", |r| r.dip.latency.p99_ms, " ms", Some(2.0), true),
        row("pop p50", "", |r| r.pop.latency.p50_ms, " ms", None, true),
        row("pop p99", "< 20 ms", |r| r.pop.latency.p99_ms, " ms", Some(20.0), true),
        row("pops missed (none within 10 s)", "0", |r| r.pop.missed as f64, "", Some(0.5), true),
        row("journal 300 rows p50", "", |r| r.journal.latency.p50_ms, " ms", None, true),
        row("journal 300 rows p99", "< 20 ms", |r| r.journal.latency.p99_ms, " ms", Some(20.0), true),
        row("RSS idle", "", |r| r.memory.idle.rss_kib as f64 / MIB, " MiB", None, true),
        row("RSS with users", "< 150 MB", |r| r.memory.with_users.rss_kib as f64 / MIB, " MiB", Some(143.05), true),
        row("RSS after ingest", "", |r| r.memory.after_ingest.rss_kib as f64 / MIB, " MiB", None, true),
        row(
            "RSS with consoles",
            "< 300 MB",
            |r| r.memory.with_consoles.rss_kib as f64 / MIB,
            " MiB",
            Some(286.1),
            true,
        ),
    ]
}

impl Report {
    pub fn new(sizes: Sizes, results: Vec<BackendResult>) -> Report {
        Report { machine: Machine::now(), sizes, results }
    }

    /// Markdown: one column per backend, each value marked against its target.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} users, {} agents, {} consoles for pops, {} for memory, {} PBX clients; {} ({} cores), load {}\n\n",
            self.sizes.users,
            self.sizes.agents,
            self.sizes.consoles,
            self.sizes.memory_consoles,
            self.sizes.clients,
            self.machine.cpu,
            self.machine.cores,
            self.machine.load_average
        );
        out.push_str("| measurement | target |");
        for r in &self.results {
            out.push_str(&format!(" {} |", r.backend.name()));
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---|".repeat(self.results.len()));
        for row in rows() {
            out.push_str(&format!("\n| {} | {} |", row.what, row.target));
            for r in &self.results {
                let value = (row.value)(r);
                let mark = match row.limit {
                    Some(limit) if (row.upper && value < limit) || (!row.upper && value >= limit) => " ✓",
                    Some(_) => " ✗",
                    None => "",
                };
                let digits = if value >= 100.0 {
                    0
                } else if value >= 10.0 {
                    1
                } else {
                    3
                };
                out.push_str(&format!(" {value:.digits$}{}{mark} |", row.unit));
            }
        }
        out.push_str("\n\nMemory targets in MB (10^6 bytes): 150 MB = 143.1 MiB, 300 MB = 286.1 MiB.\n");
        out
    }
}
