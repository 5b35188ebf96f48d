//! ctihub's records in Zendesk's JSON shapes (users, tickets, organizations, custom fields,
//! comments), with every attribute a client may read present, unset ones as `null`.

use ctihub_domain::custom_field::{CustomField, FieldTarget, FieldType};
use ctihub_domain::organization::Organization;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::{Channel, Comment, Ticket, Via};
use ctihub_domain::time::format_millis;
use ctihub_domain::user::User;
use serde_json::{Map, Value, json};

use crate::html::escape;

/// The phone Zendesk's single `phone` attribute shows: the phone field, else any number.
pub(crate) fn main_phone(user: &User) -> Option<&str> {
    user.phone_of(PhoneKind::Phone).or_else(|| user.phones.first().map(|p| p.raw.as_str()))
}

pub(crate) fn user(base: &str, user: &User, fields: &[CustomField]) -> Value {
    let user_fields: Map<String, Value> = fields
        .iter()
        .map(|f| (f.key.clone(), user.custom_fields.get(&f.key).cloned().unwrap_or(Value::Null)))
        .collect();
    let role = user.role.as_str();
    let staff = user.role.is_staff();
    json!({
        "id": user.id,
        "url": format!("{base}/api/v2/users/{}.json", user.id),
        "name": user.name,
        "email": user.email,
        "created_at": format_millis(user.created_at),
        "updated_at": format_millis(user.updated_at),
        "time_zone": "UTC",
        "iana_time_zone": "Etc/UTC",
        "phone": main_phone(user),
        "shared_phone_number": false,
        "photo": null,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": user.organization_id,
        "role": role,
        "verified": user.email.is_some(),
        "external_id": user.external_id,
        "tags": user.tags,
        "alias": null,
        "active": user.active,
        "shared": false,
        "shared_agent": false,
        "last_login_at": null,
        "two_factor_auth_enabled": false,
        "signature": null,
        "details": null,
        "notes": null,
        "role_type": null,
        "custom_role_id": null,
        "moderator": staff,
        "ticket_restriction": if staff { Value::Null } else { json!("requested") },
        "only_private_comments": false,
        "restricted_agent": false,
        "suspended": !user.active,
        "default_group_id": null,
        "report_csv": false,
        "user_fields": user_fields,
    })
}

/// Zendesk names voice channels `voice` and tells them apart by `source.rel`.
fn via(via: &Via) -> Value {
    let (channel, rel) = match via.channel {
        Channel::Web => ("web", None),
        Channel::Email => ("email", None),
        Channel::Api => ("api", None),
        Channel::Voicemail => ("voice", Some("voicemail")),
        Channel::PhoneInbound => ("voice", Some("inbound")),
        Channel::PhoneOutbound => ("voice", Some("outbound")),
    };
    let mut source = match &via.source {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    source.entry("from").or_insert_with(|| json!({}));
    source.entry("to").or_insert_with(|| json!({}));
    source.entry("rel").or_insert(rel.map_or(Value::Null, Value::from));
    json!({"channel": channel, "source": source})
}

/// `[{id, value}]` for every ticket field, set or not, as Zendesk lists them.
pub(crate) fn custom_field_values(ticket: &Ticket, fields: &[CustomField]) -> Value {
    fields
        .iter()
        .map(|f| json!({"id": f.id, "value": ticket.custom_fields.get(&f.key).cloned().unwrap_or(Value::Null)}))
        .collect()
}

pub(crate) fn ticket(base: &str, ticket: &Ticket, fields: &[CustomField]) -> Value {
    let custom = custom_field_values(ticket, fields);
    json!({
        "url": format!("{base}/api/v2/tickets/{}.json", ticket.id),
        "id": ticket.id,
        "external_id": ticket.external_id,
        "via": via(&ticket.via),
        "created_at": format_millis(ticket.created_at),
        "updated_at": format_millis(ticket.updated_at),
        "type": ticket.ticket_type.map(|t| t.as_str()),
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.description,
        "priority": ticket.priority.map(|p| p.as_str()),
        "status": ticket.status.as_str(),
        "recipient": null,
        "requester_id": ticket.requester_id,
        "submitter_id": ticket.submitter_id,
        "assignee_id": ticket.assignee_id,
        "organization_id": ticket.organization_id,
        "group_id": ticket.group_id,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": null,
        "problem_id": null,
        "has_incidents": false,
        "is_public": true,
        "due_at": null,
        "tags": ticket.tags,
        "custom_fields": custom,
        "satisfaction_rating": null,
        "sharing_agreement_ids": [],
        "fields": custom,
        "followup_ids": [],
        "ticket_form_id": null,
        "brand_id": null,
        "allow_channelback": false,
        "allow_attachments": true,
        "from_messaging_channel": false,
    })
}

pub(crate) fn organization(base: &str, org: &Organization) -> Value {
    json!({
        "id": org.id,
        "url": format!("{base}/api/v2/organizations/{}.json", org.id),
        "name": org.name,
        "external_id": org.external_id,
        "domain_names": org.domain_names,
        "details": null,
        "notes": org.notes,
        "group_id": null,
        "shared_tickets": false,
        "shared_comments": false,
        "tags": org.tags,
        "organization_fields": {},
        "created_at": format_millis(org.created_at),
        "updated_at": format_millis(org.updated_at),
    })
}

/// Zendesk's field types: ctihub's `phone` fields read as `text` there.
fn field_type(field: &CustomField) -> &'static str {
    match field.field_type {
        FieldType::Text | FieldType::Phone => "text",
        FieldType::Integer => "integer",
        FieldType::Decimal => "decimal",
        FieldType::Checkbox => "checkbox",
        FieldType::Date => "date",
        FieldType::Dropdown => "dropdown",
    }
}

