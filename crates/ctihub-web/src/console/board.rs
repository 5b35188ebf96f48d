//! The live board: calls ringing and being talked on, who is on which call, and every agent's
//! presence. The script swaps in a fresh fragment on `journal_changed` and `presence_changed`.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use ctihub_domain::Id;
use ctihub_domain::call::CallState;
use ctihub_domain::time::{Millis, now_millis};
use ctihub_store::Presence;

use super::pages::{Row, row};
use super::session::{Agent, Refusal};
use super::{Layout, staff};
use crate::AppState;
use crate::cti::shared_config;
use crate::cti::view::{self, visible_to};

/// A call whose hangup never reached us would otherwise ring on the board for good; no real
/// call rings or lasts longer than a shift.
const BOARD_WINDOW_MS: Millis = 12 * 3600 * 1000;
const BOARD_LIMIT: i64 = 200;

pub(crate) struct AgentLine {
    pub id: Id,
    pub name: String,
    pub status: &'static str,
    /// The call this agent is talking on, if any.
    pub call_id: Option<Id>,
    pub call_with: String,
}

pub(crate) struct BoardData {
    pub calls: Vec<Row>,
    pub ringing: usize,
    pub talking: usize,
    pub agents: Vec<AgentLine>,
}

async fn board_data(state: &AppState, agent: &Agent) -> Result<BoardData, Refusal> {
    let mut calls = state.store.live_calls(now_millis() - BOARD_WINDOW_MS, BOARD_LIMIT).await?;
    // Agents see the queues the notify map gives them, as in the journal; admins supervise all.
    if !agent.is_admin() {
        let config = shared_config(&state.store).await?;
        if let Some(queues) = visible_to(&config, &state.store, &agent.user).queues {
            calls.retain(|c| c.data.queue_name.as_ref().is_some_and(|q| queues.contains(q)));
        }
    }
    let talking_on: HashMap<Id, Id> = calls
        .iter()
        .filter(|c| c.data.state == CallState::InProgress)
        .filter_map(|c| c.data.agent_id.map(|a| (a, c.id)))
        .collect();
    let ringing = calls.iter().filter(|c| c.data.state == CallState::Ringing).count();
    let talking = calls.len() - ringing;
    let entries = view::identify(&state.store, calls).await?;
    let staff = staff(state).await?;
    let names: HashMap<Id, String> = staff.iter().cloned().collect();
    let rows: Vec<Row> = entries.iter().map(|e| row(e, &names)).collect();
    let presence: HashMap<Id, Presence> = state.store.list_presence().await?.into_iter().collect();
    let agents = staff
        .into_iter()
        .map(|(id, name)| {
            let call_id = talking_on.get(&id).copied();
            let call_with = call_id
                .and_then(|c| rows.iter().find(|r| r.id == c))
                .map(|r| {
                    let (callers, number) = if r.inbound { (&r.from_callers, &r.from) } else { (&r.to_callers, &r.to) };
                    callers.first().map_or_else(|| number.clone(), |c| c.name.clone())
                })
                .unwrap_or_default();
            let status = presence.get(&id).copied().unwrap_or(Presence::Available).as_str();
            AgentLine { id, name, status, call_id, call_with }
        })
        .collect();
    Ok(BoardData { calls: rows, ringing, talking, agents })
}

#[derive(Template, WebTemplate)]
#[template(path = "console/board.html")]
pub(crate) struct BoardPage {
    layout: Layout,
    board: BoardData,
}

pub(crate) async fn page(State(state): State<AppState>, agent: Agent) -> Result<BoardPage, Refusal> {
    let layout = Layout::new(&state, &agent, "Live board", "board").await?;
    let board = board_data(&state, &agent).await?;
    Ok(BoardPage { layout, board })
}

/// The board alone, for the script's live refresh.
#[derive(Template, WebTemplate)]
#[template(path = "console/board_live.html")]
pub(crate) struct BoardLive {
    board: BoardData,
}

pub(crate) async fn live(State(state): State<AppState>, agent: Agent) -> Result<BoardLive, Refusal> {
    Ok(BoardLive { board: board_data(&state, &agent).await? })
}
