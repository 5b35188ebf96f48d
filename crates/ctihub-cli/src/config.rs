//! Settings in layers: built-in defaults < `ctihub.toml` < `CTIHUB_*` environment < flags.
//!
//! figment merges the layers and remembers which layer each value came from, so a bad value is
//! reported with its origin ("from environment variable CTIHUB_DEFAULT_REGION", "in ctihub.toml").
//! The environment and flag layers are our own small providers rather than figment's `Env`,
//! because `Env` parses values (`8080` becomes a number, `[::]:8080` looks like an array) and we
//! want every value as the text the operator wrote. Loading takes the environment as a
//! parameter, so the layering is unit-tested without touching the process environment.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use ctihub_domain::phone::Region;
use ctihub_store::{DatabaseLocation, redact_url};
use ctihub_web::client::IpNet;
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::Deserialize;

/// The file read from the working directory when `--config` / `CTIHUB_CONFIG` name none.
pub const DEFAULT_FILE: &str = "ctihub.toml";

/// Every configuration key, with its default. `None`: unset unless configured.
pub const KEYS: &[(&str, Option<&str>)] = &[
    ("listen", Some("127.0.0.1:8080")),
    ("data_dir", Some("./ctihub-data")),
    ("database_url", None),
    ("default_region", Some("US")),
    ("log_format", Some("text")),
    ("api_rate_limit", Some("700")),
    ("push_rate_limit", Some("6000")),
    ("address_rate_limit", Some("6000")),
    ("trusted_proxies", None),
    ("public_url", None),
    ("worker_threads", Some("auto")),
];

/// Environment variables with our prefix that are not configuration keys, so the misspelling
/// check leaves them alone. `CTIHUB_TEST_*` belong to the test suites.
const OTHER_VARIABLES: &[&str] = &["CTIHUB_CONFIG"];
const IGNORED_PREFIXES: &[&str] = &["CTIHUB_TEST_"];

pub fn env_name(key: &str) -> String {
    format!("CTIHUB_{}", key.to_ascii_uppercase())
}

pub fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// Values given on the command line; `None` leaves the lower layers in charge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    pub default_region: Option<String>,
}

impl Overrides {
    fn values(&self) -> Vec<(&'static str, String)> {
        [
            ("listen", &self.listen),
            ("data_dir", &self.data_dir),
            ("database_url", &self.database_url),
            ("default_region", &self.default_region),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.clone().map(|v| (key, v)))
        .collect()
    }
}

/// Where the settings come from. [`Sources::from_process`] reads the real environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config` or `CTIHUB_CONFIG`: must exist.
    pub explicit_file: Option<PathBuf>,
    /// Read only if it exists (normally `ctihub.toml` in the working directory).
    pub default_file: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub flags: Overrides,
}

impl Sources {
    pub fn from_process(explicit_file: Option<PathBuf>, flags: Overrides) -> Self {
        // Non-UTF-8 variables cannot be ours; skipping them beats failing on someone else's.
        let env =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Sources { explicit_file, default_file: Some(PathBuf::from(DEFAULT_FILE)), env, flags }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line per event, for terminals and journald.
    Text,
    /// Like `text`, shorter.
    Compact,
    /// Several lines per event with fields spelled out, for development.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "compact" => Ok(LogFormat::Compact),
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected one of text, compact, pretty, json".into()),
        }
    }
}

/// Checked settings: everything here is usable as is.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST:PORT`; a host name is resolved when binding.
    pub listen: String,
    pub data_dir: PathBuf,
    /// Set when `database_url` is configured; otherwise the database is a file in `data_dir`.
    pub database_url: Option<String>,
    pub database: DatabaseLocation,
    pub default_region: Region,
    pub log_format: LogFormat,
    /// API requests per minute per credential (Authorization header) on each node.
    pub api_rate_limit: u32,
    /// Pushes per minute per push-URL token (Zammad generic CTI, sipgate, placetel) on each node.
    pub push_rate_limit: u32,
    /// Requests per minute per client address on each node.
    pub address_rate_limit: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or CIDR networks).
    pub trusted_proxies: Vec<IpNet>,
    /// Where browsers reach the server; an https URL makes cookies `Secure` always.
    pub public_url: Option<String>,
    /// Threads of the server's runtime that handle requests (`crate::runtime`).
    pub worker_threads: WorkerThreads,
}

