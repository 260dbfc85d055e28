//! `vigil project create` and `vigil project list`.

use vigil_protocol::dsn::Dsn;

use crate::cli::Config;
use crate::storage::open_store;

pub async fn create(
    config: &Config,
    slug: &str,
    org: &str,
    platform: Option<&str>,
) -> anyhow::Result<()> {
    validate_slug(slug)?;
    validate_slug(org)?;
    let public_url = super::public_url(config, super::DEFAULT_BIND)?;
    let store = open_store(config).await?;
    let org = store.ensure_organization(org).await?;
    let (project, key) = store.create_project(org.id, slug, platform).await?;
    // The DSN alone on stdout, so that scripts can capture it.
    println!("{}", Dsn::new(&public_url, &key.public_key, project.id));
    Ok(())
}

pub async fn list(config: &Config) -> anyhow::Result<()> {
    let public_url = super::public_url(config, super::DEFAULT_BIND)?;
    let store = open_store(config).await?;
    for org in store.list_organizations().await? {
        for project in store.list_projects(Some(org.id)).await? {
            let keys = store.list_keys(project.id).await?;
            let dsn = keys
                .iter()
                .find(|k| k.is_active)
                .map(|k| Dsn::new(&public_url, &k.public_key, project.id).to_string())
                .unwrap_or_else(|| "(no active key)".into());
            println!(
                "{}\t{}/{}\t{}\t{}",
                project.id,
                org.slug,
                project.slug,
                project.platform.as_deref().unwrap_or("-"),
                dsn
            );
        }
    }
    Ok(())
}

/// Sentry's slugs: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
fn validate_slug(slug: &str) -> anyhow::Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 50
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        anyhow::bail!("invalid slug {slug:?}: use lowercase letters, digits, '-' and '_'");
    }
    Ok(())
}
