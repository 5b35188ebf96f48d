//! Tickets and their comments, including the voice part calls add to a comment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::call::Call;
use crate::time::Millis;
use crate::{DomainError, Id};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self, $crate::DomainError> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::DomainError::new($field, format!(
                        "`{}` is not one of {}", s, [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(TicketStatus, "status" {
    New = "new", Open = "open", Pending = "pending", Hold = "hold", Solved = "solved", Closed = "closed",
});

impl TicketStatus {
    /// Open tickets are the ones a caller card lists first.
    pub fn is_open(&self) -> bool {
        !matches!(self, TicketStatus::Solved | TicketStatus::Closed)
    }
}

string_enum!(Priority, "priority" { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" });

string_enum!(TicketType, "type" { Problem = "problem", Incident = "incident", Question = "question", Task = "task" });

string_enum!(
    /// The channel a ticket came through. The numbers are Zendesk's `via_id`s, which voice
    /// integrations set and reports filter on.
    Channel, "via.channel" {
        Web = "web", Email = "email", Api = "api",
        Voicemail = "voicemail", PhoneInbound = "phone_call_inbound", PhoneOutbound = "phone_call_outbound",
    }
);

impl Channel {
    pub fn via_id(&self) -> i64 {
        match self {
            Channel::Web => 0,
            Channel::Email => 4,
            Channel::Api => 5,
            Channel::Voicemail => 44,
            Channel::PhoneInbound => 45,
            Channel::PhoneOutbound => 46,
        }
    }

    pub fn from_via_id(id: i64) -> Result<Self, DomainError> {
        Channel::ALL
            .iter()
            .copied()
            .find(|c| c.via_id() == id)
            .ok_or_else(|| DomainError::new("via_id", format!("{id} is not one of 0, 4, 5, 44, 45, 46")))
    }
}

/// How a ticket came in: the channel and, for calls, who called whom (`{"from":…,"to":…}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Via {
    pub channel: Channel,
    #[serde(default)]
    pub source: serde_json::Value,
}

impl Default for Via {
    fn default() -> Self {
        Via { channel: Channel::Api, source: serde_json::Value::Null }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub subject: String,
    pub description: String,
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub ticket_type: Option<TicketType>,
    pub requester_id: Id,
    pub submitter_id: Option<Id>,
    pub assignee_id: Option<Id>,
    pub group_id: Option<Id>,
    pub organization_id: Option<Id>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub via: Via,
    pub external_id: Option<String>,
    /// The first comment; its body defaults to the description.
    pub first_comment: Option<NewComment>,
}

#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub status: Option<TicketStatus>,
    pub priority: Option<Option<Priority>>,
    pub ticket_type: Option<Option<TicketType>>,
    pub requester_id: Option<Id>,
    pub assignee_id: Option<Option<Id>>,
    pub group_id: Option<Option<Id>>,
    pub organization_id: Option<Option<Id>>,
    pub tags: Option<Vec<String>>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub external_id: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub id: Id,
    pub subject: String,
    pub description: String,
    pub status: TicketStatus,
    pub priority: Option<Priority>,
    pub ticket_type: Option<TicketType>,
    pub requester_id: Id,
    pub submitter_id: Id,
    pub assignee_id: Option<Id>,
    pub group_id: Option<Id>,
    pub organization_id: Option<Id>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub via: Via,
    pub external_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The call part of a comment: what Zendesk calls a voice comment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoicePart {
    pub from: Option<String>,
    pub to: Option<String>,
    pub recording_url: Option<String>,
    pub started_at: Option<Millis>,
    /// Seconds.
    pub duration: Option<i64>,
    pub answered_by_id: Option<Id>,
    pub transcript: Option<String>,
    pub location: Option<String>,
    pub call_id: Option<Id>,
    /// Call fields chosen for display, in order (TPE `call_fields`).
    #[serde(default)]
    pub call_fields: Vec<(String, serde_json::Value)>,
}

impl VoicePart {
    /// The call part of a comment about `call`, with the call's values as they stand: who called
    /// whom, when, how long, who answered, the recording, transcript and caller's location.
    /// Callers choose the `call_fields` to show.
    pub fn of_call(call: &Call) -> VoicePart {
        let data = &call.data;
        VoicePart {
            from: Some(data.from_line.clone()),
            to: Some(data.to_line.clone()),
            recording_url: data.recording_url.clone(),
            started_at: Some(data.started_at),
            duration: data.duration,
            answered_by_id: data.agent_id,
            transcript: data.transcript.clone(),
            location: data.details.get("end_user_location").and_then(|v| v.as_str()).map(str::to_owned),
            call_id: Some(call.id),
            call_fields: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewComment {
    pub ticket_id: Id,
    pub author_id: Id,
    pub body: String,
    pub public: bool,
    pub voice: Option<VoicePart>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub id: Id,
    pub ticket_id: Id,
    pub author_id: Id,
    pub body: String,
    pub public: bool,
    pub voice: Option<VoicePart>,
    pub created_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_explain_errors() {
        assert_eq!(TicketStatus::parse("Pending").unwrap(), TicketStatus::Pending);
        let err = TicketStatus::parse("done").unwrap_err();
        assert_eq!(err.field, "status");
        assert!(err.message.contains("new, open, pending, hold, solved, closed"));
        assert_eq!(Channel::from_via_id(45).unwrap(), Channel::PhoneInbound);
        assert!(Channel::from_via_id(7).is_err());
    }
}
