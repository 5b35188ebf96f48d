//! Custom fields for admins: the user and ticket fields defined so far, and a form to define a
//! new one (its values are then set through the APIs, imports and the PBX's lookups).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::custom_field::{CustomField, FieldOption, FieldTarget, FieldType, NewCustomField};
use ctihub_store::StoreError;
use serde::Deserialize;

use super::Layout;
use super::session::{Admin, AdminForm, Refusal};
use crate::AppState;
use crate::audit::{self, Actor, action};
use crate::client::ClientAddr;

pub(crate) struct FieldLine {
    key: String,
    title: String,
    field_type: &'static str,
    description: String,
    options: String,
    active: bool,
}

fn line(field: &CustomField) -> FieldLine {
    FieldLine {
        key: field.key.clone(),
        title: field.title.clone(),
        field_type: field.field_type.as_str(),
        description: field.description.clone().unwrap_or_default(),
        options: field.options.iter().map(|o| o.value.as_str()).collect::<Vec<_>>().join(", "),
        active: field.active,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin_fields.html")]
pub(crate) struct FieldsPage {
    layout: Layout,
    user_fields: Vec<FieldLine>,
    ticket_fields: Vec<FieldLine>,
    types: Vec<&'static str>,
    form: FieldForm,
    error: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct FieldForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    field_type: String,
    #[serde(default)]
    description: String,
    /// Dropdown choices, one per line: `value` or `name | value`.
    #[serde(default)]
    options: String,
}

impl FieldForm {
    fn read(&self) -> Result<NewCustomField, String> {
        let target = FieldTarget::parse(self.target.trim()).map_err(|_| "Pick users or tickets.".to_owned())?;
        let field_type = FieldType::parse(self.field_type.trim())
            .map_err(|_| format!("`{}` is not a field type", self.field_type))?;
        let options = self
            .options
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once('|') {
                Some((name, value)) => FieldOption { name: name.trim().to_owned(), value: value.trim().to_owned() },
                None => FieldOption { name: l.to_owned(), value: l.to_owned() },
            })
            .collect();
        Ok(NewCustomField {
            target,
            key: self.key.trim().to_owned(),
            title: self.title.trim().to_owned(),
            field_type,
            description: Some(self.description.trim().to_owned()).filter(|d| !d.is_empty()),
            options,
        })
    }
}

async fn page(
    state: &AppState,
    admin: &super::session::Agent,
    form: FieldForm,
    error: String,
) -> Result<FieldsPage, Refusal> {
    let layout = Layout::new(state, admin, "Custom fields", "fields").await?;
    let user_fields = state.store.list_custom_fields(FieldTarget::User).await?.iter().map(line).collect();
    let ticket_fields = state.store.list_custom_fields(FieldTarget::Ticket).await?.iter().map(line).collect();
    let types = FieldType::ALL.iter().map(FieldType::as_str).collect();
    Ok(FieldsPage { layout, user_fields, ticket_fields, types, form, error })
}

pub(crate) async fn list(State(state): State<AppState>, Admin(admin): Admin) -> Result<FieldsPage, Refusal> {
    let form = FieldForm { target: "user".into(), field_type: "text".into(), ..Default::default() };
    page(&state, &admin, form, String::new()).await
}

pub(crate) async fn create(
    State(state): State<AppState>,
    address: ClientAddr,
    AdminForm(agent, form): AdminForm<FieldForm>,
) -> Result<Response, Refusal> {
    let created = match form.read() {
        Ok(new) => match state.store.create_custom_field(new).await {
            Ok(field) => {
                let target = Some(format!("field:{}", field.id));
                audit::record(
                    &state.store,
                    Actor::User(&agent.user),
                    action::CUSTOM_FIELD_CREATED,
                    target,
                    Some(address),
                    None,
                )
                .await;
                Ok(())
            }
            Err(StoreError::Invalid(e)) => Err(format!("{}: {}", e.field, e.message)),
            Err(StoreError::Conflict { field, message }) => Err(format!("{field}: {message}")),
            Err(e) => return Err(e.into()),
        },
        Err(e) => Err(e),
    };
    match created {
        Ok(()) => Ok(Redirect::to("/console/admin/fields").into_response()),
        // What the admin typed stays in the form.
        Err(error) => Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&state, &agent, form, error).await?).into_response()),
    }
}
