//! Real SIP end to end: Debian's kamailio is the PBX, reporting every call to a live ctihub
//! through the generic CTI API (`kamailio.cfg`, the configuration docs/integrations/kamailio.md
//! describes), and sipp plays the caller and the phone on the other side. Each case places one
//! call over 127.0.0.1 and checks the caller-log entry ctihub made of it: direction, numbers,
//! identified customer, cause, done, and the waiting and talking time against the pauses the
//! phones took.
//!
//! Needs `/usr/sbin/kamailio` (packages kamailio, kamailio-utils-modules) and `/usr/bin/sipp`
//! (package sip-tester); a case fails, never skips, without them. Traces and kamailio's log
//! land in `target/e2e-sip/<case>/`.

mod pbx;
mod phones;

use std::io::Write;
use std::ops::RangeInclusive;

use ctihub_domain::Id;
use ctihub_domain::call::{CallState, CompletionStatus};
use pbx::{AGENT_EXT, AGENT_NAME, BLOCKED, DID, MUNICH_CALLER_ID, Pbx};
use phones::{Answer, Caller, Dial, HangsUp};

/// Scheduling on a shared 2-core machine makes pauses run long, never short: how much later
/// than planned a ring or a talk may end, in ms.
const LATE_MS: i64 = 900;
/// How much earlier: only clock granularity (ctihub stamps events as they arrive).
const EARLY_MS: i64 = 100;
/// The PBX's ring timeout for the cases that do not test it.
const RING_TIMEOUT_MS: u64 = 10_000;

const ERIKA: Caller = Caller { name: "Erika Mustermann", from: "+493055571600", to: DID };

fn around(planned_ms: i64) -> RangeInclusive<i64> {
    planned_ms - EARLY_MS..=planned_ms + LATE_MS
}

/// What the caller log must say about the call.
struct Expect {
    direction: &'static str,
    from: &'static str,
    to: &'static str,
    cause: &'static str,
    done: bool,
    completion: CompletionStatus,
    /// The customer ctihub identified (caller inbound, callee outbound) and by which side.
    customer: Option<Id>,
    customer_name: Option<&'static str>,
    agent: Option<Id>,
    /// Ringing until answered or given up, in ms.
    waiting_ms: i64,
    /// Answered to hung up, in ms; `None` when never answered.
    talking_ms: Option<i64>,
}

