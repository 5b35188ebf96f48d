//! The journal as people read it: each call with the users its number identifies, looked up in
//! the caller index when read (so a user created after the call is shown), and the names to
//! show on each side.

use std::collections::HashMap;

use ctihub_domain::call::{Call, Direction};
use ctihub_domain::cti::CtiConfig;
use ctihub_domain::phone::{CallerLevel, PhoneKind};
use ctihub_domain::user::User;
use ctihub_store::{CallerMatch, JournalFilter, Store, StoreResult};

/// A call together with who its numbers belong to.
pub struct JournalEntry {
    pub call: Call,
    pub from_matches: Vec<CallerMatch>,
    pub to_matches: Vec<CallerMatch>,
    pub from: PageNumber,
    pub to: PageNumber,
}

/// One number on a page, normalized and formatted once: a page repeats the same lines (every
/// inbound call shows the company's number), and parsing numbers is most of a page's work.
#[derive(Debug, Clone, PartialEq)]
pub struct PageNumber {
    /// The caller-index key, when the text holds a number.
    pub key: Option<String>,
    /// As people read it: international format when valid, else as sent.
    pub pretty: String,
}

impl JournalEntry {
    /// The customer's side is identified; the agent's side shows the names the PBX sent.
    pub fn from_comment(&self) -> Option<String> {
        match self.call.data.direction {
            Direction::Outbound => self.call.data.from_name.clone(),
            _ => comment_for(&self.from_matches),
        }
    }

    pub fn to_comment(&self) -> Option<String> {
        match self.call.data.direction {
            Direction::Outbound => comment_for(&self.to_matches),
            _ => self.call.data.to_name.clone(),
        }
    }
}

/// Zammad's caller comment: known names joined by `,`, or `maybe ` and the maybe names.
pub fn comment_for(matches: &[CallerMatch]) -> Option<String> {
    let names = |level: CallerLevel| -> Vec<&str> {
        matches.iter().filter(|m| m.level == level).map(|m| display_name(&m.user)).collect()
    };
    let known = names(CallerLevel::Known);
    if !known.is_empty() {
        return Some(known.join(","));
    }
    let maybe = names(CallerLevel::Maybe);
    (!maybe.is_empty()).then(|| format!("maybe {}", maybe.join(",")))
}

/// A user's name, falling back to e-mail and phone so a user known only by a number still shows
/// (Zammad #5117).
pub fn display_name(user: &ctihub_domain::user::User) -> &str {
    if !user.name.trim().is_empty() {
        &user.name
    } else if let Some(email) = &user.email {
        email
    } else {
        user.phones.first().map(|p| p.raw.as_str()).unwrap_or("")
    }
}

/// Identify both sides of every call on a page in one index query, each distinct number
/// parsed once.
pub async fn identify(store: &Store, calls: Vec<Call>) -> StoreResult<Vec<JournalEntry>> {
    let phones = store.phones();
    let mut numbers: HashMap<String, PageNumber> = HashMap::new();
    for raw in calls.iter().flat_map(|c| [&c.data.from_line, &c.data.to_line]) {
        if !numbers.contains_key(raw) {
            let (key, pretty) = phones.key_and_pretty(raw);
            numbers.insert(raw.clone(), PageNumber { key: key.map(|k| k.as_str().to_owned()), pretty });
        }
    }
    let mut keys: Vec<String> = numbers.values().filter_map(|n| n.key.clone()).collect();
    keys.sort();
    keys.dedup();
    let found = store.identify_keys(&keys).await?;
    let number = |raw: &str| numbers.get(raw).cloned().unwrap_or(PageNumber { key: None, pretty: raw.to_owned() });
    let matches = |n: &PageNumber| n.key.as_ref().and_then(|k| found.get(k).cloned()).unwrap_or_default();
    Ok(calls
        .into_iter()
        .map(|call| {
            let (from, to) = (number(&call.data.from_line), number(&call.data.to_line));
            JournalEntry { from_matches: matches(&from), to_matches: matches(&to), from, to, call }
        })
        .collect())
}

/// What an agent's journal shows: with a notify map, only the queues mapped to them and their
/// own numbers (Zammad's `queues_of_user`); without one, everything.
pub fn visible_to(config: &CtiConfig, store: &Store, user: &User) -> JournalFilter {
    if config.notify_map.is_empty() {
        return JournalFilter::default();
    }
    let mut queues = config.queues_of_agent(user.id);
    for phone in user.phones.iter().filter(|p| matches!(p.kind, PhoneKind::Phone | PhoneKind::Work)) {
        queues.push(phone.raw.clone());
        if let Some(key) = store.phones().normalize(&phone.raw).key() {
            queues.push(key.as_str().to_owned());
            queues.push(key.as_str().trim_start_matches('+').to_owned());
        }
    }
    JournalFilter { queues: Some(queues), ..Default::default() }
}
