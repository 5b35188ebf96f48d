//! The CTI integration's configuration and the rules it drives: which inbound callers are
//! blocked, which caller id an outbound call presents, which agents hear about a call.
//!
//! The shape follows Zammad's `cti_config` so its admins find what they know; the matching is
//! stricter where Zammad's surprises people (see `docs/decisions/0004-zammad-cti-divergences.md`).

use serde::{Deserialize, Serialize};

use crate::phone::PhoneNormalizer;

mod shared;

use crate::{DomainError, Id};
pub use shared::SharedCtiConfig;

/// Everything an admin configures for the CTI endpoints. Stored as one settings document, so a
/// change from the CLI or the admin API holds on every node at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CtiConfig {
    pub enabled: bool,
    /// The secret in the push URL `/api/v1/cti/<token>`. `None` until first enabled, which is
    /// what Zammad calls "not configured".
    pub token: Option<String>,
    pub inbound: InboundConfig,
    pub outbound: OutboundConfig,
    /// Queue or called number → agents who hear about its calls and see them in their journal.
    /// Empty: everybody sees everything.
    pub notify_map: Vec<NotifyRule>,
    /// Entries in the Zammad-shaped caller log (`GET /api/v1/cti/log`) and the console's first page.
    pub view_limit: i64,
    /// Journal entries older than this are purged.
    pub retention_days: i64,
    /// A caller whose ticket changed within this window gets their profile popped; otherwise a
    /// new-ticket screen (Zammad's `cti_customer_last_activity`).
    pub customer_last_activity_secs: i64,
    pub sipgate: SipgateConfig,
    pub placetel: PlacetelConfig,
}

