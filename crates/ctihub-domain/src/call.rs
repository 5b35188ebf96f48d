//! The Call aggregate every dialect writes to, and the events that built it.
//!
//! Its fields are a superset of the Talk Partner Edition call object plus journal state and the
//! external ids each source uses, so a call pushed through one dialect can be read through another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Id;
use crate::ticket::string_enum;
use crate::time::Millis;

string_enum!(Direction, "direction" {
    Inbound = "inbound", Outbound = "outbound", Internal = "internal", Callback = "callback",
});

string_enum!(CompletionStatus, "completion_status" {
    Completed = "completed",
    AbandonedInQueue = "abandoned_in_queue",
    AbandonedInIvr = "abandoned_in_ivr",
    AbandonedInVoicemail = "abandoned_in_voicemail",
    AbandonedOnHold = "abandoned_on_hold",
    PendingVoicemail = "pending_voicemail",
    Missed = "missed",
    Declined = "declined",
    Dropped = "dropped",
    DroppedByCaller = "dropped_by_caller",
    DroppedByAgent = "dropped_by_agent",
});

string_enum!(
    /// Where a call is in its life: ringing until answered, in progress until hung up.
    CallState, "state" { Ringing = "ringing", InProgress = "in_progress", Ended = "ended" }
);

/// An id a source system uses for a call: Zammad's `callId`, Freshdesk's `call_reference_id`,
/// a TPE `external_id`. Unique per source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExternalRef {
    pub source: String,
    pub external_id: String,
}

impl ExternalRef {
    pub fn new(source: impl Into<String>, external_id: impl Into<String>) -> Self {
        ExternalRef { source: source.into(), external_id: external_id.into() }
    }
}

/// The call fields every dialect and report uses. Fields only one dialect knows go in `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallData {
    pub direction: Direction,
    pub state: CallState,
    pub from_line: String,
    pub to_line: String,
    /// Names the PBX sent for the calling side (`user[]` of an outbound call).
    pub from_name: Option<String>,
    /// Names the PBX sent for the called side (the agents who ring, then the one who answered).
    pub to_name: Option<String>,
    pub dnis: Option<String>,
    pub queue_name: Option<String>,
    pub started_at: Millis,
    pub answered_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub completion_status: Option<CompletionStatus>,
    /// The cause the PBX gave when hanging up, as sent (`normalClearing`, `busy`, …).
    pub hangup_cause: Option<String>,
    pub agent_id: Option<Id>,
    pub end_user_id: Option<Id>,
    pub organization_id: Option<Id>,
    pub ticket_id: Option<Id>,
    pub duration: Option<i64>,
    pub time_to_answer: Option<i64>,
    pub talk_time: Option<i64>,
    pub hold_time: Option<i64>,
    pub wait_time: Option<i64>,
    pub wrap_up_time: Option<i64>,
    pub queue_time: Option<i64>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    /// Journal: the call needs no further action (called back, or dismissed).
    pub done: bool,
    pub comment: Option<String>,
    /// The remaining Talk Partner Edition fields (`app_id`, `ivr_hops`, `from_line_nickname`, …).
    pub details: BTreeMap<String, serde_json::Value>,
}

impl CallData {
    pub fn new(
        direction: Direction,
        from_line: impl Into<String>,
        to_line: impl Into<String>,
        started_at: Millis,
    ) -> Self {
        CallData {
            direction,
            state: CallState::Ringing,
            from_line: from_line.into(),
            to_line: to_line.into(),
            from_name: None,
            to_name: None,
            dnis: None,
            queue_name: None,
            started_at,
            answered_at: None,
            ended_at: None,
            completion_status: None,
            hangup_cause: None,
            agent_id: None,
            end_user_id: None,
            organization_id: None,
            ticket_id: None,
            duration: None,
            time_to_answer: None,
            talk_time: None,
            hold_time: None,
            wait_time: None,
            wrap_up_time: None,
            queue_time: None,
            recording_url: None,
            transcript: None,
            done: false,
            comment: None,
            details: BTreeMap::new(),
        }
    }

    /// The number on the customer's side: the caller for inbound calls, the callee otherwise.
    pub fn customer_line(&self) -> &str {
        match self.direction {
            Direction::Outbound => &self.to_line,
            _ => &self.from_line,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub id: Id,
    #[serde(flatten)]
    pub data: CallData,
    pub external_refs: Vec<ExternalRef>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One event as a source sent it, kept verbatim so nothing acknowledged is ever lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallEvent {
    pub id: Id,
    pub call_id: Id,
    pub source: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub occurred_at: Millis,
    pub received_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewCallEvent {
    pub source: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub occurred_at: Millis,
}
