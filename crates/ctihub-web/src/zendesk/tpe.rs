//! The Talk Partner Edition call object on the shared Call aggregate: its field table, how a
//! request body is read into a call (types, enums, mandatory fields, lenient timestamps), how a
//! call is answered, and the voice comment that shows a call in its ticket.
//!
//! Fields the Call has a column for live in `CallData`'s typed fields, so journals and reports of
//! every dialect see them; the rest live in `details` under their TPE names.

use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, CallState, CompletionStatus, Direction};
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_domain::ticket::{Channel, Comment, VoicePart};
use ctihub_domain::time::{Millis, format_millis, parse_timestamp};
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use super::error::Problems;
use super::field_label;
use crate::html::escape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Boolean,
    Text,
    Time,
    Choice(&'static [&'static str]),
}

/// A field of the call object as the TPE documentation lists it.
#[derive(Debug)]
struct Spec {
    name: &'static str,
    kind: Kind,
    mandatory: bool,
}

const DIRECTIONS: &[&str] = &["inbound", "outbound", "internal", "callback"];
const COMPLETION_STATUSES: &[&str] = &[
    "completed",
    "abandoned_in_queue",
    "abandoned_in_ivr",
    "abandoned_in_voicemail",
    "abandoned_on_hold",
    "pending_voicemail",
    "missed",
    "declined",
    "dropped",
    "dropped_by_caller",
    "dropped_by_agent",
];
const RECORDING_CONSENTS: &[&str] = &["always", "opt_in", "opt_out", "never"];
const CALLBACK_SOURCES: &[&str] = &["queue", "web widget"];

const fn spec(name: &'static str, kind: Kind) -> Spec {
    Spec { name, kind, mandatory: false }
}

const fn mandatory(name: &'static str, kind: Kind) -> Spec {
    Spec { name, kind, mandatory: true }
}

use Kind::{Boolean, Choice, Integer, Text, Time};

/// Every field a client may write, in the documentation's order. `id`, `created_at` and
/// `updated_at` are the system's and are not read.
const FIELDS: &[Spec] = &[
    spec("agent_id", Integer),
    mandatory("app_id", Integer),
    spec("brand_id", Integer),
    spec("call_disposition", Text),
    spec("call_ended_at", Time),
    spec("call_recording_consent", Choice(RECORDING_CONSENTS)),
    spec("call_recording_consent_action", Text),
    mandatory("call_started_at", Time),
    spec("call_type", Text),
    spec("callback_number", Text),
    spec("callback_source", Choice(CALLBACK_SOURCES)),
    spec("completion_status", Choice(COMPLETION_STATUSES)),
    spec("consultation_time", Integer),
    spec("customer_requested_voicemail", Boolean),
    mandatory("direction", Choice(DIRECTIONS)),
    spec("dnis", Text),
    spec("duration", Integer),
    spec("end_user_id", Integer),
    spec("end_user_location", Text),
    spec("exceeded_queue_time", Boolean),
    spec("external_id", Text),
    mandatory("from_line", Text),
    spec("from_line_nickname", Text),
    spec("hold_time", Integer),
    spec("ivr_action", Text),
    spec("ivr_destination_group_name", Text),
    spec("ivr_hops", Integer),
    spec("ivr_routed_to", Text),
    spec("ivr_time_spent", Integer),
    spec("not_recording_time", Integer),
    spec("organization_id", Integer),
    spec("outside_business_hours", Boolean),
    spec("overflowed", Boolean),
    spec("overflowed_to", Text),
    spec("phone_name", Text),
    spec("queue_name", Text),
    spec("queue_time", Integer),
    spec("recording_control_interactions", Integer),
    spec("recording_time", Integer),
    spec("recording_url", Text),
    spec("talk_time", Integer),
    spec("ticket_id", Integer),
    spec("time_to_answer", Integer),
    mandatory("to_line", Text),
    spec("to_line_nickname", Text),
    spec("transcript", Text),
    spec("voicemail", Boolean),
    spec("wait_time", Integer),
    spec("wrap_up_time", Integer),
];

/// The fields every voice comment shows: the call object's mandatory ones.
pub(crate) const REQUIRED_COMMENT_FIELDS: &[&str] = &["app_id", "from_line", "to_line", "call_started_at", "direction"];

