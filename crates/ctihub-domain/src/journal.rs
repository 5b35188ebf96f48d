//! The caller journal's rules: how `newCall`, `answer` and `hangup` signals change a call.
//!
//! These are Zammad's `Cti::Log.process` semantics (which calls are "done", names, queue,
//! waiting and talking time, the cause as comment), made idempotent and order-tolerant: a
//! repeated `newCall` changes nothing, and an `answer` or `hangup` for a call nobody announced
//! starts the call instead of failing.

use crate::call::{CallData, CallState, CompletionStatus, Direction};
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    NewCall,
    Answer,
    Hangup,
}

impl SignalKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SignalKind::NewCall => "newCall",
            SignalKind::Answer => "answer",
            SignalKind::Hangup => "hangup",
        }
    }
}

/// One call event in dialect-neutral form.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSignal {
    pub kind: SignalKind,
    /// Inbound or outbound, as the PBX says on this event.
    pub direction: Direction,
    pub from: String,
    pub to: String,
    /// Names of the users involved: who rings (inbound newCall), who calls (outbound newCall),
    /// who answered (answer; `voicemail` when the mailbox did).
    pub users: Vec<String>,
    pub queue: Option<String>,
    pub cause: Option<String>,
    pub at: Millis,
}

/// What a signal does to the journal.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A new call to store.
    Start(CallData),
    /// The stored call becomes this.
    Update(CallData),
    /// Nothing changes (a repeated `newCall`, an `answer` after `hangup`, a second `hangup`).
    /// The event is still recorded.
    Ignore(&'static str),
}

