//! A ticket body as create and update read it: subject, comment, voice comment, status,
//! priority, type, people, group, organization, tags and custom fields, checked before anything
//! is written.

use std::collections::BTreeMap;

use ctihub_domain::Id;
use ctihub_domain::custom_field::CustomField;
use ctihub_domain::ticket::{Priority, TicketStatus, TicketType};
use ctihub_domain::user::{Email, Role};
use serde_json::{Map, Value};

use super::attributes::{enum_value, optional_id, optional_text, tags};
use super::error::{Problems, ZendeskError};
use super::voice_comment::VoiceCommentInput;
use crate::AppState;

/// The comment a create or update adds.
pub(crate) struct CommentInput {
    pub(crate) body: String,
    pub(crate) public: bool,
    pub(crate) author_id: Option<Id>,
}

/// `requester: {name, email, phone}`: the requester by e-mail address, created when new.
pub(crate) struct RequesterInput {
    pub(crate) name: Option<String>,
    pub(crate) email: Option<Email>,
    pub(crate) phone: Option<String>,
}

/// What a ticket body says, checked. `None` leaves an attribute alone.
#[derive(Default)]
pub(crate) struct TicketInput {
    pub(crate) subject: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) comment: Option<CommentInput>,
    pub(crate) voice_comment: Option<VoiceCommentInput>,
    pub(crate) status: Option<TicketStatus>,
    pub(crate) priority: Option<Option<Priority>>,
    pub(crate) ticket_type: Option<Option<TicketType>>,
    pub(crate) requester_id: Option<Id>,
    pub(crate) requester: Option<RequesterInput>,
    pub(crate) submitter_id: Option<Id>,
    pub(crate) assignee_id: Option<Option<Id>>,
    pub(crate) group_id: Option<Option<Id>>,
    pub(crate) organization_id: Option<Option<Id>>,
    pub(crate) tags: Option<Vec<String>>,
    pub(crate) additional_tags: Vec<String>,
    pub(crate) remove_tags: Vec<String>,
    pub(crate) custom_fields: BTreeMap<String, Value>,
    pub(crate) external_id: Option<Option<String>>,
}

impl TicketInput {
    pub(crate) fn read(object: &Map<String, Value>, fields: &[CustomField], problems: &mut Problems) -> TicketInput {
        let mut input = TicketInput {
            subject: optional_text(object, "subject", problems).flatten(),
            description: optional_text(object, "description", problems).flatten(),
            ..Default::default()
        };
        input.comment = match object.get("comment") {
            None | Some(Value::Null) => None,
            Some(Value::String(body)) => Some(CommentInput { body: body.clone(), public: true, author_id: None }),
            Some(Value::Object(comment)) => {
                let body = comment
                    .get("body")
                    .or_else(|| comment.get("html_body"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                if body.is_empty() {
                    problems.blank("comment");
                }
                let public = match comment.get("public") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        problems.invalid("comment", "`public` must be true or false");
                        true
                    }
                };
                let author_id = optional_id(comment, "author_id", problems).flatten();
                Some(CommentInput { body, public, author_id })
            }
            Some(_) => {
                problems.invalid("comment", "must be an object with a body");
                None
            }
        };
        input.voice_comment = match object.get("voice_comment") {
            None | Some(Value::Null) => None,
            Some(Value::Object(voice)) => Some(VoiceCommentInput::read(voice, problems)),
            Some(_) => {
                problems.invalid("voice_comment", "must be an object");
                None
            }
        };
        input.status = enum_value(object, "status", TicketStatus::parse, problems).flatten();
        input.priority = enum_value(object, "priority", Priority::parse, problems);
        input.ticket_type = enum_value(object, "type", TicketType::parse, problems);
        input.requester_id = optional_id(object, "requester_id", problems).flatten();
        input.requester = match object.get("requester") {
            Some(Value::Object(r)) => {
                let email = optional_text(r, "email", problems).flatten();
                let email = match email.map(|e| Email::parse(&e)) {
                    Some(Ok(email)) => Some(email),
                    Some(Err(e)) => {
                        problems.invalid("requester", e.message);
                        None
                    }
                    None => None,
                };
                let phone = optional_text(r, "phone", problems).flatten();
                let name = optional_text(r, "name", problems).flatten();
                if email.is_none() && phone.is_none() && name.is_none() {
                    problems.invalid("requester", "needs a name, an email or a phone");
                }
                Some(RequesterInput { name, email, phone })
            }
            None | Some(Value::Null) => None,
            Some(_) => {
                problems.invalid("requester", "must be an object");
                None
            }
        };
        input.submitter_id = optional_id(object, "submitter_id", problems).flatten();
        input.assignee_id = optional_id(object, "assignee_id", problems);
        input.group_id = optional_id(object, "group_id", problems);
        input.organization_id = optional_id(object, "organization_id", problems);
        input.tags = tags(object, "tags", problems);
        input.additional_tags = tags(object, "additional_tags", problems).unwrap_or_default();
        input.remove_tags = tags(object, "remove_tags", problems).unwrap_or_default();
        input.external_id = optional_text(object, "external_id", problems);
        input.custom_fields = custom_field_values(object, fields, problems);
        input
    }

