//! What the console's pop widget does with a Freshdesk call, under the rules the pop API follows
//! (see `cti`): after the call the agent ties it to a new or an existing ticket (the details API
//! then reports the ticket, and the note for an existing one), or forwards it to another agent,
//! whose console pops it over the hub. The notepad travels with the call until it is tied, then
//! becomes a private note on that ticket, whichever way the call gets there.

use ctihub_domain::Id;
use ctihub_domain::call::Call;
use ctihub_domain::user::User;
use serde_json::{Value, json};

use super::FreshdeskError;
use super::cti::{NOTEPAD, NoteParts, SOURCE, Target, associate, screen_pop};
use crate::AppState;
use crate::error::ApiError;
use crate::hub::kinds;

/// The call's `call_reference_id`, when it came through Freshdesk's CTI API.
pub(crate) fn reference(call: &Call) -> Option<&str> {
    call.external_refs.iter().find(|r| r.source == SOURCE).map(|r| r.external_id.as_str())
}

/// The ticket a pop named (`ticket_id`) for a call not tied yet.
pub(crate) fn named_ticket(call: &Call) -> Option<Id> {
    super::cti::linked_ticket(&call.data)
}

/// What the agent ties the call to.
pub(crate) enum Tie {
    New { subject: Option<String> },
    Existing(Id),
}

/// The pop API's errors are Freshdesk-shaped; the console speaks its own dialect, and the only
/// errors tying can meet are the store's.
fn internal(e: FreshdeskError) -> ApiError {
    ApiError::internal(format!("tying a Freshdesk call failed: {e:?}"))
}

fn not_tied(call: &Call) -> Result<(), ApiError> {
    match call.data.ticket_id {
        // Tied by the admin's "New Ticket" option, an offline agent or an earlier action: the
        // article gives the agent no way to tie it again.
        Some(ticket) => Err(ApiError::Conflict {
            message: format!("this call is already linked to ticket #{ticket}"),
            details: Vec::new(),
        }),
        None => Ok(()),
    }
}

pub(crate) async fn tie(
    state: &AppState,
    mut call: Call,
    target: Tie,
    requester: &User,
    agent: &User,
    notepad: &str,
) -> Result<Call, ApiError> {
    not_tied(&call)?;
    if !notepad.trim().is_empty() {
        call.data.details.insert(NOTEPAD.into(), json!(notepad.trim()));
    }
    let target = match target {
        Tie::New { subject } => Target::NewTicket(subject.filter(|s| !s.trim().is_empty())),
        Tie::Existing(id) => {
            state.store.get_ticket(id).await?;
            Target::Existing(id)
        }
    };
    let parts = NoteParts::of_call(&call);
    let call = associate(state, call, target, requester, agent, &parts).await.map_err(internal)?;
    state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": call.id})).await?;
    Ok(call)
}

/// Keep the notepad with the call, so a call ticketed without the agent (a new pop while the
/// widget was open, a recording arriving) still gets the notes.
pub(crate) async fn save_notepad(state: &AppState, call: Call, notepad: &str) -> Result<(), ApiError> {
    not_tied(&call)?;
    let mut data = call.data.clone();
    match notepad.trim() {
        "" => data.details.remove(NOTEPAD),
        text => data.details.insert(NOTEPAD.into(), Value::String(text.to_owned())),
    };
    state.store.update_call(call.id, &data, None).await?;
    Ok(())
}

/// Hand the call to `to`: it becomes their call (their next call tickets it if they leave it
/// open) and their console pops it, showing its ticket if it has one.
pub(crate) async fn forward(state: &AppState, call: Call, to: &User, notepad: &str) -> Result<Call, ApiError> {
    if !(to.active && to.role.is_staff()) {
        return Err(ApiError::invalid("forward_to", "is not an active agent"));
    }
    let Some(reference) = reference(&call).map(str::to_owned) else {
        return Err(ApiError::invalid("call", "is not a Freshdesk call"));
    };
    let mut data = call.data.clone();
    data.agent_id = Some(to.id);
    data.to_name = Some(to.name.clone());
    if call.data.ticket_id.is_none() && !notepad.trim().is_empty() {
        data.details.insert(NOTEPAD.into(), json!(notepad.trim()));
    }
    let call = state.store.update_call(call.id, &data, None).await?;
    let requester = call.data.end_user_id.unwrap_or_default();
    screen_pop(state, &call, requester, to.id, &reference, None).await.map_err(internal)?;
    state.hub.publish(kinds::JOURNAL_CHANGED, None, json!({"call_id": call.id})).await?;
    Ok(call)
}