/// How many threads handle requests: chosen from the cores and the backend, or a fixed count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerThreads {
    Auto,
    Fixed(NonZeroUsize),
}

impl WorkerThreads {
    /// More than this is a typo, not a machine: each thread reserves a stack.
    const MAX: usize = 1024;

    fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(WorkerThreads::Auto);
        }
        s.parse::<usize>()
            .ok()
            .filter(|n| *n <= Self::MAX)
            .and_then(NonZeroUsize::new)
            .map(WorkerThreads::Fixed)
            .ok_or_else(|| format!("expected auto or a whole number of threads from 1 to {}", Self::MAX))
    }
}

impl Settings {
    /// The URL `ctihub healthcheck` probes by default: the listen address, with a wildcard host
    /// replaced by loopback because nothing can connect to `0.0.0.0`.
    pub fn local_url(&self) -> String {
        match self.listen.parse::<SocketAddr>() {
            Ok(addr) => {
                let ip = match addr.ip() {
                    IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    ip => ip,
                };
                format!("http://{}", SocketAddr::new(ip, addr.port()))
            }
            Err(_) => format!("http://{}", self.listen),
        }
    }
}

/// The outcome of loading: settings, plus warnings to log once logging is set up (it is itself
/// configured by these settings).
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub warnings: Vec<String>,
}

/// Every key as text; checked afterwards so a failure can name the layer it came from.
#[derive(Deserialize)]
struct Raw {
    listen: String,
    data_dir: String,
    database_url: Option<String>,
    default_region: String,
    log_format: String,
    api_rate_limit: String,
    push_rate_limit: String,
    address_rate_limit: String,
    trusted_proxies: Option<String>,
    public_url: Option<String>,
    worker_threads: String,
}

/// A layer of plain string values with its own name for error messages.
struct Layer {
    metadata: Metadata,
    values: Vec<(&'static str, String)>,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict: Dict = self.values.iter().map(|(k, v)| ((*k).to_owned(), Value::from(v.clone()))).collect();
        Ok(Profile::Default.collect(dict))
    }
}

fn defaults_layer() -> Layer {
    Layer {
        metadata: Metadata::named("built-in default").interpolater(|_: &Profile, keys: &[&str]| keys.join(".")),
        values: KEYS.iter().filter_map(|(k, v)| v.map(|v| (*k, v.to_owned()))).collect(),
    }
}

fn env_layer(env: &[(String, String)]) -> Layer {
    // An empty variable counts as unset: `CTIHUB_DATABASE_URL=` in a compose file or unit means
    // "nothing here", not "an empty URL".
    let values = KEYS
        .iter()
        .filter_map(|(key, _)| {
            let name = env_name(key);
            let value = env.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.trim().to_owned())?;
            (!value.is_empty()).then_some((*key, value))
        })
        .collect();
    Layer {
        metadata: Metadata::named("environment variable")
            .interpolater(|_: &Profile, keys: &[&str]| env_name(&keys.join("_"))),
        values,
    }
}

fn flags_layer(flags: &Overrides) -> Layer {
    Layer {
        metadata: Metadata::named("command-line flag")
            .interpolater(|_: &Profile, keys: &[&str]| flag_name(&keys.join("_"))),
        values: flags.values(),
    }
}

