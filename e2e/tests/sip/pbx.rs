//! One test case's world: a live ctihub (in-process, on a fresh SQLite database) with the people
//! and CTI settings the cases need, and Debian's kamailio running `kamailio.cfg` as the PBX in
//! front of it. Everything listens on 127.0.0.1 on ports picked free for the case, and lives in
//! the case's own directory; kamailio's whole process group is stopped when the case ends.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ctihub_domain::call::Call;
use ctihub_domain::cti::{BlockedCaller, Route};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{Email, NewUser, Role, User, UserPatch};
use ctihub_store::testing::{TestStore, fresh_sqlite_store};
use ctihub_web::AppState;
use ctihub_web::auth::secrets;

use crate::phones::{Answer, Caller, Dial, Sipp, callee_scenario, caller_scenario, tail};

const KAMAILIO: &str = "/usr/sbin/kamailio";
const KAMAILIO_CFG: &str = include_str!("kamailio.cfg");
const PUSH_TOKEN: &str = "sip-e2e-push-token-0123456789";

/// The company number inbound calls dial, and the agent's extension its phone answers as.
pub const DID: &str = "4930600000000";
pub const AGENT_EXT: &str = "201";
pub const AGENT_NAME: &str = "Dana Desk";
/// A caller on the block list.
pub const BLOCKED: &str = "+4930666000666";
/// Outbound calls to `4989…` present this number (the routing table's one row).
pub const MUNICH_CALLER_ID: &str = "4930600000777";

/// `N` distinct ports nobody on 127.0.0.1 uses right now (UDP: SIP and RTP here are UDP only),
/// none of them in `avoid` (ports this case chose earlier that are not bound at the moment).
/// The sockets are held until all are chosen, so the kernel cannot hand out one port twice.
pub fn free_udp_ports<const N: usize>(avoid: &[u16]) -> [u16; N] {
    for _ in 0..20 {
        let sockets: Vec<UdpSocket> = (0..N).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        let ports: Vec<u16> = sockets.iter().map(|s| s.local_addr().unwrap().port()).collect();
        if ports.iter().all(|p| !avoid.contains(p)) {
            return ports.try_into().unwrap();
        }
    }
    panic!("no {N} free UDP ports outside {avoid:?} in 20 tries");
}

