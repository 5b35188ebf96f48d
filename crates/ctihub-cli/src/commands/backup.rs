//! `ctihub backup FILE` and `ctihub restore FILE` for the SQLite database (docs/operations.md).
//!
//! A backup is taken from the live database (SQLite's `VACUUM INTO`, consistent under concurrent
//! writes), so the server keeps running. A restore replaces the database file and so needs the
//! server stopped: a running server would keep writing to the file it has open.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use ctihub_domain::phone::PhoneNormalizer;
use ctihub_domain::time::now_millis;
use ctihub_store::{ConnectOptions, DatabaseLocation, Store};

use crate::config::Settings;

const PG_HINT: &str = "ctihub backup and restore work on the SQLite file; for PostgreSQL use pg_dump and \
                       pg_restore (see docs/operations.md)";

fn sqlite_file(settings: &Settings) -> anyhow::Result<&Path> {
    match &settings.database {
        DatabaseLocation::SqliteFile(path) => Ok(path),
        DatabaseLocation::Postgres(_) => bail!("{PG_HINT}"),
        DatabaseLocation::SqliteMemory => bail!("an in-memory database has nothing to back up or restore"),
    }
}

async fn open(path: &Path, settings: &Settings) -> anyhow::Result<Store> {
    let location = DatabaseLocation::SqliteFile(path.to_owned());
    Store::connect(&location, &ConnectOptions::default(), PhoneNormalizer::new(settings.default_region))
        .await
        .with_context(|| format!("cannot open {}", path.display()))
}

pub async fn backup(settings: &Settings, file: &Path) -> anyhow::Result<ExitCode> {
    let database = sqlite_file(settings)?;
    if !database.exists() {
        bail!("there is no database at {} to back up", database.display());
    }
    if file.exists() {
        bail!("{} already exists; a backup never overwrites a file", file.display());
    }
    let store = open(database, settings).await?;
    let result = store.backup_into(file).await;
    store.close().await;
    result.with_context(|| format!("cannot back up {} to {}", database.display(), file.display()))?;
    println!("backed up {} to {}", database.display(), file.display());
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(settings: &Settings, file: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let database = sqlite_file(settings)?;
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    if database.exists() && !force {
        bail!(
            "{} exists; stop the server, then run restore with --force to replace it (the current database is kept \
             beside it, renamed)",
            database.display()
        );
    }
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }

    // Work on a copy next to the target, so the final step is a rename within one file system
    // and a bad backup never touches the database in place.
    let staging = with_suffix(database, ".restoring");
    remove_with_sidecars(&staging)?;
    std::fs::copy(file, &staging)
        .with_context(|| format!("cannot copy {} to {}", file.display(), staging.display()))?;
    let checked: anyhow::Result<()> = async {
        let store = open(&staging, settings).await?;
        let verdict = store.verify_sqlite().await;
        // Closing the last connection checkpoints the WAL into the file and removes it.
        store.close().await;
        Ok(verdict?)
    }
    .await;
    if let Err(e) = checked {
        remove_with_sidecars(&staging)?;
        return Err(e.context(format!("{} is not a usable ctihub backup", file.display())));
    }

    let mut kept = None;
    if database.exists() {
        let aside = with_suffix(database, &format!(".replaced-{}", now_millis()));
        for sidecar in ["", "-wal", "-shm"] {
            let from = with_suffix(database, sidecar);
            if from.exists() {
                let to = with_suffix(&aside, sidecar);
                std::fs::rename(&from, &to)
                    .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
            }
        }
        kept = Some(aside);
    }
    std::fs::rename(&staging, database)
        .with_context(|| format!("cannot move {} to {}", staging.display(), database.display()))?;
    println!("restored {} into {}", file.display(), database.display());
    if let Some(aside) = kept {
        println!("the previous database is kept as {}", aside.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A database file with its `-wal` and `-shm` companions: a stale WAL beside a new file would
/// be replayed into it.
fn remove_with_sidecars(path: &Path) -> anyhow::Result<()> {
    for sidecar in ["", "-wal", "-shm"] {
        let file = with_suffix(path, sidecar);
        if file.exists() {
            std::fs::remove_file(&file).with_context(|| format!("cannot remove {}", file.display()))?;
        }
    }
    Ok(())
}