/// Read the TOML layer, refusing keys we do not know: a misspelled key would otherwise be
/// ignored and the operator would wonder why the setting has no effect.
fn file_layer(path: &Path) -> anyhow::Result<Figment> {
    let provider = Toml::file_exact(path);
    let data = provider.data().map_err(|e| anyhow!("{}: {}", path.display(), e.kind))?;
    for (_, dict) in data {
        for key in dict.keys() {
            if !KEYS.iter().any(|(k, _)| k == key) {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                let hint = suggestion(key, known.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                bail!("{}: unknown key `{key}`{hint}; known keys are {}", path.display(), known.join(", "));
            }
        }
    }
    Ok(Figment::from(provider))
}

/// Where the value of `key` came from, for messages: "in ctihub.toml", "from environment
/// variable CTIHUB_LISTEN", "from command-line flag --listen".
fn origin(metadata: Option<&Metadata>, profile: &Profile, key: &str) -> String {
    match metadata {
        Some(md) => match &md.source {
            Some(Source::File(path)) => format!("in {}", path.display()),
            _ => format!("from {} {}", md.name, md.interpolate(profile, &[key])),
        },
        None => "from an unknown source".into(),
    }
}

pub fn load(sources: &Sources) -> anyhow::Result<Loaded> {
    let mut figment = Figment::from(defaults_layer());
    let file = match (&sources.explicit_file, &sources.default_file) {
        (Some(path), _) => {
            // A file named on purpose and missing is a mistake; carrying on with defaults would
            // start a server with none of the intended settings.
            if !path.is_file() {
                bail!("config file {} does not exist", path.display());
            }
            Some(path)
        }
        (None, Some(path)) if path.is_file() => Some(path),
        _ => None,
    };
    if let Some(path) = file {
        figment = figment.merge(file_layer(path)?);
    }
    figment = figment.merge(env_layer(&sources.env)).merge(flags_layer(&sources.flags));

    let profile = figment.profile().clone();
    let raw: Raw = figment.extract().map_err(|errors| {
        let lines: Vec<String> = errors
            .into_iter()
            .map(|e| {
                let key = e.path.join(".");
                format!("invalid {key} ({}): {}", origin(e.metadata.as_ref(), &profile, &key), e.kind)
            })
            .collect();
        anyhow!(lines.join("\n"))
    })?;
    let invalid = |key: &str, value: &str, reason: String| -> anyhow::Error {
        anyhow!("invalid {key} {value:?} ({}): {reason}", origin(figment.find_metadata(key), &profile, key))
    };

    let listen = raw.listen.trim().to_owned();
    check_listen(&listen).map_err(|reason| invalid("listen", &raw.listen, reason))?;
    let data_dir = raw.data_dir.trim();
    if data_dir.is_empty() {
        return Err(invalid("data_dir", &raw.data_dir, "must not be empty".into()));
    }
    let data_dir = PathBuf::from(data_dir);
    let database_url = raw.database_url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let database = match &database_url {
        Some(url) => {
            DatabaseLocation::parse(url).map_err(|e| invalid("database_url", &redact_url(url), e.to_string()))?
        }
        None => DatabaseLocation::in_data_dir(&data_dir),
    };
    let default_region =
        Region::parse(&raw.default_region).map_err(|e| invalid("default_region", &raw.default_region, e.message))?;
    let log_format = LogFormat::parse(&raw.log_format).map_err(|r| invalid("log_format", &raw.log_format, r))?;
    let per_minute = |key: &str, value: &str| {
        value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid(key, value, "must be a whole number of requests per minute, at least 1".into()))
    };
    let api_rate_limit = per_minute("api_rate_limit", &raw.api_rate_limit)?;
    let push_rate_limit = per_minute("push_rate_limit", &raw.push_rate_limit)?;
    let address_rate_limit = per_minute("address_rate_limit", &raw.address_rate_limit)?;
    let trusted_proxies = match raw.trusted_proxies.as_deref() {
        Some(list) => list
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(IpNet::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| invalid("trusted_proxies", list, reason))?,
        None => Vec::new(),
    };
    let public_url = raw.public_url.map(|u| u.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
    if let Some(url) = &public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(invalid("public_url", url, "must start with https:// or http://".into()));
    }
    let worker_threads =
        WorkerThreads::parse(&raw.worker_threads).map_err(|r| invalid("worker_threads", &raw.worker_threads, r))?;

    Ok(Loaded {
        settings: Settings {
            listen,
            data_dir,
            database_url,
            database,
            default_region,
            log_format,
            api_rate_limit,
            push_rate_limit,
            address_rate_limit,
            trusted_proxies,
            public_url,
            worker_threads,
        },
        warnings: unknown_variables(&sources.env),
    })
}

