//! `vigil user create`.

use std::io::Read;

use anyhow::{bail, Context};
use vigil_store::Store;

use crate::cli::Config;
use crate::storage::open_store;

pub async fn create(
    config: &Config,
    email: &str,
    password_stdin: bool,
    admin: bool,
    org: &str,
) -> anyhow::Result<()> {
    if !password_stdin {
        bail!("pass the password on standard input with --password-stdin");
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']);
    let store = open_store(config).await?;
    let user = create_user(store.as_ref(), email, password, admin, org).await?;
    eprintln!("created user {} (id {})", user.email, user.id);
    Ok(())
}

/// Creates the user and makes them a member (owner, for admins) of the organization.
pub async fn create_user(
    store: &dyn Store,
    email: &str,
    password: &str,
    admin: bool,
    org: &str,
) -> anyhow::Result<vigil_store::User> {
    if !email.contains('@') {
        bail!("not an e-mail address: {email}");
    }
    let hash = vigil_server::accounts::hash_password(password)?;
    let user = store.create_user(email, &hash, admin).await?;
    let org = store.ensure_organization(org).await?;
    store
        .add_member(org.id, user.id, if admin { "owner" } else { "member" })
        .await?;
    Ok(user)
}
