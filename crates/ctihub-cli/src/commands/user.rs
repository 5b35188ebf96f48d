use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use ctihub_domain::Id;
use ctihub_domain::organization::NewOrganization;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{Email, NewUser};
use ctihub_store::{Store, StoreError};
use ctihub_web::auth::secrets::hash_password;

use super::open_store;
use crate::cli::UserCreateArgs;
use crate::config::Settings;

/// The web API's rule, so an account made here could also have been made there.
const MIN_PASSWORD_CHARS: usize = 8;

/// Prints the new user's id and nothing else, so `ID=$(ctihub user create ...)` works.
pub async fn create(settings: &Settings, args: UserCreateArgs) -> anyhow::Result<ExitCode> {
    // Check everything the user typed before touching the database or spending time on argon2.
    let email = args.email.as_deref().filter(|e| !e.trim().is_empty()).map(Email::parse).transpose()?;
    let password_hash = match args.password {
        Some(password) if password.chars().count() < MIN_PASSWORD_CHARS => {
            bail!("password: must be at least {MIN_PASSWORD_CHARS} characters")
        }
        Some(password) => Some(
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .context("password hashing panicked")??,
        ),
        None => None,
    };
    let store = open_store(settings).await?;

    let mut new = NewUser::new(args.role.into(), args.name);
    new.email = email;
    new.password_hash = password_hash;
    new.phones = (args.phones.into_iter().map(|p| (PhoneKind::Phone, p)))
        .chain(args.mobiles.into_iter().map(|m| (PhoneKind::Mobile, m)))
        .collect();
    new.agent_id = args.agent_id.filter(|a| !a.trim().is_empty());
    new.extension = args.extension.filter(|e| !e.trim().is_empty());
    if let Some(name) = args.organization.as_deref().filter(|n| !n.trim().is_empty()) {
        new.organization_id = Some(organization_id(&store, name).await?);
    }
    // Store errors already read "field: problem", the form this command promises on stderr.
    let user = store.create_user(new).await.map_err(|e| anyhow!(e))?;
    if user.role.is_staff() {
        let (target, detail) = (Some(format!("user:{}", user.id)), Some(format!("role={}", user.role.as_str())));
        ctihub_web::audit::record(
            &store,
            ctihub_web::audit::Actor::Cli,
            ctihub_web::audit::action::USER_CREATED,
            target,
            None,
            detail,
        )
        .await;
    }
    store.close().await;
    println!("{}", user.id);
    Ok(ExitCode::SUCCESS)
}

/// The organization with this name (case-insensitive), created when there is none.
pub async fn organization_id(store: &Store, name: &str) -> anyhow::Result<Id> {
    if let Some(org) = store.find_organization_by_name(name).await? {
        return Ok(org.id);
    }
    match store.create_organization(NewOrganization { name: name.trim().to_owned(), ..Default::default() }).await {
        Ok(org) => Ok(org.id),
        // Someone else (a server request, another import) created it since we looked.
        Err(StoreError::Conflict { .. }) => match store.find_organization_by_name(name).await? {
            Some(org) => Ok(org.id),
            None => bail!("organization {name:?} could be neither found nor created"),
        },
        Err(e) => Err(e.into()),
    }
}