/// The case directory: kept under target/ so traces survive a failure for reading.
fn case_dir(case: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("e2e-sip").join(case);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// kamailio in the foreground (`-DD`) in a process group of its own, so that stopping the
/// group stops its workers too.
struct Kamailio {
    child: Child,
    dir: PathBuf,
}

impl Kamailio {
    fn start(dir: &Path, config: &str, sip_port: u16) -> Kamailio {
        assert!(
            Path::new(KAMAILIO).exists(),
            "the SIP suite needs kamailio: run `apt-get install kamailio kamailio-utils-modules` (missing {KAMAILIO})"
        );
        let cfg = dir.join("kamailio.cfg");
        std::fs::write(&cfg, config).unwrap();
        let run = dir.join("run");
        std::fs::create_dir_all(&run).unwrap();
        let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
        use std::os::unix::process::CommandExt;
        let child = Command::new(KAMAILIO)
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-m", "32", "-M", "8"])
            .arg("-P")
            .arg(run.join("kamailio.pid"))
            .arg("-Y")
            .arg(&run)
            .arg("-w")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {KAMAILIO}: {e}"));
        let mut kamailio = Kamailio { child, dir: dir.to_owned() };
        kamailio.wait_until_it_answers(sip_port);
        kamailio
    }

    /// Ready means it answers SIP: an OPTIONS gets a reply (405 from this configuration).
    fn wait_until_it_answers(&mut self, sip_port: u16) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let local = socket.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        for attempt in 0.. {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("kamailio exited at start ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "kamailio did not answer on 127.0.0.1:{sip_port} within 15 s:\n{}",
                self.log()
            );
            let options = format!(
                "OPTIONS sip:ping@127.0.0.1:{sip_port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ping{attempt}\r\n\
                 From: <sip:ping@{local}>;tag=ping\r\nTo: <sip:ping@127.0.0.1:{sip_port}>\r\nCall-ID: ping-{attempt}@{local}\r\n\
                 CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            );
            socket.send_to(options.as_bytes(), ("127.0.0.1", sip_port)).unwrap();
            let mut buf = [0u8; 2048];
            if let Ok(n) = socket.recv(&mut buf)
                && buf[..n].starts_with(b"SIP/2.0 ")
            {
                return;
            }
        }
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default();
        tail(&text, 4000).to_owned()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        // SIGTERM lets the main process stop its workers; SIGKILL to the group catches any left.
        let _ = Command::new("/bin/sh").args(["-c", &format!("kill -TERM {group}")]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("/bin/sh").args(["-c", &format!("kill -KILL {group} 2>/dev/null")]).status();
        let _ = self.child.try_wait();
    }
}

/// Fields drop in order: kamailio stops first, while ctihub can still take its last events.
pub struct Pbx {
    kamailio: Kamailio,
    pub db: TestStore,
    pub agent: User,
    pub erika: User,
    pub max: User,
    /// Dana's API token, to read the journal as Zammad-side scripts do.
    token: String,
    pub http: reqwest::Client,
    pub base: String,
    pub dir: PathBuf,
    pub sip_port: u16,
    /// Where the agent's phone (inbound) and the carrier trunk (outbound) are reached.
    pub phone_port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Pbx {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Pbx {
    /// ctihub with its people and CTI settings, and kamailio in front of it.
    pub async fn start(case: &str, ring_timeout_ms: u64) -> Pbx {
        let dir = case_dir(case);
        let db = fresh_sqlite_store("DE").await;
        let store = &db.store;

        let mut agent = NewUser::new(Role::Agent, AGENT_NAME);
        agent.email = Some(Email::parse("dana@example.com").unwrap());
        let agent = store.create_user(agent).await.unwrap();
        let agent = store
            .update_user(agent.id, UserPatch { extension: Some(Some(AGENT_EXT.into())), ..Default::default() })
            .await
            .unwrap();
        let token = secrets::generate_token();
        store.create_api_token(agent.id, Some("journal"), &secrets::hash_token(&token)).await.unwrap();
        let mut erika = NewUser::new(Role::EndUser, "Erika Mustermann");
        erika.phones = vec![(PhoneKind::Phone, "030 55571600".into())];
        let erika = store.create_user(erika).await.unwrap();
        let mut max = NewUser::new(Role::EndUser, "Max Muster");
        max.phones = vec![(PhoneKind::Work, "089 123456".into())];
        let max = store.create_user(max).await.unwrap();

        let mut config = ctihub_web::cti::load_config(store).await.unwrap();
        config.enabled = true;
        config.token = Some(PUSH_TOKEN.into());
        config.inbound.block_caller_ids.push(BlockedCaller { caller_id: BLOCKED.into(), note: "keeps calling".into() });
        config.outbound.routing_table.push(Route {
            dest: "4989*".into(),
            caller_id: MUNICH_CALLER_ID.into(),
            note: "Munich customers see the Munich line".into(),
        });
        ctihub_web::cti::save_config(store, &config).await.unwrap();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(db.another_node().await);
        let server = tokio::spawn(async move {
            ctihub_web::serve(listener, state, std::future::pending()).await.unwrap();
        });

        let [sip_port, phone_port] = free_udp_ports(&[]);
        let config = render_kamailio_cfg(&[
            ("LISTEN", format!("udp:127.0.0.1:{sip_port}")),
            ("HOSTPORT", format!("127.0.0.1:{sip_port}")),
            ("PUSH_URL", format!("{base}{}", ctihub_web::cti::push_path(PUSH_TOKEN))),
            ("DID", DID.into()),
            ("AGENT_EXT", AGENT_EXT.into()),
            ("AGENT_HOSTPORT", format!("127.0.0.1:{phone_port}")),
            // Agents' phones are the three-digit extensions 2xx.
            ("OUTBOUND_FROM_RE", r"^2[0-9][0-9]$$".into()),
            ("TRUNK_HOSTPORT", format!("127.0.0.1:{phone_port}")),
            ("RING_TIMEOUT_MS", ring_timeout_ms.to_string()),
        ]);
        let kamailio = Kamailio::start(&dir, &config, sip_port);
        Pbx {
            db,
            agent,
            erika,
            max,
            token,
            http: reqwest::Client::new(),
            base,
            dir,
            sip_port,
            phone_port,
            kamailio,
            server,
        }
    }

    /// One call: the called phone (when there is one) waits on the phone port, the caller dials
    /// through kamailio; both must run their scenario to the end. Returns the SIP Call-ID.
    pub async fn call(&self, case: &str, caller: &Caller, dial: &Dial, answer: Option<&Answer>) -> String {
        let call_id = format!("{case}-%u@ctihub-e2e");
        let [phone_media, caller_port, caller_media] = free_udp_ports(&[self.sip_port, self.phone_port]);
        let callee = answer.map(|answer| {
            let scenario = callee_scenario(answer);
            let sipp = Sipp::start(&self.dir, "phone", &scenario, self.phone_port, phone_media, None, "unused");
            (sipp, self.wait_until_bound(self.phone_port))
        });
        let scenario = caller_scenario(case, caller, dial);
        let calling =
            Sipp::start(&self.dir, "caller", &scenario, caller_port, caller_media, Some(self.sip_port), &call_id);
        calling.finish().await;
        if let Some((callee, ())) = callee {
            callee.finish().await;
        }
        call_id.replace("%u", "1")
    }

    /// sipp has bound its port once we can no longer bind it ourselves.
    fn wait_until_bound(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(Instant::now() < deadline, "sipp did not bind 127.0.0.1:{port} within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The call as ctihub stored it, once its hangup is in (kamailio posts it before passing
    /// on the final response, so this is normally at once).
    pub async fn ended_call(&self, call_id: &str) -> Call {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let call = self.db.store.find_call_by_ref("zammad", call_id).await.unwrap();
            if let Some(call) = call.filter(|c| c.data.ended_at.is_some()) {
                return call;
            }
            assert!(
                Instant::now() < deadline,
                "ctihub has no ended call `{call_id}` 5 s after the call; kamailio's log:\n{}",
                self.kamailio_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The call's entry in the caller log as a Zammad-side script reads it.
    pub async fn journal_entry(&self, call_id: &str) -> serde_json::Value {
        let response =
            self.http.get(format!("{}/api/v1/cti/log", self.base)).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let log: serde_json::Value = response.json().await.unwrap();
        log["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["call_id"] == call_id)
            .cloned()
            .unwrap_or_else(|| panic!("no `{call_id}` in the caller log: {log}"))
    }

    /// Take ctihub away (its port refuses connections), as an outage would.
    pub async fn stop_ctihub(&self) {
        self.server.abort();
        let addr = self.base.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(&addr).await.is_ok() {
            assert!(Instant::now() < deadline, "ctihub still listens on {addr} 5 s after stopping it");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn kamailio_log(&self) -> String {
        self.kamailio.log()
    }
}

fn render_kamailio_cfg(values: &[(&str, String)]) -> String {
    let mut text = KAMAILIO_CFG.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    assert!(!text.contains("!@"), "a kamailio setting was left unset");
    text
}
