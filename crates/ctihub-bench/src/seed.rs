//! What every measurement of a run needs in its database: the customer directory of the data
//! dip benchmark (users with phones, organizations, tickets, routing rules), agents with API
//! tokens for the consoles, and the Zammad push integration switched on with a known token.
//! Seeded once per database and remembered in a setting, so `--data-dir` reuses it.

use std::time::Instant;

use anyhow::bail;
use ctihub_domain::Id;
use ctihub_domain::call::{CallData, CallState, Direction};
use ctihub_domain::cti::NotifyRule;
use ctihub_domain::time::now_millis;
use ctihub_domain::user::{NewUser, Role};
use ctihub_store::Store;
use ctihub_web::auth::secrets;

use crate::dip::{self, Seeded};

const AGENTS_SETTING: &str = "ctihub_bench_agents";
/// The journal page the console shows: the 300 rows.
pub const JOURNAL_ROWS: i64 = 300;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Agent {
    pub id: Id,
    /// Unique; a PBX names the answering agent with it (`user=`).
    pub name: String,
    pub token: String,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Agents {
    pub agents: Vec<Agent>,
    /// The Zammad push URL's token (`/api/v1/cti/TOKEN`).
    pub cti_token: String,
    pub admin_id: Id,
}

/// A seeded database: the directory and the agents.
pub struct World {
    pub directory: Seeded,
    pub agents: Agents,
}

pub async fn ensure(
    store: &Store,
    users: usize,
    tickets: usize,
    agents: usize,
    describe: &str,
) -> anyhow::Result<World> {
    let directory = dip::seeded(store, users, tickets, describe).await?;
    let seeded_agents = match store.get_setting::<Agents>(AGENTS_SETTING).await? {
        Some(a) if a.agents.len() == agents => a,
        Some(a) => bail!("{describe} was seeded with {} agents, not {agents}; use another --data-dir", a.agents.len()),
        None => seed_agents(store, agents).await?,
    };
    // The integration's settings are rewritten each run, so a run always measures them.
    let mut config = ctihub_web::cti::load_config(store).await?;
    config.enabled = true;
    config.token = Some(seeded_agents.cti_token.clone());
    config.view_limit = JOURNAL_ROWS;
    // A thousand agents are not one team: queues of ten, as the ingest's calls name them.
    config.notify_map = seeded_agents
        .agents
        .chunks(AGENTS_PER_QUEUE)
        .enumerate()
        .map(|(q, team)| NotifyRule { queue: queue_name(q), user_ids: team.iter().map(|a| a.id).collect() })
        .collect();
    ctihub_web::cti::save_config(store, &config).await?;
    Ok(World { directory, agents: seeded_agents })
}

async fn seed_agents(store: &Store, count: usize) -> anyhow::Result<Agents> {
    let started = Instant::now();
    let admin = store.create_user(NewUser::new(Role::Admin, "Bench Admin")).await?;
    let mut agents = Vec::with_capacity(count);
    for k in 0..count {
        let name = format!("Bench Agent {k:05}");
        let user = store.create_user(NewUser::new(Role::Agent, name.clone())).await?;
        let token = secrets::generate_token();
        store.create_api_token(user.id, Some("ctihub-bench console"), &secrets::hash_token(&token)).await?;
        agents.push(Agent { id: user.id, name, token });
    }
    // A full journal page even before any ingest (a smoke run ingests only a few calls).
    let now = now_millis();
    for i in 0..JOURNAL_ROWS as usize {
        let from = caller_number(i * 7 % 1_000, i as u64);
        let mut call =
            CallData::new(Direction::Inbound, from, "+18005550100", now - (JOURNAL_ROWS - i as i64) * 60_000);
        call.state = CallState::Ended;
        call.agent_id = agents.get(i % count.max(1)).map(|a: &Agent| a.id);
        // The first queue's: with a notify map, an agent's journal shows their queues' calls.
        call.queue_name = Some(queue_name(0));
        store.create_call(&call, &[], None).await?;
    }
    let seeded = Agents { agents, cti_token: secrets::generate_token(), admin_id: admin.id };
    store.put_setting(AGENTS_SETTING, &seeded).await?;
    println!("seeded {count} agents ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(seeded)
}

/// Agents per queue in the notify map: a ringing call is shown to its queue's ten agents.
pub const AGENTS_PER_QUEUE: usize = 10;

pub fn queue_name(q: usize) -> String {
    format!("queue-{q:03}")
}

/// A console session cookie for the first agent (whose queue has the seeded journal), valid
/// for a day.
pub async fn agent_cookie(store: &Store, agents: &Agents) -> anyhow::Result<String> {
    let token = secrets::generate_token();
    let now = now_millis();
    let agent = agents.agents.first().map_or(agents.admin_id, |a| a.id);
    store.create_console_session(agent, &secrets::hash_token(&token), now, now + 24 * 3_600_000).await?;
    Ok(format!("ctihub_session={token}"))
}

/// Directory user `i`'s number as PBXs and people write it: the seed stores `+1 513 2XX XXXX`,
/// and callers come in as any of these, so every lookup normalizes.
pub fn caller_number(i: usize, variant: u64) -> String {
    let (exchange, line) = (200 + i / 10_000, i % 10_000);
    match variant % 6 {
        0 => format!("+1 513 {exchange:03} {line:04}"),
        1 => format!("(513) {exchange:03}-{line:04}"),
        2 => format!("1513{exchange:03}{line:04}"),
        3 => format!("+1513{exchange:03}{line:04}"),
        4 => format!("513.{exchange:03}.{line:04}"),
        _ => format!("1-513-{exchange:03}-{line:04}"),
    }
}

#[cfg(test)]
mod tests {
    use ctihub_domain::phone::PhoneNormalizer;

    use super::*;

    #[test]
    fn every_format_of_a_number_normalizes_to_the_seeded_one() {
        let phones = PhoneNormalizer::default();
        let key = |n: &str| phones.normalize(n).key().map(|k| k.as_str().to_owned());
        let seeded = key(&dip::phone(123_456));
        assert_eq!(seeded.as_deref(), Some("+15132123456"));
        for variant in 0..6 {
            let number = caller_number(123_456, variant);
            assert_eq!(key(&number), seeded, "{number}");
        }
    }
}
