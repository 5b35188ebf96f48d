//! The pipeline every CTI event goes through, whatever dialect it arrived in (Zammad's
//! `Cti::Driver::Base#process`): block inbound callers, rewrite outbound caller ids, record
//! the event in the journal, then tell the agents concerned.
//!
//! It reads and writes through a [`CallLedger`], so the same pipeline runs on the SQLite
//! writer's batch transaction and straight on a PostgreSQL pool (`super::ingest` chooses).

use ctihub_domain::Id;
use ctihub_domain::call::{Call, CallData, Direction, ExternalRef, NewCallEvent};
use ctihub_domain::cti::{CtiConfig, SharedCtiConfig};
use ctihub_domain::journal::{self, CallSignal, SignalKind, Transition};
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_domain::time::now_millis;
use ctihub_domain::user::User;
use ctihub_store::{CallLedger, StoreError};
use serde_json::json;

use crate::error::ApiError;
use crate::hub::kinds;

/// One call event in dialect-neutral form, with what the dialect knows about the agent.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    /// `zammad`, `sipgate` or `placetel`: call ids are unique per source.
    pub source: &'static str,
    pub call_ref: String,
    pub signal: CallSignal,
    /// The number that answered (`answeringNumber`).
    pub answering_number: Option<String>,
    /// The agent a provider's user map names (sipgate `userId`, placetel `peer`).
    pub answering_agent: Option<Id>,
    /// The event as received, stored verbatim.
    pub payload: serde_json::Value,
}

/// What processing an event did: the PBX's answer, and the kinds of hub events it stored (the
/// hub delivers them once the event is committed).
#[derive(Debug)]
pub struct Processed {
    pub decision: Decision,
    pub published: Vec<&'static str>,
}

/// What the PBX should do with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Continue,
    /// Reject the inbound call as busy.
    Reject,
    /// Present `caller_id` on the outbound call to `number`.
    Dial {
        caller_id: String,
        number: String,
    },
}

pub async fn process(
    ledger: &mut impl CallLedger,
    config: &SharedCtiConfig,
    event: &IncomingEvent,
) -> Result<Processed, ApiError> {
    let phones = *ledger.phones();
    let signal = &event.signal;
    let answer = |decision| Processed { decision, published: Vec::new() };
    if signal.kind == SignalKind::NewCall
        && signal.direction == Direction::Inbound
        && let Some(blocked) = config.blocked(&signal.from, &phones)
    {
        tracing::info!(from = %signal.from, note = %blocked.note, "blocked inbound caller rejected");
        // Recorded like Zammad does (it shows as ringing until the PBX hangs up), but nobody is
        // disturbed by it.
        record(ledger, event).await?;
        return Ok(answer(Decision::Reject));
    }
    if signal.kind == SignalKind::NewCall
        && signal.direction == Direction::Outbound
        && let Some(caller_id) = config.outbound_caller_id(&signal.to, &phones)
    {
        // The journal shows the number the customer sees.
        let mut rewritten = event.clone();
        rewritten.signal.from = caller_id.clone();
        let number = event.signal.to.trim().to_owned();
        record(ledger, &rewritten).await?;
        return Ok(answer(Decision::Dial { caller_id, number }));
    }

    let (call, transition) = record(ledger, event).await?;
    // An event the call already had may be a PBX's retry after the node that stored it died
    // before telling the agents: what is still due is published again, and the once-keys
    // below keep anything from reaching a console twice.
    let repeated = matches!(transition, Recorded::Ignored);
    let mut processed = answer(Decision::Continue);
    if repeated && !still_due(&call, event.signal.kind) {
        return Ok(processed);
    }
    if !repeated {
        let audience = journal_audience(ledger, config, &call).await?;
        if ledger.publish_for_calls(kinds::JOURNAL_CHANGED, audience.as_deref(), call.id).await? {
            processed.published.push(kinds::JOURNAL_CHANGED);
        }
    }
    let inbound = event.signal.direction == Direction::Inbound;
    match event.signal.kind {
        SignalKind::NewCall if inbound => {
            let recipients = incoming_call_recipients(ledger, config, &call).await?;
            if !recipients.is_empty() {
                let payload = incoming_call_payload(ledger.phones(), &call);
                let once = ctihub_store::once_key(call.id, kinds::INCOMING_CALL);
                if ledger.publish_hub_event_once(kinds::INCOMING_CALL, Some(&recipients), &payload, Some(&once)).await?
                {
                    processed.published.push(kinds::INCOMING_CALL);
                }
            }
        }
        SignalKind::Answer if inbound => {
            if let Some(agent) = call.data.agent_id {
                let pop = screen_pop(ledger, config, &call, &event.signal.from).await?;
                let once = ctihub_store::once_key(call.id, kinds::SCREEN_POP);
                if ledger.publish_hub_event_once(kinds::SCREEN_POP, Some(&[agent]), &pop, Some(&once)).await? {
                    processed.published.push(kinds::SCREEN_POP);
                }
            }
        }
        _ => {}
    }
    Ok(processed)
}