impl Default for CtiConfig {
    fn default() -> Self {
        CtiConfig {
            enabled: false,
            token: None,
            inbound: InboundConfig::default(),
            outbound: OutboundConfig::default(),
            notify_map: Vec::new(),
            view_limit: 60,
            retention_days: 365,
            customer_last_activity_secs: 30 * 24 * 3600,
            sipgate: SipgateConfig::default(),
            placetel: PlacetelConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InboundConfig {
    pub block_caller_ids: Vec<BlockedCaller>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedCaller {
    pub caller_id: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboundConfig {
    pub routing_table: Vec<Route>,
    /// Presented when no route matches; empty means "leave the caller id alone".
    pub default_caller_id: String,
}

/// `dest` is a destination pattern where `*` stands for one or more characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub dest: String,
    pub caller_id: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyRule {
    pub queue: String,
    pub user_ids: Vec<Id>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SipgateConfig {
    pub enabled: bool,
    pub token: Option<String>,
    /// PEM public key; when set, `X-Sipgate-Signature` must verify.
    pub public_key_pem: Option<String>,
    /// sipgate `userId` (`w0`) → ctihub user id.
    pub user_remote_map: Vec<RemoteUser>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacetelConfig {
    pub enabled: bool,
    pub token: Option<String>,
    /// Shared secret; when set, `X-PLACETEL-SIGNATURE` must verify.
    pub secret: Option<String>,
    /// placetel `peer` (`777…@fpbx.de`) → ctihub user id.
    pub user_device_map: Vec<RemoteUser>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteUser {
    pub remote_id: String,
    pub user_id: Id,
}

impl CtiConfig {
    /// Is an inbound caller on the block list? Compared as Zammad does (the raw string) and
    /// also by normalized number, so `+49 30 …` blocks `030 …`.
    pub fn blocked(&self, from: &str, phones: &PhoneNormalizer) -> Option<&BlockedCaller> {
        if self.inbound.block_caller_ids.is_empty() {
            return None;
        }
        let from = from.trim();
        let key = phones.normalize(from);
        self.inbound.block_caller_ids.iter().find(|b| {
            let candidate = b.caller_id.trim();
            candidate == from || (key.key().is_some() && phones.normalize(candidate).key() == key.key())
        })
    }

    /// The caller id to present for an outbound call to `to`: the first matching route, else the
    /// default caller id, else none.
    pub fn outbound_caller_id(&self, to: &str, phones: &PhoneNormalizer) -> Option<String> {
        let to = to.trim();
        if to.is_empty() {
            return None;
        }
        // A pattern written as `49*` should match `+49…`, `0049…` and `49…` alike.
        let mut candidates = vec![to.to_owned()];
        if let Some(key) = phones.normalize(to).key().filter(|k| k.is_e164()) {
            candidates.push(key.as_str().to_owned());
            candidates.push(key.as_str().trim_start_matches('+').to_owned());
        }
        let routed = self
            .outbound
            .routing_table
            .iter()
            .find(|route| candidates.iter().any(|c| wildcard_match(route.dest.trim(), c)))
            .map(|route| route.caller_id.trim().to_owned());
        routed.or_else(|| {
            let default = self.outbound.default_caller_id.trim();
            (!default.is_empty()).then(|| default.to_owned())
        })
    }

    /// The queues an agent follows through the notify map.
    pub fn queues_of_agent(&self, user_id: Id) -> Vec<String> {
        self.notify_map.iter().filter(|r| r.user_ids.contains(&user_id)).map(|r| r.queue.trim().to_owned()).collect()
    }

    /// Reject settings that would make the integration misbehave, naming the entry.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (i, b) in self.inbound.block_caller_ids.iter().enumerate() {
            if b.caller_id.trim().is_empty() {
                return Err(DomainError::new(format!("inbound.block_caller_ids[{i}].caller_id"), "is required"));
            }
        }
        for (i, r) in self.outbound.routing_table.iter().enumerate() {
            if r.dest.trim().is_empty() {
                return Err(DomainError::new(format!("outbound.routing_table[{i}].dest"), "is required"));
            }
            if r.caller_id.trim().is_empty() {
                return Err(DomainError::new(format!("outbound.routing_table[{i}].caller_id"), "is required"));
            }
        }
        let mut queues: Vec<&str> = Vec::new();
        for (i, rule) in self.notify_map.iter().enumerate() {
            let queue = rule.queue.trim();
            if queue.is_empty() {
                return Err(DomainError::new(format!("notify_map[{i}].queue"), "a queue is required"));
            }
            if rule.user_ids.is_empty() {
                return Err(DomainError::new(format!("notify_map[{i}].user_ids"), "a user is required"));
            }
            if queues.contains(&queue) {
                return Err(DomainError::new(format!("notify_map[{i}].queue"), "queue already exists"));
            }
            queues.push(queue);
        }
        if !(1..=10_000).contains(&self.view_limit) {
            return Err(DomainError::new("view_limit", "must be between 1 and 10000"));
        }
        if self.retention_days < 1 {
            return Err(DomainError::new("retention_days", "must be at least 1"));
        }
        Ok(())
    }
}

/// `*` matches one or more characters (as in Zammad, where `41*` needs something after `41`);
/// every other character, `+` included, matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // matches[i][j]: does p[i..] match t[j..]? Filled from the end; O(|p|·|t|), both short.
    let mut matches = vec![vec![false; t.len() + 1]; p.len() + 1];
    matches[p.len()][t.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..=t.len()).rev() {
            matches[i][j] = if p[i] == '*' {
                // One character, then either stop the star or let it take more.
                j < t.len() && (matches[i + 1][j + 1] || matches[i][j + 1])
            } else {
                j < t.len() && p[i] == t[j] && matches[i + 1][j + 1]
            };
        }
    }
    matches[0][0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::Region;

    fn de() -> PhoneNormalizer {
        PhoneNormalizer::new(Region::parse("DE").unwrap())
    }

    #[test]
    fn wildcards_need_at_least_one_character_and_plus_is_literal() {
        assert!(wildcard_match("41*", "4122"));
        assert!(!wildcard_match("41*", "41"));
        assert!(wildcard_match("*", "x"));
        assert!(wildcard_match("3230123456789", "3230123456789"));
        assert!(wildcard_match("+49*", "+4930"));
        assert!(!wildcard_match("+49*", "49930"));
        assert!(wildcard_match("49*1", "49221"));
        assert!(!wildcard_match("49*1", "4922"));
    }

    #[test]
    fn first_matching_route_wins_then_the_default() {
        let mut config = CtiConfig::default();
        config.outbound.routing_table = vec![
            Route { dest: "41*".into(), caller_id: "41715880339000".into(), note: "CH".into() },
            Route { dest: "491714000000".into(), caller_id: "4930600000000".into(), note: String::new() },
            Route { dest: "49*".into(), caller_id: "4930600000001".into(), note: String::new() },
        ];
        let n = de();
        assert_eq!(config.outbound_caller_id("41715880339000", &n).as_deref(), Some("41715880339000"));
        assert_eq!(config.outbound_caller_id("491714000000", &n).as_deref(), Some("4930600000000"));
        assert_eq!(config.outbound_caller_id("0171 4000001", &n).as_deref(), Some("4930600000001"), "national form");
        assert_eq!(config.outbound_caller_id("1234", &n), None);
        config.outbound.default_caller_id = "4930609854180".into();
        assert_eq!(config.outbound_caller_id("1234", &n).as_deref(), Some("4930609854180"));
        assert_eq!(config.outbound_caller_id("", &n), None);
    }

    #[test]
    fn blocks_match_raw_and_normalized() {
        let config = CtiConfig {
            inbound: InboundConfig {
                block_caller_ids: vec![BlockedCaller { caller_id: "491715000000".into(), note: "spam".into() }],
            },
            ..Default::default()
        };
        let n = de();
        assert!(config.blocked("491715000000", &n).is_some());
        assert!(config.blocked("+49 171 5000000", &n).is_some());
        assert!(config.blocked("0171 5000000", &n).is_some());
        assert!(config.blocked("491715000001", &n).is_none());
        assert!(config.blocked("anonymous", &n).is_none());
    }

    #[test]
    fn notify_map_lists_agents_and_queues() {
        let mut config = CtiConfig {
            notify_map: vec![
                NotifyRule { queue: "4930600000000".into(), user_ids: vec![1, 2] },
                NotifyRule { queue: "support".into(), user_ids: vec![2] },
            ],
            ..Default::default()
        };
        assert_eq!(config.queues_of_agent(2), vec!["4930600000000", "support"]);
        assert!(config.validate().is_ok());
        config.notify_map.push(NotifyRule { queue: "support".into(), user_ids: vec![3] });
        assert_eq!(config.validate().unwrap_err().message, "queue already exists");
    }
}
