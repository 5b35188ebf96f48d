//! The phones: sipp runs, one call each (`-m 1`), from the scenarios in `scenarios/`.
//!
//! sipp 3.6 substitutes neither `-key` values in a status line nor in attributes such as a
//! pause's length, so the scenarios are templates with `{{NAME}}` slots, rendered per case
//! into the case's directory (which is also where sipp writes its traces).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SIPP: &str = "/usr/bin/sipp";

const CALL: &str = include_str!("scenarios/call.xml");
const CALL_FAILS: &str = include_str!("scenarios/call_fails.xml");
const ANSWER: &str = include_str!("scenarios/answer.xml");
const RINGS: &str = include_str!("scenarios/rings.xml");
const REJECTS: &str = include_str!("scenarios/rejects.xml");

/// The calling side hangs up after talking `{{TALK_MS}}`.
const CALLER_SENDS_BYE: &str = r#"  <pause milliseconds="{{TALK_MS}}"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{{NAME}}" <sip:{{FROM}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{TO}}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>"#;

/// The answering side hangs up after talking `{{TALK_MS}}`: its From is the INVITE's To.
const CALLEE_SENDS_BYE: &str = r#"  <pause milliseconds="{{TALK_MS}}"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From:[$own_to];tag=[pid]SIPpTag01[call_number]
      To:[$peer_from]
      Call-ID: [call_id]
      CSeq: 1 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>"#;

/// Either side waits for the other's BYE and confirms it.
const AWAIT_BYE: &str = r#"  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>"#;

