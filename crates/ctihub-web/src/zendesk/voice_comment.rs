//! `voice_comment` on a ticket create or update: a call's recording and transcript as a
//! comment Zendesk shows with a player. ctihub also stores the call it describes, so a call
//! reported this way shows in the journal and counts in reports like calls from any dialect.

use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, CallState, CompletionStatus, Direction, NewCallEvent};
use ctihub_domain::ticket::{Channel, Comment, NewComment, Ticket, VoicePart};
use ctihub_domain::time::{Millis, now_millis, parse_timestamp};
use serde_json::{Map, Value, json};

use super::attributes::{optional_id, optional_text};
use super::error::{Problems, ZendeskError};
use crate::AppState;

/// Where calls reported through voice comments come from, in their events.
const SOURCE: &str = "zendesk-voice";

#[derive(Debug, Clone)]
pub(crate) struct VoiceCommentInput {
    pub from: String,
    pub to: String,
    pub recording_url: String,
    pub started_at: Millis,
    pub call_duration: i64,
    pub answered_by_id: Option<Id>,
    pub transcription_text: Option<String>,
    pub location: Option<String>,
    raw: Value,
}

fn problem_field(name: &str) -> String {
    format!("voice_comment.{name}")
}

impl VoiceCommentInput {
    /// Read and check every attribute; `from`, `to`, `recording_url`, `started_at` and
    /// `call_duration` are required, as Zendesk's table says.
    pub fn read(object: &Map<String, Value>, problems: &mut Problems) -> VoiceCommentInput {
        let required_text = |name: &str, problems: &mut Problems| match optional_text(object, name, problems) {
            Some(Some(text)) => text,
            Some(None) | None => {
                if !object.contains_key(name) || object[name].is_null() || object[name] == json!("") {
                    problems.blank(&problem_field(name));
                }
                String::new()
            }
        };
        let from = required_text("from", problems);
        let to = required_text("to", problems);
        let recording_url = required_text("recording_url", problems);
        let is_url = recording_url.starts_with("http://") || recording_url.starts_with("https://");
        if !recording_url.is_empty() && !is_url {
            problems.invalid(&problem_field("recording_url"), format!("{recording_url} is not an http(s) URL"));
        }
        let started_text = required_text("started_at", problems);
        let started_at = if started_text.is_empty() {
            0
        } else {
            match parse_timestamp(&started_text, &jiff::tz::TimeZone::UTC) {
                Some(ts) => ts.as_millisecond(),
                None => {
                    problems.invalid(&problem_field("started_at"), format!("{started_text} is not an ISO 8601 time"));
                    0
                }
            }
        };
        let call_duration = match object.get("call_duration") {
            None | Some(Value::Null) => {
                problems.blank(&problem_field("call_duration"));
                0
            }
            Some(value) => {
                match value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok())).filter(|d| *d >= 0)
                {
                    Some(seconds) => seconds,
                    None => {
                        problems
                            .invalid(&problem_field("call_duration"), format!("{value} is not a number of seconds"));
                        0
                    }
                }
            }
        };
        let answered_by_id = optional_id(object, "answered_by_id", problems).flatten();
        let transcription_text = optional_text(object, "transcription_text", problems).flatten();
        let location = optional_text(object, "location", problems).flatten();
        VoiceCommentInput {
            from,
            to,
            recording_url,
            started_at,
            call_duration,
            answered_by_id,
            transcription_text,
            location,
            raw: Value::Object(object.clone()),
        }
    }

    /// The number the caller dialed: the line called, or for an outbound call the line called from.
    pub fn dialed(&self, channel: Channel) -> &str {
        if channel == Channel::PhoneOutbound { &self.from } else { &self.to }
    }

    /// The comment's first line, as Zendesk titles voice comments.
    pub fn title(&self, channel: Channel) -> String {
        match channel {
            Channel::Voicemail => format!("Voicemail from: {}", self.from),
            Channel::PhoneOutbound => format!("Call to: {}", self.to),
            _ => format!("Call from: {}", self.from),
        }
    }

    fn voice_part(&self, call_id: Id) -> VoicePart {
        VoicePart {
            from: Some(self.from.clone()),
            to: Some(self.to.clone()),
            recording_url: Some(self.recording_url.clone()),
            started_at: Some(self.started_at),
            duration: Some(self.call_duration),
            answered_by_id: self.answered_by_id,
            transcript: self.transcription_text.clone(),
            location: self.location.clone(),
            call_id: Some(call_id),
            call_fields: Vec::new(),
        }
    }

    /// The comment's text: the call details Zendesk prints, then the recording and transcript.
    fn body(&self, channel: Channel, answered_by: Option<&str>) -> String {
        let mut body = format!("{}\n\nCall from: {}\nCall to: {}", self.title(channel), self.from, self.to);
        body.push_str(&format!("\nTime of call: {}", ctihub_domain::time::format_millis(self.started_at)));
        if let Some(location) = &self.location {
            body.push_str(&format!("\nLocation: {location}"));
        }
        if let Some(name) = answered_by {
            body.push_str(&format!("\nAnswered by: {name}"));
        }
        body.push_str(&format!("\nLength of phone call: {} seconds", self.call_duration));
        body.push_str(&format!("\n\nRecording: {}", self.recording_url));
        if let Some(text) = &self.transcription_text {
            body.push_str(&format!("\n\nTranscription:\n{text}"));
        }
        body
    }

    /// The call this comment reports, ended, as the journal and reports keep it.
    fn call_data(&self, channel: Channel, requester: Id, ticket: Option<Id>) -> CallData {
        let direction = if channel == Channel::PhoneOutbound { Direction::Outbound } else { Direction::Inbound };
        let mut data = CallData::new(direction, self.from.clone(), self.to.clone(), self.started_at);
        let ended = self.started_at + self.call_duration * 1000;
        data.state = CallState::Ended;
        data.ended_at = Some(ended);
        data.duration = Some(self.call_duration);
        data.end_user_id = Some(requester);
        data.ticket_id = ticket;
        data.recording_url = Some(self.recording_url.clone());
        data.transcript = self.transcription_text.clone();
        data.agent_id = self.answered_by_id;
        if channel == Channel::Voicemail {
            data.completion_status = Some(CompletionStatus::AbandonedInVoicemail);
            data.details.insert("voicemail".into(), json!(true));
            // A voicemail asks for a call back.
            data.done = false;
        } else {
            data.completion_status = Some(CompletionStatus::Completed);
            if self.answered_by_id.is_some() {
                data.answered_at = Some(self.started_at);
                data.talk_time = Some(self.call_duration);
            }
            data.done = true;
        }
        if let Some(location) = &self.location {
            data.details.insert("end_user_location".into(), json!(location));
        }
        data
    }

    async fn record_call(
        &self,
        state: &AppState,
        channel: Channel,
        requester: Id,
        ticket: Option<Id>,
    ) -> Result<Call, ZendeskError> {
        let event = NewCallEvent {
            source: SOURCE.into(),
            kind: "voice_comment".into(),
            payload: self.raw.clone(),
            occurred_at: now_millis(),
        };
        let mut data = self.call_data(channel, requester, ticket);
        crate::routing::note_business_hours(&state.store, &mut data).await?;
        Ok(state.store.create_call(&data, &[], Some(&event)).await?)
    }

    async fn answered_by_name(&self, state: &AppState) -> Result<Option<String>, ZendeskError> {
        match self.answered_by_id {
            Some(id) => Ok(Some(state.store.get_user(id).await?.name)),
            None => Ok(None),
        }
    }

    /// A new ticket's first comment: the call is stored first, and linked to the ticket once
    /// the ticket exists (see [`VoiceCommentInput::link`]).
    pub async fn first_comment(
        &self,
        state: &AppState,
        channel: Channel,
        requester: Id,
        author: Id,
    ) -> Result<(Call, NewComment), ZendeskError> {
        let call = self.record_call(state, channel, requester, None).await?;
        let name = self.answered_by_name(state).await?;
        let comment = NewComment {
            ticket_id: 0,
            author_id: author,
            body: self.body(channel, name.as_deref()),
            public: false,
            voice: Some(self.voice_part(call.id)),
        };
        Ok((call, comment))
    }

    pub async fn link(state: &AppState, call: Call, ticket: Id) -> Result<(), ZendeskError> {
        let mut data = call.data;
        data.ticket_id = Some(ticket);
        state.store.update_call(call.id, &data, None).await?;
        Ok(())
    }

    /// Add the voice comment to an existing ticket, with the call it reports.
    pub async fn store(
        &self,
        state: &AppState,
        ticket: &Ticket,
        author: Id,
        channel: Channel,
    ) -> Result<Comment, ZendeskError> {
        let call = self.record_call(state, channel, ticket.requester_id, Some(ticket.id)).await?;
        let name = self.answered_by_name(state).await?;
        let comment = NewComment {
            ticket_id: ticket.id,
            author_id: author,
            body: self.body(channel, name.as_deref()),
            public: false,
            voice: Some(self.voice_part(call.id)),
        };
        Ok(state.store.add_comment(comment).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: Value) -> (VoiceCommentInput, Problems) {
        let mut problems = Problems::default();
        let input = VoiceCommentInput::read(value.as_object().unwrap(), &mut problems);
        (input, problems)
    }

    #[test]
    fn the_guides_example_reads_whole() {
        let (input, problems) = read(json!({
            "from": "+16617480240", "to": "+16617480123",
            "recording_url": "http://www.yourdomain.com/recordings.mp3",
            "started_at": "2013-06-24 15:31:44 +0000", "call_duration": 414, "answered_by_id": 6,
            "transcription_text": "The transcription of the call", "location": "Dublin, Ireland"
        }));
        assert!(problems.is_empty());
        assert_eq!(ctihub_domain::time::format_millis(input.started_at), "2013-06-24T15:31:44Z");
        assert_eq!(input.call_duration, 414);
        let data = input.call_data(Channel::PhoneInbound, 1, Some(2));
        assert_eq!(data.talk_time, Some(414));
        assert!(data.done);
        let voicemail = input.call_data(Channel::Voicemail, 1, None);
        assert!(!voicemail.done, "a voicemail needs a call back");
    }

    #[test]
    fn every_missing_or_bad_attribute_is_named() {
        let (_, problems) = read(json!({"recording_url": "ftp://x", "started_at": "yesterday", "call_duration": -1}));
        let err = problems.into_result().unwrap_err();
        let details = &err.body()["details"];
        for field in ["from", "to", "recording_url", "started_at", "call_duration"] {
            assert!(details.get(format!("voice_comment.{field}")).is_some(), "{field}: {details}");
        }
    }
}