/// The documentation's "Valid comment fields": names outside this list and the required ones
/// are ignored.
pub(crate) const VALID_COMMENT_FIELDS: &[&str] = &[
    "agent_id",
    "call_disposition",
    "call_ended_at",
    "call_recording_consent_action",
    "call_type",
    "callback_number",
    "completion_status",
    "consultation_time",
    "dnis",
    "duration",
    "end_user_location",
    "exceeded_queue_time",
    "hold_time",
    "ivr_destination_group_name",
    "ivr_time_spent",
    "location",
    "outside_business_hours",
    "overflowed_to",
    "phone_name",
    "queue_name",
    "queue_time",
    "recording_url",
    "talk_time",
    "time_to_answer",
    "transcript",
    "wait_time",
    "external_id",
];

/// A field's value as read from a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Integer(i64),
    Boolean(bool),
    Text(String),
    Time(Millis),
    Choice(&'static str),
}

impl FieldValue {
    fn to_json(&self) -> Value {
        match self {
            FieldValue::Integer(n) => json!(n),
            FieldValue::Boolean(b) => json!(b),
            FieldValue::Text(s) => json!(s),
            FieldValue::Time(t) => json!(format_millis(*t)),
            FieldValue::Choice(c) => json!(c),
        }
    }

    fn integer(&self) -> Option<i64> {
        match self {
            FieldValue::Integer(n) => Some(*n),
            _ => None,
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            FieldValue::Text(s) => Some(s.clone()),
            FieldValue::Choice(c) => Some((*c).to_owned()),
            _ => None,
        }
    }

    fn time(&self) -> Option<Millis> {
        match self {
            FieldValue::Time(t) => Some(*t),
            _ => None,
        }
    }
}

/// Whether a body creates a call or changes one: the rules for `app_id`, `ticket_id` and
/// mandatory fields differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Update,
}

/// The fields a request sets, in table order. `None` clears a field (`null` or `""`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CallInput {
    pub values: Vec<(&'static str, Option<FieldValue>)>,
}

impl CallInput {
    pub fn get(&self, name: &str) -> Option<&Option<FieldValue>> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An id-valued field the request sets to a value.
    pub fn id(&self, name: &str) -> Option<Id> {
        self.get(name).and_then(|v| v.as_ref()).and_then(FieldValue::integer)
    }

    fn required_text(&self, name: &str) -> String {
        self.get(name).and_then(|v| v.as_ref()).and_then(FieldValue::text).unwrap_or_default()
    }
}

/// Read a call object. Every problem is collected; unknown fields are ignored, as are the
/// read-only `id`, `created_at`, `updated_at` (and `app_id` once the call exists).
pub(crate) fn parse_call(object: &Map<String, Value>, mode: Mode, problems: &mut Problems) -> CallInput {
    let mut input = CallInput::default();
    if mode == Mode::Create && object.contains_key("ticket_id") {
        // The documentation's rule: the ticket comes from the comment, never from the body.
        problems.invalid("ticket_id", "must not be included when creating a call, not even as null");
    }
    for field in FIELDS {
        if (mode == Mode::Create && field.name == "ticket_id") || (mode == Mode::Update && field.name == "app_id") {
            continue;
        }
        let Some(raw) = object.get(field.name) else {
            if mode == Mode::Create && field.mandatory {
                problems.blank(field.name);
            }
            continue;
        };
        match read_value(field.kind, raw) {
            Ok(None) if field.mandatory => problems.blank(field.name),
            Ok(value) => input.values.push((field.name, value)),
            Err(message) => problems.invalid(field.name, message),
        }
    }
    input
}