/// A `user_field` or `ticket_field`.
pub(crate) fn custom_field(base: &str, field: &CustomField) -> Value {
    let (collection, key) = match field.target {
        FieldTarget::User => ("user_fields", Value::from(field.key.clone())),
        FieldTarget::Ticket => ("ticket_fields", Value::Null),
    };
    let options: Vec<Value> = field
        .options
        .iter()
        .enumerate()
        .map(
            |(i, o)| json!({"id": field.id * 100 + i as i64 + 1, "name": o.name, "raw_name": o.name, "value": o.value}),
        )
        .collect();
    let mut object = json!({
        "id": field.id,
        "url": format!("{base}/api/v2/{collection}/{}.json", field.id),
        "type": field_type(field),
        "key": key,
        "title": field.title,
        "raw_title": field.title,
        "description": field.description.clone().unwrap_or_default(),
        "raw_description": field.description.clone().unwrap_or_default(),
        "position": field.position,
        "active": field.active,
        "required": false,
        "system": false,
        "regexp_for_validation": null,
        "created_at": format_millis(field.created_at),
        "updated_at": format_millis(field.updated_at),
    });
    if field.field_type == FieldType::Dropdown {
        object["custom_field_options"] = Value::Array(options);
    }
    if field.target == FieldTarget::Ticket {
        object["visible_in_portal"] = json!(false);
        object["editable_in_portal"] = json!(false);
        object["required_in_portal"] = json!(false);
        object["title_in_portal"] = json!(field.title);
    }
    object
}

/// A ticket's comments as one page of Zendesk's comments list (the whole conversation).
pub(crate) fn comments_page<'a>(comments: impl Iterator<Item = &'a Comment>) -> Value {
    let comments: Vec<Value> = comments.map(comment).collect();
    let count = comments.len();
    json!({"comments": comments, "next_page": null, "previous_page": null, "count": count})
}

/// A comment as the comments list and audit events show it. A voice comment carries its call
/// data under `data`, as Zendesk's `VoiceComment` does.
pub(crate) fn comment(comment: &Comment) -> Value {
    let mut object = json!({
        "id": comment.id,
        "type": if comment.voice.is_some() { "VoiceComment" } else { "Comment" },
        "author_id": comment.author_id,
        "body": comment.body,
        "html_body": format!("<div class=\"zd-comment\"><p>{}</p></div>", escape(&comment.body)),
        "plain_body": comment.body,
        "public": comment.public,
        "attachments": [],
        "audit_id": comment.id,
        "created_at": format_millis(comment.created_at),
    });
    if let Some(voice) = &comment.voice {
        object["data"] = json!({
            "from": voice.from,
            "to": voice.to,
            "recording_url": voice.recording_url,
            "started_at": voice.started_at.map(format_millis),
            "call_duration": voice.duration,
            "answered_by_id": voice.answered_by_id,
            "transcription_text": voice.transcript,
            "location": voice.location,
            "call_id": voice.call_id,
        });
        object["transcription_visible"] = json!(voice.transcript.is_some());
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_channels_read_as_voice_with_their_direction() {
        let v = via(&Via { channel: Channel::Voicemail, source: json!({"from": {"phone": "+1"}}) });
        assert_eq!(v["channel"], "voice");
        assert_eq!(v["source"]["rel"], "voicemail");
        assert_eq!(v["source"]["from"]["phone"], "+1");
        assert_eq!(via(&Via::default())["channel"], "api");
    }
}