async fn check(pbx: &Pbx, call_id: &str, expect: Expect) {
    let call = pbx.ended_call(call_id).await;
    let data = &call.data;
    let entry = pbx.journal_entry(call_id).await;
    let context = format!("call {call_id}: {entry:#}\nkamailio's log:\n{}", pbx.kamailio_log());

    assert_eq!(entry["direction"], expect.direction, "{context}");
    assert_eq!(entry["from"], expect.from, "{context}");
    assert_eq!(entry["to"], expect.to, "{context}");
    assert_eq!(entry["state"], "hangup", "{context}");
    assert_eq!(entry["comment"], expect.cause, "the hangup cause; {context}");
    assert_eq!(entry["done"], expect.done, "{context}");
    assert_eq!(data.completion_status, Some(expect.completion), "{context}");
    assert_eq!(data.state, CallState::Ended);

    // The customer: matched in the caller index and named on their side of the entry.
    assert_eq!(data.end_user_id, expect.customer, "identified customer; {context}");
    let (side, comment) = if expect.direction == "in" { ("from", "from_comment") } else { ("to", "to_comment") };
    match expect.customer_name {
        Some(name) => {
            assert_eq!(entry[comment], name, "{context}");
            assert_eq!(entry["preferences"][side][0]["level"], "known", "{context}");
        }
        None => assert!(entry["preferences"].get(side).is_none(), "nobody is known by this number; {context}"),
    }
    assert_eq!(data.agent_id, expect.agent, "the agent who answered; {context}");
    let talked = data.answered_at.map(|a| data.ended_at.unwrap() - a);
    // To stderr: libtest hides a passing test's stdout, and these figures are the run's record.
    let _ = writeln!(
        std::io::stderr(),
        "[sip] {call_id}: {} {}, waited {} ms (planned {}), talked {talked:?} ms (planned {:?})",
        expect.direction,
        expect.cause,
        data.answered_at.or(data.ended_at).unwrap() - data.started_at,
        expect.waiting_ms,
        expect.talking_ms
    );

    // Each event exactly once: no INVITE or 200 OK retransmission became a second event.
    let events = pbx.db.store.list_call_events(call.id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let expected: &[&str] =
        if expect.talking_ms.is_some() { &["newCall", "answer", "hangup"] } else { &["newCall", "hangup"] };
    assert_eq!(kinds, expected, "the events kamailio posted; {context}");

    // Durations from the times the events reached ctihub, which follow the phones' pauses.
    let waited = data.answered_at.or(data.ended_at).unwrap() - data.started_at;
    assert!(
        around(expect.waiting_ms).contains(&waited),
        "waited {waited} ms, planned {}; {context}",
        expect.waiting_ms
    );
    assert_eq!(entry["duration_waiting_time"], waited / 1000, "Zammad's whole seconds; {context}");
    match expect.talking_ms {
        Some(planned) => {
            let talked = talked.expect("answered");
            assert!(around(planned).contains(&talked), "talked {talked} ms, planned {planned}; {context}");
            assert_eq!(entry["duration_talking_time"], talked / 1000, "{context}");
        }
        None => {
            assert!(data.answered_at.is_none(), "{context}");
            assert!(entry["duration_talking_time"].is_null(), "{context}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_and_the_caller_hangs_up() {
    let pbx = Pbx::start("answered-caller-hangs-up", RING_TIMEOUT_MS).await;
    let phone = Answer::Answers { ring_ms: 1000, hangs_up: HangsUp::Caller, talk_ms: 2000, expect_caller_id: None };
    let dial = Dial::Answered { hangs_up: HangsUp::Caller, talk_ms: 2000 };
    let call_id = pbx.call("answered-caller-hangs-up", &ERIKA, &dial, Some(&phone)).await;
    let expect = Expect {
        direction: "in",
        from: "+493055571600",
        to: DID,
        cause: "normalClearing",
        done: true,
        completion: CompletionStatus::Completed,
        customer: Some(pbx.erika.id),
        customer_name: Some("Erika Mustermann"),
        agent: Some(pbx.agent.id),
        waiting_ms: 1000,
        talking_ms: Some(2000),
    };
    check(&pbx, &call_id, expect).await;
    let entry = pbx.journal_entry(&call_id).await;
    assert_eq!(entry["to_comment"], AGENT_EXT, "the extension kamailio rang (user[]), until named otherwise");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_and_the_agent_hangs_up() {
    let pbx = Pbx::start("answered-agent-hangs-up", RING_TIMEOUT_MS).await;
    let phone = Answer::Answers { ring_ms: 1000, hangs_up: HangsUp::Callee, talk_ms: 2000, expect_caller_id: None };
    let dial = Dial::Answered { hangs_up: HangsUp::Callee, talk_ms: 2000 };
    let call_id = pbx.call("answered-agent-hangs-up", &ERIKA, &dial, Some(&phone)).await;
    let expect = Expect {
        direction: "in",
        from: "+493055571600",
        to: DID,
        cause: "normalClearing",
        done: true,
        completion: CompletionStatus::Completed,
        customer: Some(pbx.erika.id),
        customer_name: Some("Erika Mustermann"),
        agent: Some(pbx.agent.id),
        waiting_ms: 1000,
        talking_ms: Some(2000),
    };
    check(&pbx, &call_id, expect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy() {
    let pbx = Pbx::start("busy", RING_TIMEOUT_MS).await;
    let stranger = Caller { name: "", from: "+4917012345678", to: DID };
    let phone = Answer::Rejects { ring_ms: 500, code: 486, reason: "Busy Here" };
    let call_id = pbx.call("busy", &stranger, &Dial::Fails { code: 486 }, Some(&phone)).await;
    let expect = Expect {
        direction: "in",
        from: "+4917012345678",
        to: DID,
        cause: "busy",
        done: false,
        completion: CompletionStatus::Declined,
        customer: None,
        customer_name: None,
        agent: None,
        waiting_ms: 500,
        talking_ms: None,
    };
    check(&pbx, &call_id, expect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_gives_up_while_it_rings() {
    let pbx = Pbx::start("caller-cancels", RING_TIMEOUT_MS).await;
    let call_id = pbx.call("caller-cancels", &ERIKA, &Dial::Cancels { after_ms: 1500 }, Some(&Answer::Rings)).await;
    let expect = Expect {
        direction: "in",
        from: "+493055571600",
        to: DID,
        cause: "cancel",
        done: false,
        completion: CompletionStatus::Missed,
        customer: Some(pbx.erika.id),
        customer_name: Some("Erika Mustermann"),
        agent: None,
        waiting_ms: 1500,
        talking_ms: None,
    };
    check(&pbx, &call_id, expect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_answers_before_the_ring_timeout() {
    let pbx = Pbx::start("no-answer", 2000).await;
    let call_id = pbx.call("no-answer", &ERIKA, &Dial::Fails { code: 408 }, Some(&Answer::Rings)).await;
    let expect = Expect {
        direction: "in",
        from: "+493055571600",
        to: DID,
        cause: "noAnswer",
        done: false,
        completion: CompletionStatus::Declined,
        customer: Some(pbx.erika.id),
        customer_name: Some("Erika Mustermann"),
        agent: None,
        waiting_ms: 2000,
        talking_ms: None,
    };
    check(&pbx, &call_id, expect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_nobody_has() {
    let pbx = Pbx::start("not-found", RING_TIMEOUT_MS).await;
    let wrong = Caller { name: "Erika Mustermann", from: "+493055571600", to: "4930600000099" };
    // kamailio answers 404 itself: no phone is involved.
    let call_id = pbx.call("not-found", &wrong, &Dial::Fails { code: 404 }, None).await;
    let expect = Expect {
        direction: "in",
        from: "+493055571600",
        to: "4930600000099",
        cause: "notFound",
        done: false,
        completion: CompletionStatus::Dropped,
        customer: Some(pbx.erika.id),
        customer_name: Some("Erika Mustermann"),
        agent: None,
        waiting_ms: 0,
        talking_ms: None,
    };
    check(&pbx, &call_id, expect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_declines() {
    let pbx = Pbx::start("declined", RING_TIMEOUT_MS).await;
    let phone = Answer::Rejects { ring_ms: 800, code: 603, reason: "Decline" };
    let call_id = pbx.call("declined", &ERIKA, &Dial::Fails { code: 603 }, Some(&phone)).await;
    let expect = Expect {
        direction: "in",
        from: "+493055571600",
        to: DID,
        cause: "noAnswer",
        done: false,
        completion: CompletionStatus::Declined,
        customer: Some(pbx.erika.id),
        customer_name: Some("Erika Mustermann"),
        agent: None,
        waiting_ms: 800,
        talking_ms: None,
    };
    check(&pbx, &call_id, expect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_caller_is_turned_away_busy() {
    let pbx = Pbx::start("blocked", RING_TIMEOUT_MS).await;
    // Nobody may ring: the phone port is held by a plain socket that must stay silent.
    let phone = std::net::UdpSocket::bind(("127.0.0.1", pbx.phone_port)).unwrap();
    phone.set_nonblocking(true).unwrap();
    let blocked = Caller { name: "", from: BLOCKED, to: DID };
    // ctihub answers {"action":"reject"} to the newCall; kamailio turns that into 486.
    let call_id = pbx.call("blocked", &blocked, &Dial::Fails { code: 486 }, None).await;
    let expect = Expect {
        direction: "in",
        from: BLOCKED,
        to: DID,
        cause: "blocked",
        done: false,
        completion: CompletionStatus::Declined,
        customer: None,
        customer_name: None,
        agent: None,
        waiting_ms: 0,
        talking_ms: None,
    };
    check(&pbx, &call_id, expect).await;
    let mut buf = [0u8; 2048];
    let heard = phone.recv(&mut buf);
    assert!(
        heard.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "the agent's phone must not ring for a blocked caller, got {:?}",
        heard.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_call_presents_the_caller_id_ctihub_chose() {
    let pbx = Pbx::start("outbound", RING_TIMEOUT_MS).await;
    // The agent's phone calls a Munich customer; the routing table says which line they see.
    let agent = Caller { name: AGENT_NAME, from: AGENT_EXT, to: "4989123456" };
    let trunk = Answer::Answers {
        ring_ms: 1000,
        hangs_up: HangsUp::Caller,
        talk_ms: 2000,
        expect_caller_id: Some(MUNICH_CALLER_ID),
    };
    let dial = Dial::Answered { hangs_up: HangsUp::Caller, talk_ms: 2000 };
    let call_id = pbx.call("outbound", &agent, &dial, Some(&trunk)).await;
    let expect = Expect {
        direction: "out",
        // The journal shows the number the customer saw.
        from: MUNICH_CALLER_ID,
        to: "4989123456",
        cause: "normalClearing",
        done: true,
        completion: CompletionStatus::Completed,
        customer: Some(pbx.max.id),
        customer_name: Some("Max Muster"),
        agent: None,
        waiting_ms: 1000,
        talking_ms: Some(2000),
    };
    check(&pbx, &call_id, expect).await;
    let entry = pbx.journal_entry(&call_id).await;
    assert_eq!(entry["from_comment"], AGENT_NAME, "the agent who called, from the From display name (user[])");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_still_connect_while_ctihub_is_down() {
    let pbx = Pbx::start("ctihub-down", RING_TIMEOUT_MS).await;
    pbx.stop_ctihub().await;
    let phone = Answer::Answers { ring_ms: 200, hangs_up: HangsUp::Caller, talk_ms: 500, expect_caller_id: None };
    let dial = Dial::Answered { hangs_up: HangsUp::Caller, talk_ms: 500 };
    let call_id = pbx.call("ctihub-down", &ERIKA, &dial, Some(&phone)).await;
    // The events are lost (kamailio does not retry), the call is not.
    assert!(pbx.db.store.find_call_by_ref("zammad", &call_id).await.unwrap().is_none());
    let log = pbx.kamailio_log();
    for event in ["newCall", "answer", "hangup"] {
        assert!(log.contains(&format!("ctihub did not take {event} for {call_id}")), "{event}: {log}");
    }
}