/// One value by its kind. `Ok(None)` is a cleared field; clients send `null` and, for fields
/// that "should be empty", `""`.
fn read_value(kind: Kind, raw: &Value) -> Result<Option<FieldValue>, String> {
    if raw.is_null() || raw.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(None);
    }
    match kind {
        Kind::Integer => {
            read_integer(raw).map(|n| Some(FieldValue::Integer(n))).ok_or_else(|| "must be an integer".into())
        }
        Kind::Boolean => {
            let value = match raw {
                Value::Bool(b) => Some(*b),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => None,
                },
                Value::Number(n) => match n.as_i64() {
                    Some(1) => Some(true),
                    Some(0) => Some(false),
                    _ => None,
                },
                _ => None,
            };
            value.map(|b| Some(FieldValue::Boolean(b))).ok_or_else(|| "must be true or false".into())
        }
        Kind::Text => match raw {
            Value::String(s) => Ok(Some(FieldValue::Text(s.clone()))),
            // A number where text is expected (`"dnis": 80012345`) is what it says.
            Value::Number(n) => Ok(Some(FieldValue::Text(n.to_string()))),
            _ => Err("must be a string".into()),
        },
        Kind::Time => {
            let text = raw.as_str().ok_or("must be an ISO 8601 date and time")?;
            parse_timestamp(text, &TimeZone::UTC)
                .map(|ts| Some(FieldValue::Time(ts.as_millisecond())))
                .ok_or_else(|| format!("`{text}` is not an ISO 8601 date and time"))
        }
        Kind::Choice(allowed) => {
            let text = raw.as_str().map(|s| s.trim().to_ascii_lowercase().replace('_', " ")).unwrap_or_default();
            allowed
                .iter()
                .find(|a| a.replace('_', " ") == text)
                .map(|a| Some(FieldValue::Choice(a)))
                .ok_or_else(|| format!("is not one of {}", allowed.join(", ")))
        }
    }
}

/// Integers as numbers, whole floats, or digit strings: PBX scripts send all three.
fn read_integer(raw: &Value) -> Option<i64> {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    match raw {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= SAFE).map(|f| f as i64))
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A new call from a create body that passed [`parse_call`].
pub(crate) fn new_call(input: &CallInput) -> CallData {
    let direction = Direction::parse(&input.required_text("direction")).unwrap_or(Direction::Inbound);
    let started_at = input.get("call_started_at").and_then(|v| v.as_ref()).and_then(FieldValue::time).unwrap_or(0);
    let mut data = CallData::new(
        direction,
        input.required_text("from_line").trim(),
        input.required_text("to_line").trim(),
        started_at,
    );
    apply(&mut data, input, Mode::Create);
    data
}

/// Write the request's fields into a call, then bring the journal state in line with them.
pub(crate) fn apply(data: &mut CallData, input: &CallInput, mode: Mode) {
    for (name, value) in &input.values {
        set(data, name, value.as_ref());
    }
    derive_journal_state(data, input, mode);
}

fn set(data: &mut CallData, name: &str, value: Option<&FieldValue>) {
    let text = || value.and_then(FieldValue::text);
    let integer = || value.and_then(FieldValue::integer);
    match name {
        "direction" => {
            if let Some(direction) = text().and_then(|t| Direction::parse(&t).ok()) {
                data.direction = direction;
            }
        }
        "from_line" => data.from_line = text().unwrap_or_default().trim().to_owned(),
        "to_line" => data.to_line = text().unwrap_or_default().trim().to_owned(),
        "call_started_at" => {
            if let Some(at) = value.and_then(FieldValue::time) {
                data.started_at = at;
            }
        }
        "call_ended_at" => data.ended_at = value.and_then(FieldValue::time),
        // The calling side's name is the line nickname for outbound calls, and the called
        // side's for inbound ones, which is what the journal shows on the agent's side.
        "from_line_nickname" => data.from_name = text(),
        "to_line_nickname" => data.to_name = text(),
        "dnis" => data.dnis = text(),
        "queue_name" => data.queue_name = text(),
        "recording_url" => data.recording_url = text(),
        "transcript" => data.transcript = text(),
        "completion_status" => data.completion_status = text().and_then(|t| CompletionStatus::parse(&t).ok()),
        "agent_id" => data.agent_id = integer(),
        "end_user_id" => data.end_user_id = integer(),
        "organization_id" => data.organization_id = integer(),
        "ticket_id" => data.ticket_id = integer(),
        "duration" => data.duration = integer(),
        "time_to_answer" => data.time_to_answer = integer(),
        "talk_time" => data.talk_time = integer(),
        "hold_time" => data.hold_time = integer(),
        "wait_time" => data.wait_time = integer(),
        "wrap_up_time" => data.wrap_up_time = integer(),
        "queue_time" => data.queue_time = integer(),
        other => match value {
            Some(v) => {
                data.details.insert(other.to_owned(), v.to_json());
            }
            None => {
                data.details.remove(other);
            }
        },
    }
}

