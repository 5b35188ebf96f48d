//! The generic event fields Zammad defined and sipgate's webhooks share (sipgate's push API is
//! where Zammad's generic API came from): `event`, `callId`, `from`, `to`, `user[]`, `queue`,
//! `cause`, `answeringNumber`. Errors are plain messages; each dialect renders them in its shape.

use ctihub_domain::call::Direction;
use ctihub_domain::journal::{CallSignal, SignalKind};
use ctihub_domain::time::now_millis;

use super::IncomingEvent;
use super::params::Params;

/// Zammad caps call ids at 250 characters.
const MAX_CALL_ID: usize = 250;

/// The call id, as `callId`, `call_id` or `callid` (bridges vary); `callId` wins.
pub fn call_ref(params: &Params) -> Result<&str, String> {
    let call_ref =
        params.first_of(&["callId", "call_id", "callid"]).ok_or_else(|| "Attribute 'callId' required!".to_owned())?;
    if call_ref.chars().count() > MAX_CALL_ID {
        return Err(format!("Attribute 'callId' is longer than {MAX_CALL_ID} characters!"));
    }
    Ok(call_ref)
}

/// Read a newCall/answer/hangup event. `expected` lists the events the dialect accepts, for the
/// message about an unknown one.
pub fn parse_event(
    params: &Params,
    source: &'static str,
    direction: Direction,
    expected: &str,
) -> Result<IncomingEvent, String> {
    let kind = match params.get("event") {
        Some("newCall") => SignalKind::NewCall,
        Some("answer") => SignalKind::Answer,
        Some("hangup") => SignalKind::Hangup,
        Some(other) => return Err(format!("Unknown event \"{other}\"; expected {expected}")),
        None => return Err(format!("Attribute 'event' required ({expected})!")),
    };
    let call_ref = call_ref(params)?;
    let from = params.get("from").unwrap_or("");
    let to = params.get("to").unwrap_or("");
    if kind == SignalKind::NewCall {
        for (name, value) in [("from", from), ("to", to)] {
            if value.is_empty() {
                return Err(format!("Attribute '{name}' required!"));
            }
        }
    }
    Ok(IncomingEvent {
        source,
        call_ref: call_ref.to_owned(),
        signal: CallSignal {
            kind,
            direction,
            from: from.to_owned(),
            to: to.to_owned(),
            users: params.all("user"),
            queue: params.get("queue").map(str::to_owned),
            cause: params.get("cause").map(str::to_owned),
            at: now_millis(),
        },
        answering_number: params.get("answeringNumber").map(str::to_owned),
        answering_agent: None,
        payload: params.to_json(),
    })
}