/// The caller gives up `{{CANCEL_AFTER_MS}}` after the phone starts ringing.
const CANCEL_WHILE_RINGING: &str = r#"  <recv response="180"/>
  <pause milliseconds="{{CANCEL_AFTER_MS}}"/>
  <send>
    <![CDATA[

      CANCEL sip:{{TO}}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={{BRANCH}}
      From: "{{NAME}}" <sip:{{FROM}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{{TO}}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>"#;

const MAY_RING: &str = r#"  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>"#;

/// Who ends an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangsUp {
    Caller,
    Callee,
}

/// The calling phone: who it is and what it dials.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

/// What the calling phone does.
#[derive(Debug, Clone)]
pub enum Dial {
    /// The call is answered; one side hangs up after `talk_ms`.
    Answered { hangs_up: HangsUp, talk_ms: u64 },
    /// The call fails with `code` (after ringing, or at once).
    Fails { code: u16 },
    /// The caller cancels `after_ms` after the ringing starts; the PBX answers 487.
    Cancels { after_ms: u64 },
}

/// What the called phone does.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Rings `ring_ms`, answers; one side hangs up after `talk_ms`. `expect_caller_id`, when
    /// set, must be the user of the INVITE's P-Asserted-Identity (sipp fails the call otherwise).
    Answers { ring_ms: u64, hangs_up: HangsUp, talk_ms: u64, expect_caller_id: Option<&'static str> },
    /// Rings until cancelled.
    Rings,
    /// Rings `ring_ms`, then refuses with `code reason`.
    Rejects { ring_ms: u64, code: u16, reason: &'static str },
}

fn render(template: &str, slots: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    // Fragments first: they hold slots of their own.
    for (name, value) in slots.iter().filter(|(_, v)| v.contains("{{")) {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    for (name, value) in slots {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    assert!(!text.contains("{{"), "a scenario slot was left unfilled:\n{text}");
    text
}

pub fn caller_scenario(case: &str, caller: &Caller, dial: &Dial) -> String {
    let mut slots = vec![
        ("NAME", caller.name.to_owned()),
        ("FROM", caller.from.to_owned()),
        ("TO", caller.to.to_owned()),
        // RFC 3261 magic cookie; one fixed branch per case's INVITE (its CANCEL and ACK reuse it).
        ("BRANCH", format!("z9hG4bK-{case}-invite")),
    ];
    let template = match dial {
        Dial::Answered { hangs_up, talk_ms } => {
            let hangup = match hangs_up {
                HangsUp::Caller => CALLER_SENDS_BYE,
                HangsUp::Callee => AWAIT_BYE,
            };
            slots.push(("HANGUP", hangup.to_owned()));
            slots.push(("TALK_MS", talk_ms.to_string()));
            CALL
        }
        Dial::Fails { code } => {
            slots.push(("RINGING", MAY_RING.to_owned()));
            slots.push(("CODE", code.to_string()));
            CALL_FAILS
        }
        Dial::Cancels { after_ms } => {
            slots.push(("RINGING", CANCEL_WHILE_RINGING.to_owned()));
            slots.push(("CANCEL_AFTER_MS", after_ms.to_string()));
            slots.push(("CODE", "487".to_owned()));
            CALL_FAILS
        }
    };
    render(template, &slots)
}

pub fn callee_scenario(answer: &Answer) -> String {
    match answer {
        Answer::Answers { ring_ms, hangs_up, talk_ms, expect_caller_id } => {
            let hangup = match hangs_up {
                HangsUp::Callee => CALLEE_SENDS_BYE,
                HangsUp::Caller => AWAIT_BYE,
            };
            // sipp refuses a variable that is set but never used, so each capture comes with
            // its use: the BYE's addresses, or the caller id echoed in a header of the 200.
            let mut actions = Vec::new();
            if *hangs_up == HangsUp::Callee {
                actions.push(r#"<ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer_from"/>"#.to_owned());
                actions.push(r#"<ereg regexp=".*" search_in="hdr" header="To:" assign_to="own_to"/>"#.to_owned());
            }
            let mut echo = String::new();
            if let Some(id) = expect_caller_id {
                actions.push(format!(
                    r#"<ereg regexp="sip:{id}@" search_in="hdr" header="P-Asserted-Identity:" check_it="true" assign_to="pai"/>"#
                ));
                echo = "\n      X-Presented-Caller-Id: [$pai]".to_owned();
            }
            let actions = match actions.is_empty() {
                true => String::new(),
                false => format!("    <action>\n      {}\n    </action>", actions.join("\n      ")),
            };
            render(
                ANSWER,
                &[
                    ("HANGUP", hangup.to_owned()),
                    ("ACTIONS", actions),
                    ("ECHO", echo),
                    ("RING_MS", ring_ms.to_string()),
                    ("TALK_MS", talk_ms.to_string()),
                ],
            )
        }
        Answer::Rings => render(RINGS, &[]),
        Answer::Rejects { ring_ms, code, reason } => render(
            REJECTS,
            &[("RING_MS", ring_ms.to_string()), ("CODE", code.to_string()), ("REASON", (*reason).to_owned())],
        ),
    }
}

/// One sipp process. Killed when dropped, so a failed assertion leaves nothing behind.
pub struct Sipp {
    child: Child,
    name: String,
    dir: PathBuf,
}

/// How long any one sipp may run: the longest case rings and talks for a few seconds.
const SIPP_LIMIT: Duration = Duration::from_secs(25);

impl Sipp {
    /// Start sipp with `scenario` (rendered into `dir/<name>.xml`) on `127.0.0.1:port`, calling
    /// `remote` when given (a UAC), else waiting for one call (a UAS). `call_id` names the call.
    pub fn start(
        dir: &Path,
        name: &str,
        scenario: &str,
        port: u16,
        media_port: u16,
        remote: Option<u16>,
        call_id: &str,
    ) -> Sipp {
        assert!(
            Path::new(SIPP).exists(),
            "the SIP suite needs sipp: run `apt-get install sip-tester` (missing {SIPP})"
        );
        let file = dir.join(format!("{name}.xml"));
        std::fs::write(&file, scenario).unwrap();
        let mut command = Command::new(SIPP);
        if let Some(remote) = remote {
            command.arg(format!("127.0.0.1:{remote}"));
        }
        command
            .arg("-sf")
            .arg(&file)
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &media_port.to_string()])
            .args(["-m", "1", "-nostdin"])
            // A global limit and a per-message one, so a lost message fails the case quickly.
            .args(["-timeout", "20", "-timeout_error", "-recv_timeout", "8000"])
            .args(["-cid_str", call_id])
            .args(["-trace_err", "-trace_msg", "-trace_screen"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join(format!("{name}.stdout"))).unwrap())
            .stderr(std::fs::File::create(dir.join(format!("{name}.stderr"))).unwrap());
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {SIPP}: {e}"));
        Sipp { child, name: name.to_owned(), dir: dir.to_owned() }
    }

    /// Wait for the one call to end; sipp's exit status 0 means the scenario ran to its end
    /// with every expected message received and every check passed.
    pub async fn finish(mut self) {
        let deadline = Instant::now() + SIPP_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "sipp `{}` still running after {SIPP_LIMIT:?}; traces in {}",
                self.name,
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            status.success(),
            "sipp `{}` failed ({status}); its traces are in {}:\n{}",
            self.name,
            self.dir.display(),
            self.traces()
        );
    }

    fn traces(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&self.name) && (file.ends_with("errors.log") || file.ends_with(".stderr")) {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                out.push_str(&format!("--- {file}\n{}\n", tail(&text, 3000)));
            }
        }
        out
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
    &text[start..]
}