/// State, answer time and "needs a callback" follow from what the partner reports, so a TPE
/// call reads in the journal like a call pushed event by event.
fn derive_journal_state(data: &mut CallData, input: &CallInput, mode: Mode) {
    data.state = if data.ended_at.is_some() || data.completion_status.is_some() {
        CallState::Ended
    } else if data.agent_id.is_some() || data.answered_at.is_some() {
        CallState::InProgress
    } else {
        CallState::Ringing
    };
    let answered = data.completion_status == Some(CompletionStatus::Completed)
        || (data.agent_id.is_some() && !data.completion_status.is_some_and(unanswered_status));
    if answered && data.answered_at.is_none() {
        data.answered_at = Some(data.started_at + data.time_to_answer.or(data.wait_time).unwrap_or(0).max(0) * 1000);
    }
    // A journal entry someone marked done stays done unless the partner reports something new
    // about the call's outcome.
    const OUTCOME: &[&str] = &["direction", "completion_status", "agent_id", "voicemail", "call_ended_at"];
    if mode == Mode::Create || OUTCOME.iter().any(|f| input.has(f)) {
        data.done = !needs_callback(data);
    }
}

fn unanswered_status(status: CompletionStatus) -> bool {
    use CompletionStatus::*;
    matches!(
        status,
        AbandonedInQueue
            | AbandonedInIvr
            | AbandonedInVoicemail
            | AbandonedOnHold
            | PendingVoicemail
            | Missed
            | Declined
    )
}

/// Zammad's rule in TPE terms: an inbound call (or a callback request) nobody answered, or one
/// that ended in voicemail, needs a callback.
fn needs_callback(data: &CallData) -> bool {
    if !matches!(data.direction, Direction::Inbound | Direction::Callback) {
        return false;
    }
    let voicemail = data.details.get("voicemail") == Some(&Value::Bool(true));
    match data.completion_status {
        Some(status) if unanswered_status(status) => true,
        Some(CompletionStatus::Completed) => voicemail,
        _ => data.agent_id.is_none() || voicemail,
    }
}

/// The value a call has for one field of the call object; `null` when unset.
pub(crate) fn field_value(call: &Call, name: &str) -> Value {
    let data = &call.data;
    let opt_text = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| json!(s));
    let opt_int = |v: Option<i64>| v.map_or(Value::Null, |n| json!(n));
    match name {
        "id" => json!(call.id),
        "created_at" => json!(format_millis(call.created_at)),
        "updated_at" => json!(format_millis(call.updated_at)),
        "direction" => json!(data.direction.as_str()),
        "from_line" => json!(data.from_line),
        "to_line" => json!(data.to_line),
        "call_started_at" => json!(format_millis(data.started_at)),
        "call_ended_at" => data.ended_at.map_or(Value::Null, |t| json!(format_millis(t))),
        "from_line_nickname" => opt_text(&data.from_name),
        "to_line_nickname" => opt_text(&data.to_name),
        "dnis" => opt_text(&data.dnis),
        "queue_name" => opt_text(&data.queue_name),
        "recording_url" => opt_text(&data.recording_url),
        "transcript" => opt_text(&data.transcript),
        "completion_status" => data.completion_status.map_or(Value::Null, |c| json!(c.as_str())),
        "agent_id" => opt_int(data.agent_id),
        "end_user_id" => opt_int(data.end_user_id),
        "organization_id" => opt_int(data.organization_id),
        "ticket_id" => opt_int(data.ticket_id),
        "duration" => opt_int(data.duration),
        "time_to_answer" => opt_int(data.time_to_answer),
        "talk_time" => opt_int(data.talk_time),
        "hold_time" => opt_int(data.hold_time),
        "wait_time" => opt_int(data.wait_time),
        "wrap_up_time" => opt_int(data.wrap_up_time),
        "queue_time" => opt_int(data.queue_time),
        // A call another dialect recorded is known by that source's id.
        "external_id" => match data.details.get("external_id") {
            Some(v) => v.clone(),
            None => call.external_refs.first().map_or(Value::Null, |r| json!(r.external_id)),
        },
        "location" => field_value(call, "end_user_location"),
        other => data.details.get(other).cloned().unwrap_or(Value::Null),
    }
}

