//! `vigil key rate-limit`.

use anyhow::{bail, Context};
use vigil_store::KeyRateLimit;

use crate::cli::Config;
use crate::storage::open_store;

/// Sets (`Some((count, window))`) or clears a key's rate limit. A running server reads the new
/// limit with the key on its next request.
pub async fn rate_limit(
    config: &Config,
    public_key: &str,
    limit: Option<(i64, i64)>,
) -> anyhow::Result<()> {
    let limit = match limit {
        Some((count, window)) => {
            if count < 0 || !(1..=30 * 86_400).contains(&window) {
                bail!("--count must be ≥ 0 and --window between 1 and 2592000 seconds");
            }
            Some(KeyRateLimit {
                count,
                window_secs: window,
            })
        }
        None => None,
    };
    let store = open_store(config).await?;
    let key = store
        .key_by_public_key(&public_key.to_ascii_lowercase())
        .await?
        .with_context(|| format!("no DSN key {public_key}"))?;
    store.set_key_rate_limit(key.id, limit).await?;
    match limit {
        Some(l) => eprintln!(
            "key {public_key}: at most {} events per {} s",
            l.count, l.window_secs
        ),
        None => eprintln!("key {public_key}: no rate limit"),
    }
    Ok(())
}