/// The names the PBX sent, as Zammad joins them.
fn joined(users: &[String]) -> Option<String> {
    let names: Vec<&str> = users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

fn seconds_between(from: Millis, to: Millis) -> i64 {
    ((to - from) / 1000).max(0)
}

/// How a hangup cause reads as a Talk Partner Edition completion status, so calls from the
/// Zammad dialect report like calls from every other.
pub fn completion_status(cause: Option<&str>, answered: bool, voicemail: bool) -> Option<CompletionStatus> {
    if voicemail {
        return Some(CompletionStatus::PendingVoicemail);
    }
    let status = match cause.unwrap_or("normalClearing") {
        _ if answered => CompletionStatus::Completed,
        "normalClearing" | "cancel" => CompletionStatus::Missed,
        "busy" | "noAnswer" | "blocked" => CompletionStatus::Declined,
        "congestion" | "notFound" => CompletionStatus::Dropped,
        "forwarded" => return None,
        "voicemail" => CompletionStatus::PendingVoicemail,
        _ => CompletionStatus::Missed,
    };
    Some(status)
}

fn start(signal: &CallSignal) -> CallData {
    let mut call = CallData::new(signal.direction, signal.from.trim(), signal.to.trim(), signal.at);
    let names = joined(&signal.users);
    let queue = signal.queue.as_deref().map(str::trim).filter(|q| !q.is_empty());
    match signal.direction {
        Direction::Outbound => {
            call.from_name = names;
            call.queue_name = Some(queue.unwrap_or(call.from_line.as_str()).to_owned());
        }
        _ => {
            call.to_name = names.or_else(|| queue.map(str::to_owned));
            call.queue_name = Some(queue.unwrap_or(call.to_line.as_str()).to_owned());
        }
    }
    // Outbound calls never need a callback; inbound ones do until answered.
    call.done = signal.direction == Direction::Outbound;
    call.hangup_cause = signal.cause.clone();
    call
}

fn answer(mut call: CallData, signal: &CallSignal) -> CallData {
    call.state = CallState::InProgress;
    call.answered_at = Some(signal.at);
    call.wait_time = Some(seconds_between(call.started_at, signal.at));
    call.time_to_answer = call.wait_time;
    if let Some(name) = joined(&signal.users) {
        call.to_name = Some(name);
    }
    call.done = true;
    call.hangup_cause = signal.cause.clone();
    call
}

fn hangup(mut call: CallData, signal: &CallSignal) -> CallData {
    let cause = signal.cause.as_deref();
    let never_answered = call.state == CallState::Ringing;
    let voicemail = call.to_name.as_deref() == Some("voicemail");
    call.done = true;
    if signal.direction == Direction::Inbound && ((never_answered && cause != Some("forwarded")) || voicemail) {
        call.done = false;
    }
    call.state = CallState::Ended;
    call.ended_at = Some(signal.at);
    match call.answered_at {
        Some(answered) => call.talk_time = Some(seconds_between(answered, signal.at)),
        None if call.wait_time.is_none() => call.wait_time = Some(seconds_between(call.started_at, signal.at)),
        None => {}
    }
    call.duration = Some(seconds_between(call.started_at, signal.at));
    call.hangup_cause = signal.cause.clone();
    call.completion_status = completion_status(cause, !never_answered && !voicemail, voicemail);
    call
}

/// Apply a signal to the call it belongs to (`None` when the call id is unknown).
pub fn apply(existing: Option<&CallData>, signal: &CallSignal) -> Transition {
    match (signal.kind, existing) {
        (SignalKind::NewCall, Some(_)) => Transition::Ignore("newCall for a call that already exists"),
        (SignalKind::NewCall, None) => Transition::Start(start(signal)),
        // Lost newCall: the call starts now, with what this event tells.
        (SignalKind::Answer, None) => Transition::Start(answer(start(signal), signal)),
        (SignalKind::Hangup, None) => Transition::Start(hangup(start(signal), signal)),
        (_, Some(call)) if call.state == CallState::Ended => Transition::Ignore(if signal.kind == SignalKind::Answer {
            "answer after hangup"
        } else {
            "repeated hangup"
        }),
        (SignalKind::Answer, Some(call)) if call.state == CallState::InProgress => {
            Transition::Ignore("repeated answer")
        }
        (SignalKind::Answer, Some(call)) => Transition::Update(answer(call.clone(), signal)),
        (SignalKind::Hangup, Some(call)) => Transition::Update(hangup(call.clone(), signal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(kind: SignalKind, direction: Direction, at: Millis) -> CallSignal {
        CallSignal {
            kind,
            direction,
            from: "491711234567890".into(),
            to: "4930600000000".into(),
            users: vec![],
            queue: None,
            cause: None,
            at,
        }
    }

    fn run(direction: Direction, steps: &[(SignalKind, Option<&str>, &[&str])]) -> CallData {
        let mut call: Option<CallData> = None;
        for (i, (kind, cause, users)) in steps.iter().enumerate() {
            let mut s = signal(*kind, direction, 1_000 + i as i64 * 10_000);
            s.cause = cause.map(str::to_owned);
            s.users = users.iter().map(|u| u.to_string()).collect();
            match apply(call.as_ref(), &s) {
                Transition::Start(c) | Transition::Update(c) => call = Some(c),
                Transition::Ignore(_) => {}
            }
        }
        call.unwrap()
    }

    use SignalKind::*;

    #[test]
    fn zammads_done_table() {
        let inbound = Direction::Inbound;
        assert!(!run(inbound, &[(NewCall, None, &[])]).done, "ringing");
        assert!(run(inbound, &[(NewCall, None, &[]), (Answer, None, &[])]).done);
        assert!(run(inbound, &[(NewCall, None, &[]), (Answer, None, &[]), (Hangup, Some("normalClearing"), &[])]).done);
        assert!(!run(inbound, &[(NewCall, None, &[]), (Answer, None, &["voicemail"]), (Hangup, None, &[])]).done);
        for cause in ["cancel", "busy", "noAnswer", "congestion", "notFound", "normalClearing"] {
            assert!(!run(inbound, &[(NewCall, None, &[]), (Hangup, Some(cause), &[])]).done, "{cause}");
        }
        assert!(run(inbound, &[(NewCall, None, &[]), (Hangup, Some("forwarded"), &[])]).done);
        let outbound = Direction::Outbound;
        assert!(run(outbound, &[(NewCall, None, &[])]).done);
        assert!(run(outbound, &[(NewCall, None, &[]), (Hangup, Some("cancel"), &[])]).done);
    }

    #[test]
    fn names_queue_and_durations() {
        let call = run(
            Direction::Inbound,
            &[
                (NewCall, None, &["user 1", "user 2"]),
                (Answer, None, &["Agent Smith"]),
                (Hangup, Some("normalClearing"), &[]),
            ],
        );
        assert_eq!(call.to_name.as_deref(), Some("Agent Smith"));
        assert_eq!(call.queue_name.as_deref(), Some("4930600000000"), "queue defaults to `to` inbound");
        assert_eq!(call.wait_time, Some(10));
        assert_eq!(call.talk_time, Some(10));
        assert_eq!(call.duration, Some(20));
        assert_eq!(call.hangup_cause.as_deref(), Some("normalClearing"));
        assert_eq!(call.completion_status, Some(CompletionStatus::Completed));
        assert_eq!(call.state, CallState::Ended);

        let ringing = run(Direction::Inbound, &[(NewCall, None, &["user 1", "user 2"])]);
        assert_eq!(ringing.to_name.as_deref(), Some("user 1, user 2"));

        let outbound = run(Direction::Outbound, &[(NewCall, None, &["Agent Smith"])]);
        assert_eq!(outbound.from_name.as_deref(), Some("Agent Smith"));
        assert_eq!(outbound.queue_name.as_deref(), Some("491711234567890"), "queue defaults to `from` outbound");

        let missed = run(Direction::Inbound, &[(NewCall, None, &[]), (Hangup, Some("cancel"), &[])]);
        assert_eq!(missed.wait_time, Some(10));
        assert_eq!(missed.talk_time, None);
        assert_eq!(missed.completion_status, Some(CompletionStatus::Missed));
    }

    #[test]
    fn duplicates_and_disorder_are_tolerated() {
        let first = signal(NewCall, Direction::Inbound, 1_000);
        let Transition::Start(call) = apply(None, &first) else { panic!() };
        assert!(matches!(apply(Some(&call), &first), Transition::Ignore(_)));

        let Transition::Update(ended) = apply(Some(&call), &signal(Hangup, Direction::Inbound, 5_000)) else {
            panic!()
        };
        assert!(matches!(apply(Some(&ended), &signal(Answer, Direction::Inbound, 6_000)), Transition::Ignore(_)));
        assert!(matches!(apply(Some(&ended), &signal(Hangup, Direction::Inbound, 7_000)), Transition::Ignore(_)));

        // Events for a call whose newCall was lost start it.
        let Transition::Start(orphan) = apply(None, &signal(Hangup, Direction::Inbound, 9_000)) else { panic!() };
        assert_eq!(orphan.state, CallState::Ended);
        assert!(!orphan.done, "an inbound call nobody answered is a missed call");
        let Transition::Start(answered) = apply(None, &signal(Answer, Direction::Inbound, 9_000)) else { panic!() };
        assert_eq!(answered.state, CallState::InProgress);
        assert!(answered.done);
    }
}
