use std::process::ExitCode;

use super::open_store;
use crate::config::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    store.close().await;
    println!("migrated {}", settings.database.describe());
    Ok(ExitCode::SUCCESS)
}
