//! Absolute addresses of Vigil's pages, for readers outside the server: the API's `permalink`
//! and the links in alert emails, webhooks and Slack messages are built here from the public
//! URL, so that they cannot disagree.

use vigil_store::Organization;

use crate::config::ServerConfig;

/// The web page of an issue; the API's `permalink`.
pub fn permalink(config: &ServerConfig, org: &Organization, issue_id: i64) -> String {
    format!(
        "{}/organizations/{}/issues/{}/",
        config.base_url(),
        org.slug,
        issue_id
    )
}
