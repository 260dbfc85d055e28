//! `vigil token create`.

use anyhow::Context;

use crate::cli::Config;
use crate::storage::open_store;

pub async fn create(config: &Config, email: &str, scopes: &[String]) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let user = store
        .user_by_email(email)
        .await?
        .with_context(|| format!("no user with e-mail {email}"))?;
    let token = vigil_server::accounts::new_token();
    store
        .create_token(user.id, &vigil_server::accounts::hash_token(&token), scopes)
        .await?;
    // The token alone on stdout; it is shown once and only its hash is kept.
    println!("{token}");
    Ok(())
}