/// Every field of the call object in the order [`render`] writes them: `id`, the documented
/// fields, then the system's timestamps.
pub(crate) fn field_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("id").chain(FIELDS.iter().map(|f| f.name)).chain(["created_at", "updated_at"])
}

/// The call object as Zendesk answers it: every documented field, `null` when unset, times
/// in UTC.
pub(crate) fn render(call: &Call) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), json!(call.id));
    for field in FIELDS {
        object.insert(field.name.into(), field_value(call, field.name));
    }
    object.insert("created_at".into(), field_value(call, "created_at"));
    object.insert("updated_at".into(), field_value(call, "updated_at"));
    Value::Object(object)
}

/// The comment fields to show: the requested ones the documentation allows, in the order
/// asked, then the required ones not asked for. Other names are ignored, as documented.
pub(crate) fn comment_fields(requested: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let allowed = |n: &str| REQUIRED_COMMENT_FIELDS.contains(&n) || VALID_COMMENT_FIELDS.contains(&n);
    for name in requested.iter().map(|n| n.trim()).chain(REQUIRED_COMMENT_FIELDS.iter().copied()) {
        if allowed(name) && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The voice part of a comment about `call`, showing `names` (as [`comment_fields`] chose them)
/// with the call's current values.
pub(crate) fn voice_part(call: &Call, names: &[String]) -> VoicePart {
    VoicePart {
        call_fields: names.iter().map(|n| (n.clone(), field_value(call, n))).collect(),
        ..VoicePart::of_call(call)
    }
}

/// The ticket channel a call's ticket comes in on.
pub(crate) fn channel(data: &CallData) -> Channel {
    match data.direction {
        Direction::Outbound => Channel::PhoneOutbound,
        _ if data.details.get("voicemail") == Some(&Value::Bool(true)) => Channel::Voicemail,
        _ => Channel::PhoneInbound,
    }
}

/// A voice comment as the Calls API answers it (`TpeVoiceComment`): zenpy recognises it by
/// `type` and hands the object to the caller as it is.
pub(crate) fn render_voice_comment(comment: &Comment, call: &Call, phones: &PhoneNormalizer) -> Value {
    let voice = comment.voice.clone().unwrap_or_else(|| voice_part(call, &comment_fields(&[])));
    let mut data = Map::new();
    data.insert("app_id".into(), field_value(call, "app_id"));
    // TPE apps have names in Zendesk's marketplace; ctihub knows them by id only.
    data.insert("app_name".into(), Value::Null);
    data.insert("author_id".into(), json!(comment.author_id));
    data.insert("call_id".into(), json!(call.id));
    data.insert("direction".into(), json!(call.data.direction.as_str()));
    data.insert("external_id".into(), field_value(call, "external_id"));
    data.insert("title".into(), json!(comment.body));
    data.insert("via_id".into(), json!(channel(&call.data).via_id()));
    // Zendesk always sends the recording, `""` when there is none.
    data.insert("recording_url".into(), json!(call.data.recording_url.as_deref().unwrap_or("")));
    for (name, value) in &voice.call_fields {
        data.insert(name.clone(), value.clone());
    }
    json!({
        "id": comment.id,
        "type": "TpeVoiceComment",
        "public": comment.public,
        "ticket_id": comment.ticket_id,
        "author_id": comment.author_id,
        "title": comment.body,
        "data": data,
        "formatted_from": phones.pretty(&call.data.from_line),
        "formatted_to": phones.pretty(&call.data.to_line),
        "transcription_visible": voice.transcript.is_some(),
        "body": text_body(&comment.body, &voice),
        "html_body": html_body(&comment.body, &voice),
        "trusted": true,
        "attachments": [],
        "audit_id": null,
        "created_at": format_millis(comment.created_at),
    })
}

fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The comment as plain text: title, one line per call field, recording, transcript.
pub(crate) fn text_body(title: &str, voice: &VoicePart) -> String {
    let mut out = String::from(title);
    out.push('\n');
    for (name, value) in voice.call_fields.iter().filter(|(n, _)| n != "transcript") {
        out.push_str(&format!("\n{}: {}", field_label(name), display(value)));
    }
    if let Some(url) = &voice.recording_url {
        out.push_str(&format!("\n\nRecording: {url}"));
    }
    if let Some(transcript) = &voice.transcript {
        out.push_str(&format!("\n\nTranscript:\n{transcript}"));
    }
    out
}

/// The comment as HTML: the call fields as a definition list, the recording as an audio player
/// with its URL beside it, the transcript as text with its line breaks.
pub(crate) fn html_body(title: &str, voice: &VoicePart) -> String {
    let mut out = format!("<div class=\"voice-comment\"><p>{}</p><dl class=\"call-fields\">", escape(title));
    for (name, value) in voice.call_fields.iter().filter(|(n, _)| n != "transcript") {
        out.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(&field_label(name)), escape(&display(value))));
    }
    out.push_str("</dl>");
    if let Some(url) = &voice.recording_url {
        let url = escape(url);
        out.push_str(&format!(
            "<p class=\"recording\"><audio controls preload=\"none\" src=\"{url}\"></audio> <a href=\"{url}\">{url}</a></p>"
        ));
    }
    if let Some(transcript) = &voice.transcript {
        out.push_str(&format!("<p class=\"transcript\">{}</p>", escape(transcript).replace('\n', "<br>")));
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value, mode: Mode) -> (CallInput, Value) {
        let mut problems = Problems::default();
        let input = parse_call(body.as_object().unwrap(), mode, &mut problems);
        let errors = match problems.into_result() {
            Ok(()) => Value::Null,
            Err(e) => e.body()["details"].clone(),
        };
        (input, errors)
    }

    #[test]
    fn the_documented_table_is_complete() {
        assert_eq!(FIELDS.len() + 3, 52, "the doc lists 52 fields with id, created_at and updated_at");
        let mandatory: Vec<&str> = FIELDS.iter().filter(|f| f.mandatory).map(|f| f.name).collect();
        assert_eq!(mandatory, ["app_id", "call_started_at", "direction", "from_line", "to_line"]);
        for name in VALID_COMMENT_FIELDS.iter().filter(|n| **n != "location") {
            assert!(FIELDS.iter().any(|f| f.name == *name), "{name}");
        }
    }

    #[test]
    fn values_are_read_by_type_leniently_where_clients_differ() {
        let (input, errors) = parse(
            json!({
                "app_id": "735264019863524", "call_started_at": "2022-01-27T15:31:40+01", "direction": "Inbound",
                "from_line": " +183808333456 ", "to_line": "+149488484873", "duration": 345.0, "voicemail": "false",
                "dnis": 80012345, "completion_status": "", "callback_source": "web_widget", "nonsense": [1],
            }),
            Mode::Create,
        );
        assert_eq!(errors, Value::Null);
        assert_eq!(input.get("app_id"), Some(&Some(FieldValue::Integer(735_264_019_863_524))));
        assert_eq!(input.get("call_started_at"), Some(&Some(FieldValue::Time(1_643_293_900_000))));
        assert_eq!(input.get("direction"), Some(&Some(FieldValue::Choice("inbound"))));
        assert_eq!(input.get("duration"), Some(&Some(FieldValue::Integer(345))));
        assert_eq!(input.get("voicemail"), Some(&Some(FieldValue::Boolean(false))));
        assert_eq!(input.get("dnis"), Some(&Some(FieldValue::Text("80012345".into()))));
        assert_eq!(input.get("completion_status"), Some(&None), "empty means in progress");
        assert_eq!(input.get("callback_source"), Some(&Some(FieldValue::Choice("web widget"))));
        assert!(!input.has("nonsense"));
        let data = new_call(&input);
        assert_eq!(data.from_line, "+183808333456");
        assert_eq!(data.details["app_id"], json!(735_264_019_863_524_i64));
    }

    #[test]
    fn every_problem_is_reported_per_field() {
        let (_, errors) = parse(
            json!({"ticket_id": null, "direction": "sideways", "duration": "long", "voicemail": "maybe",
                   "from_line": "", "call_started_at": "yesterday", "transcript": {"text": "x"}}),
            Mode::Create,
        );
        let fields: Vec<&str> = errors.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "app_id",
                "call_started_at",
                "direction",
                "duration",
                "from_line",
                "ticket_id",
                "to_line",
                "transcript",
                "voicemail"
            ]
        );
        assert_eq!(errors["from_line"][0]["error"], "BlankValue");
        assert_eq!(errors["app_id"][0]["description"], "App: cannot be blank");
        assert_eq!(
            errors["direction"][0]["description"],
            "Direction: is not one of inbound, outbound, internal, callback"
        );
    }

    #[test]
    fn updates_ignore_app_id_and_may_set_the_ticket() {
        let (input, errors) = parse(json!({"app_id": "x", "ticket_id": 5, "id": 9, "from_line": null}), Mode::Update);
        assert_eq!(errors["from_line"][0]["error"], "BlankValue", "a mandatory field cannot be cleared");
        assert!(errors.get("app_id").is_none());
        assert_eq!(input.id("ticket_id"), Some(5));
        assert!(!input.has("id"));
    }

    #[test]
    fn journal_state_follows_the_reported_outcome() {
        let input = |body: Value| parse(body, Mode::Update).0;
        let mut data = CallData::new(Direction::Inbound, "1", "2", 10_000);
        data.done = true;
        apply(&mut data, &CallInput::default(), Mode::Create);
        assert_eq!((data.state, data.done), (CallState::Ringing, false), "ringing inbound calls need attention");
        apply(&mut data, &input(json!({"agent_id": 7, "time_to_answer": 5})), Mode::Update);
        assert_eq!((data.state, data.done, data.answered_at), (CallState::InProgress, true, Some(15_000)));
        apply(&mut data, &input(json!({"completion_status": "completed", "voicemail": true})), Mode::Update);
        assert_eq!((data.state, data.done), (CallState::Ended, false), "a voicemail needs a callback");

        let mut missed = CallData::new(Direction::Inbound, "1", "2", 0);
        apply(&mut missed, &input(json!({"completion_status": "abandoned_in_queue"})), Mode::Create);
        assert_eq!((missed.state, missed.done, missed.answered_at), (CallState::Ended, false, None));
        missed.done = true;
        apply(&mut missed, &input(json!({"recording_url": "https://r.example/1.mp3"})), Mode::Update);
        assert!(missed.done, "marked done stays done when nothing about the outcome changed");

        let mut outbound = CallData::new(Direction::Outbound, "1", "2", 0);
        apply(&mut outbound, &input(json!({"completion_status": "missed"})), Mode::Create);
        assert!(outbound.done, "outbound calls never need a callback");
    }

    #[test]
    fn comment_fields_keep_the_order_asked_and_add_the_required() {
        let asked: Vec<String> = ["duration", "bogus", "from_line", "location", "duration"].map(String::from).into();
        assert_eq!(
            comment_fields(&asked),
            ["duration", "from_line", "location", "app_id", "to_line", "call_started_at", "direction"]
        );
        assert_eq!(comment_fields(&[]), REQUIRED_COMMENT_FIELDS);
    }

    #[test]
    fn bodies_escape_what_partners_send() {
        let voice = VoicePart {
            recording_url: Some("https://r.example/a.mp3?x=1&y=\"2\"".into()),
            transcript: Some("<b>hi</b>\nthere".into()),
            call_fields: vec![("queue_name".into(), json!("a<b")), ("duration".into(), json!(5))],
            ..Default::default()
        };
        let html = html_body("T & C", &voice);
        assert!(html.contains("<p>T &amp; C</p>"));
        assert!(html.contains("<dt>Queue name</dt><dd>a&lt;b</dd><dt>Duration</dt><dd>5</dd>"));
        assert!(
            html.contains("<audio controls preload=\"none\" src=\"https://r.example/a.mp3?x=1&amp;y=&quot;2&quot;\">")
        );
        assert!(html.contains("&lt;b&gt;hi&lt;/b&gt;<br>there"));
        let text = text_body("T", &voice);
        assert_eq!(
            text,
            "T\n\nQueue name: a<b\nDuration: 5\n\nRecording: https://r.example/a.mp3?x=1&y=\"2\"\n\nTranscript:\n<b>hi</b>\nthere"
        );
    }
}
