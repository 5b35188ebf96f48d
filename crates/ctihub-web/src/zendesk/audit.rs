//! The `audit` Zendesk answers beside a created or updated ticket: what changed, field by
//! field, and the comments added. zenpy returns a `TicketAudit` when it is there.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::custom_field::CustomField;
use ctihub_domain::ticket::Ticket;
use serde_json::{Value, json};

use super::error::ZendeskError;
use super::{base_url, json_response, render};
use crate::AppState;

/// What happened to a ticket, as the audit beside it lists.
fn audit(audit_id: Id, author: Id, before: Option<&Value>, after: &Value, comments: &[Value], via: &Value) -> Value {
    const WATCHED: &[&str] = &[
        "subject",
        "status",
        "priority",
        "type",
        "requester_id",
        "assignee_id",
        "group_id",
        "organization_id",
        "tags",
        "external_id",
    ];
    let mut events = Vec::new();
    let mut next_id = audit_id * 10;
    let mut event_id = || {
        next_id += 1;
        next_id
    };
    for name in WATCHED {
        let value = &after[*name];
        match before {
            None if !value.is_null() && value != &json!([]) => {
                events.push(json!({"id": event_id(), "type": "Create", "field_name": name, "value": value}));
            }
            Some(old) if &old[*name] != value => events.push(json!({
                "id": event_id(), "type": "Change", "field_name": name, "value": value, "previous_value": old[*name],
            })),
            _ => {}
        }
    }
    let old_fields = before.map(|b| b["custom_fields"].clone()).unwrap_or(Value::Null);
    for field in after["custom_fields"].as_array().into_iter().flatten() {
        let previous = old_fields.as_array().and_then(|list| list.iter().find(|f| f["id"] == field["id"]));
        let previous_value = previous.map(|f| f["value"].clone()).unwrap_or(Value::Null);
        if field["value"] != previous_value {
            let kind = if before.is_some() { "Change" } else { "Create" };
            events.push(json!({
                "id": event_id(), "type": kind, "field_name": field["id"].to_string(),
                "value": field["value"], "previous_value": previous_value,
            }));
        }
    }
    events.extend(comments.iter().cloned());
    json!({
        "id": audit_id,
        "ticket_id": after["id"],
        "created_at": after["updated_at"],
        "author_id": author,
        "metadata": {"system": {}, "custom": {}},
        "via": via,
        "events": events,
    })
}

/// One write to a ticket, as its audit reports it.
pub(crate) struct Change<'a> {
    pub ticket: &'a Ticket,
    /// The ticket as it was rendered before an update; `None` for a create.
    pub before: Option<&'a Value>,
    pub author: Id,
    pub comments: &'a [Value],
}

/// The ticket and its audit, as create and update answer.
pub(crate) async fn answer_with_audit(
    state: &AppState,
    status: StatusCode,
    headers: &HeaderMap,
    change: Change<'_>,
    fields: &[CustomField],
) -> Result<Response, ZendeskError> {
    let base = base_url(headers);
    let rendered = render::ticket(&base, change.ticket, fields);
    let audit_id = state.store.allocate_id().await?;
    let via = json!({"channel": "api", "source": {"from": {}, "to": {}, "rel": null}});
    let audit = audit(audit_id, change.author, change.before, &rendered, change.comments, &via);
    let mut response = json_response(status, &json!({"ticket": rendered, "audit": audit}));
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("{base}/api/v2/tickets/{}.json", change.ticket.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctihub_domain::time::format_millis;

    #[test]
    fn audits_list_what_changed() {
        let before = json!({"id": 5, "status": "new", "tags": [], "custom_fields": [{"id": 9, "value": null}]});
        let after = json!({"id": 5, "status": "open", "tags": ["vip"], "custom_fields": [{"id": 9, "value": 42}], "updated_at": "t"});
        let a = audit(100, 2, Some(&before), &after, &[json!({"type": "Comment"})], &json!({}));
        let events = a["events"].as_array().unwrap();
        let kinds: Vec<(&str, &str)> =
            events.iter().map(|e| (e["type"].as_str().unwrap(), e["field_name"].as_str().unwrap_or(""))).collect();
        assert_eq!(kinds, vec![("Change", "status"), ("Change", "tags"), ("Change", "9"), ("Comment", "")]);
        assert_eq!(events[0]["previous_value"], "new");
        assert_eq!(a["ticket_id"], 5);
        assert_eq!(format_millis(0), "1970-01-01T00:00:00Z");
    }
}