    /// Every id the body names must exist, with the right role.
    pub(crate) async fn check(&self, state: &AppState, problems: &mut Problems) -> Result<(), ZendeskError> {
        let store = &state.store;
        let user_role = async |id: Id| -> Result<Option<Role>, ZendeskError> {
            match store.get_user(id).await {
                Ok(user) => Ok(Some(user.role)),
                Err(ctihub_store::StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            }
        };
        if let Some(id) = self.requester_id
            && user_role(id).await?.is_none()
        {
            problems.invalid("requester_id", format!("user {id} does not exist"));
        }
        if let Some(id) = self.submitter_id
            && user_role(id).await?.is_none()
        {
            problems.invalid("submitter_id", format!("user {id} does not exist"));
        }
        if let Some(Some(id)) = self.assignee_id
            && !user_role(id).await?.is_some_and(|r| r.is_staff())
        {
            problems.invalid("assignee_id", format!("{id} is not an agent"));
        }
        if let Some(Some(id)) = self.group_id
            && store.get_group(id).await.is_err()
        {
            problems.invalid("group_id", format!("group {id} does not exist"));
        }
        if let Some(Some(id)) = self.organization_id
            && store.get_organization(id).await.is_err()
        {
            problems.invalid("organization_id", format!("organization {id} does not exist"));
        }
        if let Some(comment) = &self.comment
            && let Some(id) = comment.author_id
            && user_role(id).await?.is_none()
        {
            problems.invalid("comment", format!("author {id} does not exist"));
        }
        if let Some(voice) = &self.voice_comment
            && let Some(id) = voice.answered_by_id
            && !user_role(id).await?.is_some_and(|r| r.is_staff())
        {
            problems.invalid("voice_comment", format!("answered_by_id {id} is not an agent"));
        }
        Ok(())
    }
}

/// `custom_fields: [{id, value}]` (or a `{id: value}` map) as values by field key.
fn custom_field_values(
    object: &Map<String, Value>,
    fields: &[CustomField],
    problems: &mut Problems,
) -> BTreeMap<String, Value> {
    let pairs: Vec<(Value, Value)> = match object.get("custom_fields").or_else(|| object.get("fields")) {
        None | Some(Value::Null) => return BTreeMap::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                (item.get("id").cloned().unwrap_or(Value::Null), item.get("value").cloned().unwrap_or(Value::Null))
            })
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (Value::from(k.clone()), v.clone())).collect(),
        Some(_) => {
            problems.invalid("custom_fields", "must be a list of {id, value}");
            return BTreeMap::new();
        }
    };
    let mut values = BTreeMap::new();
    for (id, value) in pairs {
        let id_number = id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
        match id_number.and_then(|n| fields.iter().find(|f| f.id == n)) {
            Some(field) => match field.to_stored(&value) {
                Ok(_) => {
                    values.insert(field.key.clone(), value);
                }
                Err(e) => problems.invalid("custom_fields", format!("field {}: {}", field.id, e.message)),
            },
            None => problems.invalid("custom_fields", format!("{id} is not the id of a ticket field")),
        }
    }
    values
}