/// Load from the real process environment and the working directory.
pub fn load_from_process(explicit_file: Option<PathBuf>, flags: Overrides) -> anyhow::Result<Loaded> {
    load(&Sources::from_process(explicit_file, flags))
}

fn check_listen(listen: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected HOST:PORT such as 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080";
    if listen.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    match listen.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && port.parse::<u16>().is_ok()
                && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
        {
            Ok(())
        }
        _ => Err(EXPECTED.into()),
    }
}

/// `CTIHUB_*` variables that configure nothing: almost always a typo that would otherwise
/// silently leave a setting at its default.
fn unknown_variables(env: &[(String, String)]) -> Vec<String> {
    let known: Vec<String> = KEYS.iter().map(|(k, _)| env_name(k)).collect();
    let mut names: Vec<&str> = env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("CTIHUB_"))
        .filter(|k| !known.iter().any(|n| n == k) && !OTHER_VARIABLES.contains(k))
        .filter(|k| !IGNORED_PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let candidates = known.iter().map(String::as_str).chain(OTHER_VARIABLES.iter().copied());
            match suggestion(name, candidates) {
                Some(s) => format!("ignoring unknown environment variable {name} (did you mean {s}?)"),
                None => format!("ignoring unknown environment variable {name}"),
            }
        })
        .collect()
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
fn suggestion<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates.map(|c| (edit_distance(word, c), c)).filter(|(d, _)| *d <= 3).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

