//! `user_fields` and `ticket_fields`: the custom fields integrations set up when installed (an
//! agent id on agents; call metrics, wrap-up codes and IVR choices on tickets). Creating one
//! takes an admin, as in Zendesk.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use ctihub_domain::custom_field::{FieldOption, FieldTarget, FieldType, NewCustomField};
use ctihub_domain::user::{Role, User};
use serde_json::{Map, Value, json};

use super::error::{Problems, ZendeskError};
use super::{ZendeskAgent, base_url, envelope, json_object, json_response, path_id, render};
use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::client::ClientAddr;

fn names(target: FieldTarget) -> (&'static str, &'static str) {
    match target {
        FieldTarget::User => ("user_field", "user_fields"),
        FieldTarget::Ticket => ("ticket_field", "ticket_fields"),
    }
}

/// Zendesk's field types as ctihub keeps them. `textarea` and `regexp` hold text; `tagger` is
/// Zendesk's name for a drop-down on tickets.
fn field_type(name: &str) -> Option<FieldType> {
    match name.trim().to_ascii_lowercase().as_str() {
        "text" | "textarea" | "regexp" => Some(FieldType::Text),
        "integer" => Some(FieldType::Integer),
        "decimal" => Some(FieldType::Decimal),
        "checkbox" => Some(FieldType::Checkbox),
        "date" => Some(FieldType::Date),
        "dropdown" | "tagger" => Some(FieldType::Dropdown),
        _ => None,
    }
}

/// A key from a title, for ticket fields (Zendesk names them by id only): `Talk time` →
/// `talk_time`.
fn key_from_title(title: &str) -> String {
    let mut key = String::new();
    for c in title.trim().chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    let key = key.trim_end_matches('_').to_owned();
    match key.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => key,
        _ => format!("field_{key}").trim_end_matches('_').to_owned(),
    }
}

fn read(object: &Map<String, Value>, target: FieldTarget, problems: &mut Problems) -> NewCustomField {
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let title = text("title");
    if title.is_empty() {
        problems.add("title", "BlankValue", "cannot be blank");
    }
    let kind_name = text("type");
    let field_type = match field_type(&kind_name) {
        Some(kind) => kind,
        None => {
            problems.invalid(
                "type",
                format!("`{kind_name}` is not one of text, textarea, regexp, integer, decimal, checkbox, date, dropdown, tagger"),
            );
            FieldType::Text
        }
    };
    let key = match (target, text("key")) {
        (FieldTarget::User, key) if key.is_empty() => {
            problems.add("key", "BlankValue", "cannot be blank");
            key
        }
        (FieldTarget::Ticket, key) if key.is_empty() => key_from_title(&title),
        (_, key) => key,
    };
    let options = match object.get("custom_field_options") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|o| FieldOption {
                name: o.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                value: o.get("value").and_then(Value::as_str).unwrap_or_default().to_owned(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let description = Some(text("description")).filter(|d| !d.is_empty());
    NewCustomField { target, key, title, field_type, description, options }
}

async fn field_list(state: &AppState, target: FieldTarget, headers: &HeaderMap) -> Result<Response, ZendeskError> {
    let (_, plural) = names(target);
    let base = base_url(headers);
    let fields = state.store.list_custom_fields(target).await?;
    let items: Vec<Value> = fields.iter().map(|f| render::custom_field(&base, f)).collect();
    let count = items.len();
    Ok(json_response(StatusCode::OK, &json!({plural: items, "next_page": null, "previous_page": null, "count": count})))
}

async fn field_input(
    state: &AppState,
    acting: &User,
    address: ClientAddr,
    target: FieldTarget,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    if acting.role != Role::Admin {
        return Err(ZendeskError::forbidden());
    }
    let (singular, plural) = names(target);
    let body = json_object(body)?;
    let mut problems = Problems::default();
    let object = envelope(&body, singular, &mut problems);
    let mut new = read(&object, target, &mut problems);
    if let Err(e) = new.validate() {
        problems.invalid(&e.field, e.message);
    }
    problems.into_result()?;
    if target == FieldTarget::Ticket && !object.contains_key("key") {
        new.key = unused_key(state, target, &new.key).await?;
    }
    let field = state.store.create_custom_field(new).await?;
    let target_name = Some(format!("field:{}", field.id));
    audit::record(&state.store, Actor::User(acting), action::CUSTOM_FIELD_CREATED, target_name, Some(address), None)
        .await;
    let base = base_url(headers);
    let mut response = json_response(StatusCode::CREATED, &json!({singular: render::custom_field(&base, &field)}));
    if let Ok(location) = HeaderValue::from_str(&format!("{base}/api/v2/{plural}/{}.json", field.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A generated key made unique among the target's fields (`talk_time`, `talk_time_2`, …).
async fn unused_key(state: &AppState, target: FieldTarget, key: &str) -> Result<String, ZendeskError> {
    let taken: Vec<String> = state.store.list_custom_fields(target).await?.into_iter().map(|f| f.key).collect();
    let mut candidate = key.to_owned();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{key}_{n}");
    }
    Ok(candidate)
}

async fn field_show(
    state: &AppState,
    target: FieldTarget,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, ZendeskError> {
    let field = state.store.get_custom_field(path_id(id)?).await?;
    if field.target != target {
        return Err(ZendeskError::not_found());
    }
    let (singular, _) = names(target);
    Ok(json_response(StatusCode::OK, &json!({singular: render::custom_field(&base_url(headers), &field)})))
}

type Body = Result<Bytes, BytesRejection>;

pub(crate) async fn list_user_fields(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    field_list(&state, FieldTarget::User, &headers).await
}

pub(crate) async fn list_ticket_fields(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    field_list(&state, FieldTarget::Ticket, &headers).await
}

pub(crate) async fn create_user_field(
    State(state): State<AppState>,
    ZendeskAgent(acting): ZendeskAgent,
    address: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    field_input(&state, &acting, address, FieldTarget::User, &headers, body).await
}

pub(crate) async fn create_ticket_field(
    State(state): State<AppState>,
    ZendeskAgent(acting): ZendeskAgent,
    address: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ZendeskError> {
    field_input(&state, &acting, address, FieldTarget::Ticket, &headers, body).await
}

pub(crate) async fn show_user_field(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    field_show(&state, FieldTarget::User, &id, &headers).await
}

pub(crate) async fn show_ticket_field(
    State(state): State<AppState>,
    ZendeskAgent(_): ZendeskAgent,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ZendeskError> {
    field_show(&state, FieldTarget::Ticket, &id, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_field_keys_come_from_titles() {
        assert_eq!(key_from_title("Talk time"), "talk_time");
        assert_eq!(key_from_title("  Wrap-up code (IVR) "), "wrap_up_code_ivr");
        assert_eq!(key_from_title("2nd line"), "field_2nd_line");
        assert_eq!(key_from_title("!!"), "field");
    }

    #[test]
    fn zendesk_types_map_onto_ctihubs() {
        assert_eq!(field_type("tagger"), Some(FieldType::Dropdown));
        assert_eq!(field_type("TextArea"), Some(FieldType::Text));
        assert_eq!(field_type("multiselect"), None);
    }
}
