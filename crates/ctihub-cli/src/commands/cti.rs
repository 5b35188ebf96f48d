//! `ctihub cti …`: the CTI integration's settings from the command line. They are stored in the
//! database, which every server node reads on each request, so a change holds at once.

use std::process::ExitCode;

use anyhow::{Context, bail};
use ctihub_domain::cti::{BlockedCaller, CtiConfig, NotifyRule, Route};
use ctihub_store::Store;
use ctihub_web::audit::{self, Actor, action};
use ctihub_web::cti::config::new_token;
use ctihub_web::cti::{load_config, push_path, save_config};

use super::open_store;
use crate::cli::{CtiBlockCommand, CtiCommand, CtiNotifyCommand, CtiRouteCommand, CtiTokenCommand, Switch};
use crate::config::Settings;

pub async fn run(settings: &Settings, command: CtiCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let mut config = load_config(&store).await.context("cannot read the CTI configuration")?;
    // What to print on stdout once the change is saved (paths go alone, so scripts can use them).
    let rotates = matches!(command, CtiCommand::Token(CtiTokenCommand::Rotate));
    let output = apply(&store, &mut config, command).await?;
    if let Some(Change::Saved) | Some(Change::SavedAndPrint(_)) = &output {
        save_config(&store, &config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let action = if rotates { action::CTI_TOKEN_ROTATED } else { action::CTI_CONFIG_CHANGED };
        audit::record(&store, Actor::Cli, action, None, None, None).await;
    }
    match output {
        Some(Change::SavedAndPrint(text)) | Some(Change::Print(text)) => println!("{text}"),
        _ => {}
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

enum Change {
    Saved,
    SavedAndPrint(String),
    Print(String),
}

async fn apply(store: &Store, config: &mut CtiConfig, command: CtiCommand) -> anyhow::Result<Option<Change>> {
    let change = match command {
        CtiCommand::Enable => {
            config.enabled = true;
            let token = config.token.get_or_insert_with(new_token);
            Change::SavedAndPrint(push_path(token))
        }
        CtiCommand::Disable => {
            config.enabled = false;
            Change::Saved
        }
        CtiCommand::Token(CtiTokenCommand::Rotate) => {
            let token = new_token();
            let path = push_path(&token);
            config.token = Some(token);
            Change::SavedAndPrint(path)
        }
        CtiCommand::Block(CtiBlockCommand::Add { number, note }) => {
            let number = number.trim().to_owned();
            if number.is_empty() {
                bail!("a number to block is required");
            }
            let blocks = &mut config.inbound.block_caller_ids;
            match blocks.iter_mut().find(|b| b.caller_id == number) {
                Some(existing) => existing.note = note,
                None => blocks.push(BlockedCaller { caller_id: number, note }),
            }
            Change::Saved
        }
        CtiCommand::Block(CtiBlockCommand::Remove { number }) => {
            let blocks = &mut config.inbound.block_caller_ids;
            let before = blocks.len();
            blocks.retain(|b| b.caller_id != number.trim());
            if blocks.len() == before {
                bail!("{} is not on the block list", number.trim());
            }
            Change::Saved
        }
        CtiCommand::Route(CtiRouteCommand::Add { pattern, caller_id, note }) => {
            let pattern = pattern.trim().to_owned();
            if config.outbound.routing_table.iter().any(|r| r.dest == pattern) {
                bail!("a route for {pattern} exists already; remove it first to change it");
            }
            config.outbound.routing_table.push(Route { dest: pattern, caller_id: caller_id.trim().to_owned(), note });
            Change::Saved
        }
        CtiCommand::Route(CtiRouteCommand::Remove { pattern }) => {
            let routes = &mut config.outbound.routing_table;
            let before = routes.len();
            routes.retain(|r| r.dest != pattern.trim());
            if routes.len() == before {
                bail!("there is no route for {}", pattern.trim());
            }
            Change::Saved
        }
        CtiCommand::CallerId { number } => {
            config.outbound.default_caller_id = number.trim().to_owned();
            Change::Saved
        }
        CtiCommand::Notify(CtiNotifyCommand::Add { queue, agents }) => {
            let mut ids = Vec::new();
            for email in &agents {
                let user = store
                    .find_user_by_email(email)
                    .await?
                    .with_context(|| format!("no user has the email address {}", email.trim()))?;
                if !user.role.is_staff() {
                    bail!("{} is not an agent", email.trim());
                }
                ids.push(user.id);
            }
            let queue = queue.trim().to_owned();
            match config.notify_map.iter_mut().find(|r| r.queue == queue) {
                Some(rule) => {
                    for id in ids {
                        if !rule.user_ids.contains(&id) {
                            rule.user_ids.push(id);
                        }
                    }
                }
                None => config.notify_map.push(NotifyRule { queue, user_ids: ids }),
            }
            Change::Saved
        }
        CtiCommand::Notify(CtiNotifyCommand::Remove { queue }) => {
            let before = config.notify_map.len();
            config.notify_map.retain(|r| r.queue != queue.trim());
            if config.notify_map.len() == before {
                bail!("{} is not in the notify map", queue.trim());
            }
            Change::Saved
        }
        CtiCommand::Freshdesk { new_ticket } => {
            // A document of its own, which the Freshdesk pop reads on every request.
            let mut freshdesk = ctihub_web::freshdesk::load_config(store).await?;
            freshdesk.new_ticket = new_ticket == Switch::On;
            ctihub_web::freshdesk::save_config(store, &freshdesk).await?;
            let detail = Some(format!("new_ticket={}", freshdesk.new_ticket));
            audit::record(store, Actor::Cli, action::FRESHDESK_CTI_CHANGED, None, None, detail).await;
            return Ok(None);
        }
        CtiCommand::Show => {
            let mut shown = serde_json::to_value(&*config)?;
            shown["freshdesk"] = serde_json::to_value(ctihub_web::freshdesk::load_config(store).await?)?;
            shown["push_path"] = serde_json::json!(config.token.as_deref().map(push_path));
            shown["default_region"] = serde_json::json!(store.phones().region().code());
            Change::Print(serde_json::to_string_pretty(&shown)?)
        }
    };
    Ok(Some(change))
}
