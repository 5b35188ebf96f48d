use std::process::ExitCode;

use anyhow::Context;
use ctihub_store::redact_url;
use ctihub_web::AppState;
use ctihub_web::client::Network;
use tokio::net::TcpListener;

use super::{open_store, shell_quote};
use crate::config::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let durability = store.durability().await.context("cannot read the database's durability settings")?;
    for warning in &durability.warnings {
        tracing::warn!("{warning}");
    }
    // Bound only after migrating, so a server that answers /healthz has its schema.
    let listener =
        TcpListener::bind(&settings.listen).await.with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr().context("cannot read the listening address")?;
    let database = settings.database.describe();
    let network = Network {
        trusted_proxies: settings.trusted_proxies.clone(),
        public_https: settings.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
    };
    let state = AppState::new(store.clone())
        .with_api_rate_limit(settings.api_rate_limit)
        .with_push_rate_limit(settings.push_rate_limit)
        .with_address_rate_limit(settings.address_rate_limit)
        .with_network(network);
    // Known to the other nodes by the time the banner says this one listens.
    state.node.listening_on(addr.to_string(), &store).await;

    // The banner is for the person who started the server (and names the real port when the
    // configured one was 0); logs carry the same facts for collectors.
    println!("ctihub listening on http://{addr} ({database})");
    tracing::info!(%addr, %database, "listening");
    if !store.admin_exists().await.context("cannot check for an admin account")? {
        println!("{}", admin_hint(settings));
    }

    ctihub_web::serve(listener, state, ctihub_web::shutdown_signal()).await.context("the server failed")?;
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The command that creates the first admin against this very database.
fn admin_hint(settings: &Settings) -> String {
    let (database_flag, note) = match &settings.database_url {
        Some(url) => {
            let shown = redact_url(url);
            let note = if shown == *url { "" } else { "\n  (put the database password in place of ***)" };
            (format!("--database-url {}", shell_quote(&shown)), note)
        }
        None => {
            // Absolute, so the line also works when pasted in another directory.
            let dir = std::path::absolute(&settings.data_dir).unwrap_or_else(|_| settings.data_dir.clone());
            (format!("--data-dir {}", shell_quote(&dir.display().to_string())), "")
        }
    };
    format!(
        "no admin account yet; create one with:\n  ctihub user create --role admin --name 'Your Name' \
         --email you@example.com --password 'a long password' {database_flag}{note}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, Sources, load};

    fn settings(flags: Overrides) -> Settings {
        load(&Sources { flags, ..Default::default() }).unwrap().settings
    }

    #[test]
    fn the_admin_hint_names_the_same_database() {
        let hint = admin_hint(&settings(Overrides { data_dir: Some("/srv/cti data".into()), ..Default::default() }));
        assert!(hint.contains("ctihub user create --role admin "), "{hint}");
        assert!(hint.ends_with(" --data-dir '/srv/cti data'"), "{hint}");

        let url = "postgres://ctihub:s3cret@db/ctihub";
        let hint = admin_hint(&settings(Overrides { database_url: Some(url.into()), ..Default::default() }));
        assert!(hint.contains("--database-url 'postgres://ctihub:***@db/ctihub'"), "{hint}");
        assert!(!hint.contains("s3cret"), "{hint}");
    }
}