/// Whether the agents' side of a repeated `kind` event still matters: a ringing toast while the
/// call rings, a screen pop while it is being talked.
fn still_due(call: &Call, kind: SignalKind) -> bool {
    let data = &call.data;
    match kind {
        SignalKind::NewCall => data.answered_at.is_none() && data.ended_at.is_none(),
        SignalKind::Answer => data.answered_at.is_some() && data.ended_at.is_none(),
        _ => false,
    }
}

enum Recorded {
    Started,
    Updated,
    Ignored,
}

/// Apply the event to its call and store both.
async fn record(ledger: &mut impl CallLedger, event: &IncomingEvent) -> Result<(Call, Recorded), ApiError> {
    let stored_event = NewCallEvent {
        source: event.source.to_owned(),
        kind: event.signal.kind.as_str().to_owned(),
        payload: event.payload.clone(),
        occurred_at: event.signal.at,
    };
    // A concurrent event for the same call id can win the insert race, or move the call on
    // between reading it and writing it back; then this event applies to what that one made.
    // A call is created once and changes state at most twice, so four attempts always suffice.
    for _ in 0..4 {
        let existing = ledger.find_call_by_ref(event.source, &event.call_ref).await?;
        match journal::apply(existing.as_ref().map(|c| &c.data), &event.signal) {
            Transition::Ignore(reason) => {
                let call = existing.expect("only an existing call can be ignored");
                tracing::info!(call_id = call.id, reason, "call event recorded without changing the call");
                ledger.append_call_event(call.id, &stored_event).await?;
                return Ok((call, Recorded::Ignored));
            }
            Transition::Update(mut data) => {
                let call = existing.expect("only an existing call can be updated");
                enrich(ledger, event, &mut data).await?;
                match ledger.update_call_if_state(&call, call.data.state, &data, &stored_event).await? {
                    Some(updated) => return Ok((updated, Recorded::Updated)),
                    None => continue,
                }
            }
            Transition::Start(mut data) => {
                enrich(ledger, event, &mut data).await?;
                let reference = ExternalRef::new(event.source, event.call_ref.clone());
                match ledger.create_call(&data, &[reference], &stored_event).await {
                    Ok(call) => return Ok((call, Recorded::Started)),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(ApiError::internal(format!("call {} kept changing while recording an event", event.call_ref)))
}

/// Fill in who the call is with: the identified customer, and on answer the answering agent.
async fn enrich(ledger: &mut impl CallLedger, event: &IncomingEvent, data: &mut CallData) -> Result<(), ApiError> {
    if data.end_user_id.is_none()
        && let Some(customer) = best_customer(ledger, data.customer_line()).await?
    {
        data.end_user_id = Some(customer.id);
        data.organization_id = customer.organization_id;
    }
    if event.signal.kind == SignalKind::Answer
        && let Some(agent) = answering_agent(ledger, event).await?
    {
        data.agent_id = Some(agent.id);
    }
    if let Some(number) = &event.answering_number {
        data.details.insert("answering_number".into(), json!(number));
    }
    Ok(())
}

/// The caller a screen pop is about: the first known match, else the first maybe-match.
async fn best_customer(ledger: &mut impl CallLedger, number: &str) -> Result<Option<User>, ApiError> {
    let matches = ledger.identify_caller(number).await?;
    Ok(matches.into_iter().next().map(|m| m.user))
}

/// Who answered: the provider's user map, then `answeringNumber` (a known number or extension
/// of an agent), then the `user` name, then a PBX agent id.
async fn answering_agent(ledger: &mut impl CallLedger, event: &IncomingEvent) -> Result<Option<User>, ApiError> {
    if let Some(id) = event.answering_agent {
        return Ok(ledger.find_user(id).await?.filter(|u| u.role.is_staff() && u.active));
    }
    if let Some(number) = event.answering_number.as_deref().filter(|n| !n.trim().is_empty()) {
        let matches = ledger.identify_caller(number).await?;
        if let Some(agent) = matches.into_iter().map(|m| m.user).find(|u| u.role.is_staff()) {
            return Ok(Some(agent));
        }
        if let Some(agent) = ledger.find_agent_by_agent_id(number.trim()).await? {
            return Ok(Some(agent));
        }
    }
    for name in event.signal.users.iter().map(|u| u.trim()).filter(|u| !u.is_empty() && *u != "voicemail") {
        if let Some(agent) = ledger.find_staff_by_name(name).await? {
            return Ok(Some(agent));
        }
        if let Some(agent) = ledger.find_agent_by_agent_id(name).await? {
            return Ok(Some(agent));
        }
    }
    Ok(None)
}

/// Agents told about a ringing call: those the notify map assigns to its queue or called number,
/// plus agents who own the called number; everybody when there is no notify map. Agents in
/// do-not-disturb are left out.
async fn incoming_call_recipients(
    ledger: &mut impl CallLedger,
    config: &SharedCtiConfig,
    call: &Call,
) -> Result<Vec<Id>, ApiError> {
    let mut recipients: Vec<Id> = if config.notify_map.is_empty() {
        ledger.active_staff_ids().await?
    } else {
        let mut ids = config.agents_for_queue(&call.data.to_line);
        if let Some(queue) = &call.data.queue_name {
            ids.extend(config.agents_for_queue(queue));
        }
        let owners = ledger.identify_caller(&call.data.to_line).await?;
        ids.extend(owners.into_iter().filter(|m| m.user.role.is_staff()).map(|m| m.user.id));
        ids
    };
    recipients.sort_unstable();
    recipients.dedup();
    let dnd = ledger.do_not_disturb_ids().await?;
    recipients.retain(|id| !dnd.contains(id));
    Ok(recipients)
}

/// Whose journal and board show `call` (`None`: everybody's, without a notify map). With one,
/// an agent sees the queues mapped to them and calls to their own numbers
/// (`view::visible_to`), and admins supervise every queue. Only they are told it changed: every
/// console re-reads its journal on the notice, and a thousand consoles re-reading at each event
/// of each call is what kept screen pops waiting.
async fn journal_audience(
    ledger: &mut impl CallLedger,
    config: &SharedCtiConfig,
    call: &Call,
) -> Result<Option<Vec<Id>>, ApiError> {
    if config.notify_map.is_empty() {
        return Ok(None);
    }
    let mut audience = ledger.active_admin_ids().await?;
    if let Some(queue) = &call.data.queue_name {
        audience.extend(config.agents_for_queue(queue));
        let owners = ledger.identify_caller(queue).await?;
        audience.extend(owners.into_iter().filter(|m| m.user.role.is_staff()).map(|m| m.user.id));
    }
    audience.sort_unstable();
    audience.dedup();
    Ok(Some(audience))
}

fn incoming_call_payload(phones: &PhoneNormalizer, call: &Call) -> serde_json::Value {
    json!({
        "call_id": call.id,
        "direction": call.data.direction.as_str(),
        "from": call.data.from_line,
        "from_pretty": phones.pretty(&call.data.from_line),
        "to": call.data.to_line,
        "to_pretty": phones.pretty(&call.data.to_line),
        "to_name": call.data.to_name,
        "queue": call.data.queue_name,
        "end_user_id": call.data.end_user_id,
    })
}

/// What to open for the answering agent: the caller's profile when they had a ticket change
/// recently (they are probably calling about it), else a new ticket titled "Call from …".
async fn screen_pop(
    ledger: &mut impl CallLedger,
    config: &CtiConfig,
    call: &Call,
    from: &str,
) -> Result<serde_json::Value, ApiError> {
    let customer = match call.data.end_user_id {
        Some(id) => ledger.find_user(id).await?,
        None => None,
    };
    let since = now_millis() - config.customer_last_activity_secs * 1000;
    let recent = match &customer {
        Some(c) => ledger.has_ticket_updated_since(c.id, since).await?,
        None => false,
    };
    Ok(match customer {
        Some(c) if recent => json!({
            "call_id": call.id,
            "screen": "user_profile",
            "user_id": c.id,
            "url": format!("/console/users/{}", c.id),
        }),
        customer => json!({
            "call_id": call.id,
            "screen": "ticket_create",
            "customer_id": customer.map(|c| c.id),
            "title": format!("Call from {}", from.trim()),
            "url": format!("/console/tickets/new?call_id={}", call.id),
        }),
    })
}
