use std::process::ExitCode;

use anyhow::{Context, bail};
use ctihub_web::audit::{self, Actor, action};
use ctihub_web::auth::secrets::{generate_token, hash_token};

use super::open_store;
use crate::cli::TokenCreateArgs;
use crate::config::Settings;

/// Prints the token and nothing else, so `TOKEN=$(ctihub token create ...)` works.
pub async fn create(settings: &Settings, args: TokenCreateArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let Some(user) = store.find_user_by_email(&args.email).await.context("cannot look up the user")? else {
        bail!("no user has the email address {}", args.email.trim());
    };
    if !user.active {
        bail!("user {} ({}) is deactivated; a token for them would not work", user.id, args.email.trim());
    }
    let token = generate_token();
    let stored = store.create_api_token(user.id, args.label.as_deref(), &hash_token(&token)).await?;
    let (target, detail) = (Some(format!("token:{}", stored.id)), Some(format!("for user:{}", user.id)));
    audit::record(&store, Actor::Cli, action::TOKEN_CREATED, target, None, detail).await;
    store.close().await;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
