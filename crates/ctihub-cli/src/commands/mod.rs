pub mod backup;
pub mod cti;
pub mod healthcheck;
pub mod import;
pub mod migrate;
pub mod serve;
pub mod token;
pub mod user;

use std::process::ExitCode;

use anyhow::Context;
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_store::{ConnectOptions, Store};

use crate::cli::{Command, ImportCommand, TokenCommand, UserCommand};
use crate::config::Settings;

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(_) => serve::run(&settings).await,
        Command::Migrate(_) => migrate::run(&settings).await,
        Command::User(UserCommand::Create(args)) => user::create(&settings, args).await,
        Command::Token(TokenCommand::Create(args)) => token::create(&settings, args).await,
        Command::Import(ImportCommand::Users(args)) => import::users(&settings, &args.file).await,
        Command::Healthcheck(_) => healthcheck::run(&settings.local_url()).await,
        Command::Cti(args) => cti::run(&settings, args.command).await,
        Command::Backup(args) => backup::backup(&settings, &args.file).await,
        Command::Restore(args) => backup::restore(&settings, &args.file, args.force).await,
    }
}

/// Open the configured database with its schema up to date. Every command migrates, so that
/// `ctihub user create` works on a fresh data directory before the server ever ran; migrating
/// is a no-op when the schema is current and safe next to a running server.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let where_ = settings.database.describe();
    let store =
        Store::connect(&settings.database, &ConnectOptions::default(), PhoneNormalizer::new(settings.default_region))
            .await
            .with_context(|| format!("cannot open {where_}"))?;
    store.migrate().await.with_context(|| format!("cannot migrate {where_}"))?;
    Ok(store)
}

/// Quote `word` for a POSIX shell, so a printed command line can be pasted as is.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if safe { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/srv/ctihub-data"), "/srv/ctihub-data");
        assert_eq!(shell_quote("my data"), "'my data'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
