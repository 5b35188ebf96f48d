//! The configuration as every PBX event reads it.
//!
//! It is parsed once per change and shared (`Store::get_setting_shared`); what each event looks
//! up in it is prepared then too. Every ringing call asks the notify map for the agents of its
//! queue and of its called number, and a scan of every rule, trimming each queue name, was a
//! tenth of the writer's work per event with a thousand agents in a hundred queues.

use std::collections::HashMap;
use std::ops::Deref;

use serde::{Deserialize, Deserializer};

use super::CtiConfig;
use crate::Id;

/// A [`CtiConfig`] with its notify map indexed by queue. Reads as the config it holds.
#[derive(Debug, Default)]
pub struct SharedCtiConfig {
    config: CtiConfig,
    /// Queue (trimmed) → its agents, each once, in the order the rules name them.
    agents_by_queue: HashMap<String, Vec<Id>>,
}

impl SharedCtiConfig {
    /// Agents mapped to a queue or called number. Empty when the map has no row for it.
    pub fn agents_for_queue(&self, queue: &str) -> Vec<Id> {
        self.agents_by_queue.get(queue.trim()).cloned().unwrap_or_default()
    }
}

impl From<CtiConfig> for SharedCtiConfig {
    fn from(config: CtiConfig) -> Self {
        let mut agents_by_queue: HashMap<String, Vec<Id>> = HashMap::new();
        for rule in &config.notify_map {
            let agents = agents_by_queue.entry(rule.queue.trim().to_owned()).or_default();
            for id in &rule.user_ids {
                if !agents.contains(id) {
                    agents.push(*id);
                }
            }
        }
        SharedCtiConfig { config, agents_by_queue }
    }
}

impl Deref for SharedCtiConfig {
    type Target = CtiConfig;

    fn deref(&self) -> &CtiConfig {
        &self.config
    }
}

impl<'de> Deserialize<'de> for SharedCtiConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CtiConfig::deserialize(deserializer).map(SharedCtiConfig::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cti::NotifyRule;

    #[test]
    fn agents_are_found_by_queue_each_once_in_rule_order() {
        let config = SharedCtiConfig::from(CtiConfig {
            notify_map: vec![
                NotifyRule { queue: "4930600000000".into(), user_ids: vec![1, 2, 1] },
                NotifyRule { queue: " support ".into(), user_ids: vec![3, 2] },
                NotifyRule { queue: "support".into(), user_ids: vec![2, 4] },
            ],
            ..Default::default()
        });
        assert_eq!(config.agents_for_queue("4930600000000"), vec![1, 2]);
        assert_eq!(config.agents_for_queue("support "), vec![3, 2, 4], "rules of one queue name, trimmed, merged");
        assert_eq!(config.agents_for_queue("sales"), Vec::<Id>::new());
        assert_eq!(config.notify_map.len(), 3, "reads as the config it holds");
    }

    #[test]
    fn it_deserializes_as_the_config_does() {
        let config: SharedCtiConfig =
            serde_json::from_str(r#"{"enabled": true, "notify_map": [{"queue": "q", "user_ids": [7]}]}"#).unwrap();
        assert!(config.enabled);
        assert_eq!(config.agents_for_queue("q"), vec![7]);
    }
}
