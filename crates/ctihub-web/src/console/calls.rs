//! The pop widget's actions on a call besides filing it (`tickets::file_call`): forwarding it to
//! another agent, and keeping the notepad with the call while it is not tied to a ticket.
//! Both are Freshdesk's CTI flows ("forward it for further action to another agent"; "the notes
//! taken will be linked as a private note along with the ticket linked to the call").

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use ctihub_domain::Id;
use serde::Deserialize;

use super::done_or_back;
use super::session::{ConsoleForm, Refusal};
use crate::AppState;
use crate::freshdesk::widget;

#[derive(Debug, Deserialize)]
pub(crate) struct ForwardForm {
    #[serde(default)]
    forward_to: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn forward(
    State(state): State<AppState>,
    Path(call_id): Path<Id>,
    ConsoleForm(agent, form): ConsoleForm<ForwardForm>,
) -> Result<Response, Refusal> {
    let to: Id = match form.forward_to.trim() {
        "" => return Err(Refusal::BadForm("pick an agent to forward the call to".into())),
        id => id.parse().map_err(|_| Refusal::BadForm(format!("`{id}` is not an agent id")))?,
    };
    if to == agent.user.id {
        return Err(Refusal::BadForm("the call is yours already; pick another agent".into()));
    }
    let call = state.store.get_call(call_id).await?;
    let to = state.store.get_user(to).await?;
    let call = widget::forward(&state, call, &to, &form.note).await?;
    tracing::info!(call_id = call.id, from = agent.user.id, to = to.id, "call forwarded from the console");
    // The widget is the other agent's now; this agent goes back to where they were.
    Ok(Redirect::to(&match call.data.ticket_id {
        Some(ticket) => format!("/console/tickets/{ticket}"),
        None => "/console/journal".to_owned(),
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct NotepadForm {
    #[serde(default)]
    note: String,
}

pub(crate) async fn save_notepad(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(call_id): Path<Id>,
    ConsoleForm(_agent, form): ConsoleForm<NotepadForm>,
) -> Result<Response, Refusal> {
    let call = state.store.get_call(call_id).await?;
    if widget::reference(&call).is_none() {
        return Err(Refusal::BadForm("only a Freshdesk call keeps its notepad before it is filed".into()));
    }
    widget::save_notepad(&state, call, &form.note).await?;
    Ok(done_or_back(&headers, "/console/journal"))
}