/// Optimal string alignment distance: like Levenshtein, but a swap of neighbours (`LISTNE`)
/// counts as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn toml(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("ctihub.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn error(sources: &Sources) -> String {
        format!("{:#}", load(sources).expect_err("configuration should be rejected"))
    }

    #[test]
    fn zero_config_gives_the_documented_defaults() {
        let loaded = load(&Sources::default()).unwrap();
        let s = &loaded.settings;
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./ctihub-data"));
        assert_eq!(s.database, DatabaseLocation::SqliteFile(PathBuf::from("./ctihub-data/ctihub.sqlite3")));
        assert_eq!(s.database_url, None);
        assert_eq!(s.default_region.code(), "US");
        assert_eq!(s.log_format, LogFormat::Text);
        assert!(loaded.warnings.is_empty());
        assert_eq!(s.local_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn each_layer_overrides_the_one_below() {
        let dir = tempfile::tempdir().unwrap();
        let file = toml(
            &dir,
            "listen = \"127.0.0.1:1001\"\ndata_dir = \"file-dir\"\ndefault_region = \"DE\"\nlog_format = \"json\"\n",
        );
        let mut sources = Sources { explicit_file: Some(file), ..Default::default() };
        let s = load(&sources).unwrap().settings;
        assert_eq!(s.listen, "127.0.0.1:1001");
        assert_eq!(s.data_dir, PathBuf::from("file-dir"));
        assert_eq!(s.default_region.code(), "DE");
        assert_eq!(s.log_format, LogFormat::Json);

        sources.env = env(&[("CTIHUB_LISTEN", "127.0.0.1:1002"), ("CTIHUB_DATA_DIR", "env-dir")]);
        let s = load(&sources).unwrap().settings;
        assert_eq!(s.listen, "127.0.0.1:1002");
        assert_eq!(s.data_dir, PathBuf::from("env-dir"));
        assert_eq!(s.default_region.code(), "DE", "keys the environment does not set keep the file's value");

        sources.flags = Overrides { listen: Some("127.0.0.1:1003".into()), ..Default::default() };
        let s = load(&sources).unwrap().settings;
        assert_eq!(s.listen, "127.0.0.1:1003");
        assert_eq!(s.data_dir, PathBuf::from("env-dir"));
    }

    #[test]
    fn the_default_file_is_read_only_when_present() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Sources { default_file: Some(dir.path().join("ctihub.toml")), ..Default::default() };
        assert_eq!(load(&missing).unwrap().settings.listen, "127.0.0.1:8080");
        toml(&dir, "listen = \"0.0.0.0:9000\"\n");
        let s = load(&missing).unwrap().settings;
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.local_url(), "http://127.0.0.1:9000");
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        let message = error(&Sources { explicit_file: Some(path.clone()), ..Default::default() });
        assert!(message.contains(&path.display().to_string()) && message.contains("does not exist"), "{message}");
    }

    #[test]
    fn a_bad_value_names_the_environment_variable() {
        let sources = Sources { env: env(&[("CTIHUB_DEFAULT_REGION", "XX")]), ..Default::default() };
        let message = error(&sources);
        assert!(
            message.starts_with("invalid default_region \"XX\" (from environment variable CTIHUB_DEFAULT_REGION): "),
            "{message}"
        );
    }

    #[test]
    fn a_bad_value_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = toml(&dir, "log_format = \"xml\"\n");
        let message = error(&Sources { explicit_file: Some(file.clone()), ..Default::default() });
        assert_eq!(
            message,
            format!("invalid log_format \"xml\" (in {}): expected one of text, compact, pretty, json", file.display())
        );
    }

    #[test]
    fn security_settings_are_read_and_checked() {
        let defaults = load(&Sources::default()).unwrap().settings;
        assert_eq!((defaults.api_rate_limit, defaults.push_rate_limit, defaults.address_rate_limit), (700, 6000, 6000));
        assert!(defaults.trusted_proxies.is_empty() && defaults.public_url.is_none());

        let env = env(&[
            ("CTIHUB_TRUSTED_PROXIES", "10.0.0.1, 172.16.0.0/12"),
            ("CTIHUB_PUBLIC_URL", "https://cti.example.com/"),
            ("CTIHUB_ADDRESS_RATE_LIMIT", "120"),
        ]);
        let s = load(&Sources { env, ..Default::default() }).unwrap().settings;
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(s.trusted_proxies[1].contains("172.20.1.2".parse().unwrap()));
        assert_eq!(s.public_url.as_deref(), Some("https://cti.example.com"));
        assert_eq!(s.address_rate_limit, 120);

        let message = error(&Sources { env: env_pairs("CTIHUB_TRUSTED_PROXIES", "proxy.local"), ..Default::default() });
        assert!(message.starts_with("invalid trusted_proxies \"proxy.local\" (from environment variable"), "{message}");
        let message = error(&Sources { env: env_pairs("CTIHUB_PUBLIC_URL", "cti.example.com"), ..Default::default() });
        assert!(message.contains("must start with https:// or http://"), "{message}");
        let message = error(&Sources { env: env_pairs("CTIHUB_PUSH_RATE_LIMIT", "0"), ..Default::default() });
        assert!(message.starts_with("invalid push_rate_limit \"0\""), "{message}");
    }

    #[test]
    fn worker_threads_are_auto_or_a_count() {
        assert_eq!(load(&Sources::default()).unwrap().settings.worker_threads, WorkerThreads::Auto);
        let threads = |value: &str| {
            load(&Sources { env: env_pairs("CTIHUB_WORKER_THREADS", value), ..Default::default() })
                .map(|loaded| loaded.settings.worker_threads)
        };
        assert_eq!(threads("AUTO").unwrap(), WorkerThreads::Auto);
        assert_eq!(threads(" 3 ").unwrap(), WorkerThreads::Fixed(NonZeroUsize::new(3).unwrap()));
        assert_eq!(threads("1024").unwrap(), WorkerThreads::Fixed(NonZeroUsize::new(1024).unwrap()));
        for bad in ["0", "-1", "1025", "two", "1.5"] {
            let message = format!("{:#}", threads(bad).expect_err(bad));
            assert!(
                message.starts_with(&format!(
                    "invalid worker_threads {bad:?} (from environment variable CTIHUB_WORKER_THREADS): expected auto or"
                )),
                "{message}"
            );
        }
    }

    fn env_pairs(key: &str, value: &str) -> Vec<(String, String)> {
        env(&[(key, value)])
    }

    #[test]
    fn a_bad_value_names_the_flag() {
        let flags = Overrides { listen: Some("localhost".into()), ..Default::default() };
        let message = error(&Sources { flags, ..Default::default() });
        assert!(message.starts_with("invalid listen \"localhost\" (from command-line flag --listen): "), "{message}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = toml(&dir, "listen = 8080\n");
        let message = error(&Sources { explicit_file: Some(file.clone()), ..Default::default() });
        assert!(message.starts_with("invalid listen (in "), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
    }

    #[test]
    fn unknown_keys_and_syntax_errors_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = toml(&dir, "listen = \"127.0.0.1:8080\"\ndata-dir = \"x\"\n");
        let message = error(&Sources { explicit_file: Some(file.clone()), ..Default::default() });
        assert!(message.contains("unknown key `data-dir` (did you mean `data_dir`?)"), "{message}");
        assert!(message.starts_with(&file.display().to_string()), "{message}");

        let file = toml(&dir, "listen = \n");
        let message = error(&Sources { explicit_file: Some(file.clone()), ..Default::default() });
        assert!(message.starts_with(&format!("{}: ", file.display())), "{message}");
    }

    #[test]
    fn a_database_url_replaces_the_file_in_the_data_dir() {
        let sources = Sources {
            env: env(&[("CTIHUB_DATABASE_URL", "postgres://ctihub:s3cret@db/ctihub")]),
            ..Default::default()
        };
        let s = load(&sources).unwrap().settings;
        assert_eq!(s.database, DatabaseLocation::Postgres("postgres://ctihub:s3cret@db/ctihub".into()));

        let bad = Sources { env: env(&[("CTIHUB_DATABASE_URL", "mysql://root:s3cret@db/x")]), ..Default::default() };
        let message = error(&bad);
        assert!(message.contains("CTIHUB_DATABASE_URL") && !message.contains("s3cret"), "{message}");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let sources =
            Sources { env: env(&[("CTIHUB_DATABASE_URL", ""), ("CTIHUB_LISTEN", " ")]), ..Default::default() };
        let s = load(&sources).unwrap().settings;
        assert_eq!(s.database_url, None);
        assert_eq!(s.listen, "127.0.0.1:8080");
    }

    #[test]
    fn misspelled_variables_are_reported_and_ours_are_not() {
        let sources = Sources {
            env: env(&[
                ("CTIHUB_LISTNE", "127.0.0.1:1"),
                ("CTIHUB_FOO", "x"),
                ("CTIHUB_CONFIG", "x.toml"),
                ("CTIHUB_TEST_DATABASE_URL", "postgres://x"),
                ("CTIHUB_LOG_FORMAT", "json"),
                ("PATH", "/bin"),
            ]),
            ..Default::default()
        };
        let loaded = load(&sources).unwrap();
        assert_eq!(
            loaded.warnings,
            vec![
                "ignoring unknown environment variable CTIHUB_FOO".to_owned(),
                "ignoring unknown environment variable CTIHUB_LISTNE (did you mean CTIHUB_LISTEN?)".to_owned(),
            ]
        );
        assert_eq!(loaded.settings.listen, "127.0.0.1:8080");
    }

    #[test]
    fn listen_addresses() {
        for ok in ["127.0.0.1:8080", "[::]:80", "localhost:8080", "ctihub.internal:443"] {
            assert!(check_listen(ok).is_ok(), "{ok}");
        }
        for bad in ["8080", "localhost", ":8080", "127.0.0.1:99999", "a b:80"] {
            assert!(check_listen(bad).is_err(), "{bad}");
        }
        let settings = |listen: &str| Settings { listen: listen.into(), ..load(&Sources::default()).unwrap().settings };
        assert_eq!(settings("[::]:8080").local_url(), "http://[::1]:8080");
        assert_eq!(settings("localhost:9").local_url(), "http://localhost:9");
    }
}
